"""Saved web pages (.html/.htm): the article only, read with trafilatura.

A government news page is mostly not the article: site header, menus, breadcrumbs, "我要投稿 / 打印本页"
links, share buttons, a 相关文章 list and the footer. trafilatura finds the main text and keeps its
structure (<head rend="h2">, <p>, <list>, <table> in its XML output), from which the headings and
paragraphs are taken. On tests/fixtures/formats/news_gbk.html both trafilatura and readability-lxml
drop all of the page furniture, but readability also drops the <h1> and keeps the site suffix in the
title ("…_要闻动态_临江区人民政府"), and it has no table or list structure; trafilatura gives the
article's own title.

Bytes are decoded as the page says (BOM, then <meta charset> / http-equiv; GB2312 and GBK are read as
their superset GB18030), else as plain text is (UTF-8, then detection).
"""

from __future__ import annotations

import codecs
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..document import DEFAULT_MAX_FILE_BYTES, Document
from ..errors import CorpusError
from ._common import DocumentBuilder, clean_text, read_bytes
from .registry import loader
from .text import decode

if TYPE_CHECKING:
    from configparser import ConfigParser

    from lxml import etree

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_SUPERSETS = {"gb2312": "gb18030", "gbk": "gb18030", "big5": "cp950", "ascii": "utf-8", "iso8859-1": "cp1252"}


@cache
def _config() -> ConfigParser:
    from trafilatura.settings import use_config  # imported on first use: it takes most of a second

    config = use_config()
    # Short notices (a few sentences) are real documents too; trafilatura's defaults expect 250+ characters.
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", "20")
    config.set("DEFAULT", "MIN_OUTPUT_SIZE", "10")
    config.set("DEFAULT", "EXTENSIVE_DATE_SEARCH", "off")  # the date is not used
    return config


def decode_html(data: bytes, source: str) -> tuple[str, str]:
    """``(text, encoding)`` of a page's bytes, honouring a BOM, then the page's own <meta> charset."""
    if not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        m = _META_CHARSET.search(data[:8192])
        if m:
            try:
                name = codecs.lookup(m.group(1).decode("ascii")).name
                # a page that declares UTF-16/32 in ASCII-readable bytes is not UTF-16/32 (as browsers decide)
                name = "utf-8" if name.startswith(("utf-16", "utf-32")) else _SUPERSETS.get(name, name)
                return data.decode(name), name
            except (LookupError, UnicodeDecodeError):
                pass  # a wrong or unknown label: guess instead
    return decode(data, source)


def _text(element: etree._Element) -> str:
    """An element's text with trafilatura's <lb/> line breaks as newlines."""
    parts = []
    for node in element.iter():
        if node.tag == "lb":
            parts.append("\n")
        if node.text and node.tag != "lb":
            parts.append(node.text)
        if node is not element and node.tail:
            parts.append(node.tail)
    return "".join(parts)


def _blocks(main: etree._Element) -> list[tuple[int | None, str]]:
    """``(heading rank or None, text)`` for the article's blocks in order; lists and tables one row each."""
    blocks: list[tuple[int | None, str]] = []
    for el in main:
        if el.tag == "head":
            m = re.match(r"h([1-6])", el.get("rend", ""))
            blocks.append((int(m.group(1)) if m else 2, _text(el)))
        elif el.tag == "list":
            blocks.extend((None, _text(item)) for item in el.iter("item"))
        elif el.tag == "table":
            for row in el.iter("row"):
                cells = [c for c in (clean_text(_text(cell)) for cell in row.iter("cell")) if c]
                if cells:
                    blocks.append((None, " | ".join(cells)))
        else:  # p, quote, code, …
            blocks.extend((None, line) for line in _text(el).split("\n"))
    return [(rank, clean_text(text)) for rank, text in blocks if clean_text(text)]


@loader(".html", ".htm")
def load_html(path: Path, source: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Document:
    """A web page's article: title from the page (<h1>/<title>), headings from <h1>-<h6>, no page furniture."""
    import trafilatura
    from lxml import etree

    page, encoding = decode_html(read_bytes(path, source, max_bytes), source)
    xml = trafilatura.extract(page, output_format="xml", include_tables=True, include_comments=False,
                              include_links=False, include_images=False, with_metadata=True, deduplicate=False,
                              config=_config())
    if not xml:
        raise CorpusError(code="no_article", subject=source)
    root = etree.fromstring(xml.encode("utf-8"))
    main = root.find("main")
    blocks = _blocks(main) if main is not None else []
    title = clean_text(root.get("title") or "")
    out = DocumentBuilder(source)
    has_headings = any(rank is not None and text != title for rank, text in blocks)
    for i, (rank, text) in enumerate(blocks):
        if i == 0 and (text == title or (rank == 1 and not title)):
            out.title_line(text)
        elif rank is not None:
            out.heading(rank, text)
        elif has_headings:
            out.paragraph(text)
        else:
            out.numbered_line(text)  # <p><strong>一、…</strong></p> pages: numbering gives the structure
    return out.build(title=title or None, encoding=encoding)
