"""The page's files kept beside the code (``web/assets/``, package data): its CSS and its script;
and the source view's page (``templates/source_page.html``)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from markupsafe import Markup

from ..rendering import SourceView, file_name, render, source_html

ASSETS = files("pudong_qa.web") / "assets"


@cache
def asset(name: str) -> str:
    """The text of one file in ``web/assets/``."""
    return (ASSETS / name).read_text(encoding="utf-8")


def css_paths() -> list[Path]:
    """The chat page's style sheet, for ``launch(css_paths=…)`` (Gradio scopes it to the page)."""
    return [Path(str(ASSETS / "page.css"))]


def head() -> str:
    """What goes into the page's <head>: the rules Gradio must not scope, and the page's script."""
    return render("head.html", css=Markup(asset("head.css")), script=Markup(asset("page.js")))


def source_page(view: SourceView) -> str:
    """The ``/doc`` page: the whole document with the passage and its answer sentence marked."""
    c = view.citation
    return render("source_page.html", title=c.title or file_name(c.source), css=Markup(asset("source.css")),
                  body=Markup(source_html(view)))
