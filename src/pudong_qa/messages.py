"""Every sentence a person reads about a problem, by code, in English and Chinese.

Errors and refusals travel as a code and its parameters (``errors.Problem``); the sentence is
made only where it is shown: the command line and logs in English, the page in Chinese, the API
in the language the client asks for (``Accept-Language``). The sentences live in
``data/messages.tsv`` (code, English, Chinese), where a translator can read them side by side; a
code used in the package but missing there fails the tests (``tests/test_messages.py``).
"""

from __future__ import annotations

from importlib import resources

LANGUAGES = ("zh", "en")


def _load() -> dict[str, tuple[str, str]]:
    text = resources.files(__package__).joinpath("data/messages.tsv").read_text(encoding="utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {code: (en, zh) for code, en, zh in rows}


MESSAGES: dict[str, tuple[str, str]] = _load()  # code: (English, Chinese)


def say(code: str, params: dict | None = None, lang: str = "en") -> str:
    """The sentence for ``code`` in ``lang`` (``zh`` or ``en``), its fields filled from ``params``;
    a parameter that is itself a problem (``{"code", "params"}``, a page's reason within a file's)
    is said in the same language."""
    en, zh = MESSAGES[code]
    template = zh if lang == "zh" else en
    fields = {k: say(v["code"], v.get("params"), lang) if isinstance(v, dict) and "code" in v else v
              for k, v in (params or {}).items()}
    return template.format(**fields)


def language(accept: str | None) -> str:
    """``zh`` or ``en`` from an ``Accept-Language`` header: Chinese unless English comes first."""
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "zh"
