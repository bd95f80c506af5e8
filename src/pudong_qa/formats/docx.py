"""Word (.docx) reports, read with python-docx.

The body is read in order, paragraphs and tables alike; headers, footers, comments and footnotes are
left out (they repeat on every page and answer no question). Headings come from the paragraph styles
Word and WPS use (Heading 1-9, 标题 1-9, or any style with an outline level); a document written
without heading styles, as many are, falls back to its numbering (一、 （一） 1、) like plain text.
Each table row becomes one paragraph, its cells joined by " | ", under the current heading.
python-docx is imported on first use, so importing the package (and the CLI) stays fast.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..document import DEFAULT_MAX_FILE_BYTES, Document, heading_rank
from ..errors import CorpusError
from ._common import DocumentBuilder, clean_text, looks_like_title, read_bytes
from .registry import loader

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.table import Table
    from docx.text.paragraph import Paragraph as DocxParagraph

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)
_TITLE_STYLES = {"title", "标题"}
_TOC_STYLE = re.compile(r"^(?:toc\s*\d|目录\s*\d)", re.IGNORECASE)  # a table of contents repeats the headings
# Core-property titles that editors fill in by themselves and that say nothing about the report.
_JUNK_TITLE = re.compile(r"^(?:microsoft word\s*-|文档\s*\d*$|document\s*\d*$|untitled)|\.docx?$", re.IGNORECASE)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted .docx and old binary .doc files
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _outline_level(paragraph: DocxParagraph) -> int | None:
    """1-9 when the paragraph or its style chain sets an outline level (Word's heading property)."""
    elements = [paragraph._p]
    style = paragraph.style
    while style is not None:
        elements.append(style.element)
        style = style.base_style
    for element in elements:
        ppr = element.find(f"{_W}pPr")
        level = ppr.find(f"{_W}outlineLvl") if ppr is not None else None
        if level is not None:
            value = int(level.get(f"{_W}val", "9"))
            return value + 1 if value < 9 else None
    return None


def _heading_level(paragraph: DocxParagraph) -> int | None:
    style = paragraph.style
    while style is not None:
        m = _HEADING_STYLE.match(style.name or "")
        if m:
            return int(m.group(1))
        style = style.base_style
    return _outline_level(paragraph)


def _is_title_style(paragraph: DocxParagraph) -> bool:
    return paragraph.style is not None and (paragraph.style.name or "").strip().lower() in _TITLE_STYLES


def _table_rows(table: Table) -> list[str]:
    """Each row's non-empty cells joined by " | "; a merged cell counts once."""
    rows = []
    for row in table.rows:
        seen: set[int] = set()
        cells = []
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = clean_text(cell.text)
            if text:
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return rows


def _open(path: Path, source: str, max_bytes: int) -> DocxDocument:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError

    data = read_bytes(path, source, max_bytes)
    if data.startswith(_OLE_MAGIC):
        raise CorpusError(code="docx_protected", subject=source)
    if not zipfile.is_zipfile(path):
        raise CorpusError(code="docx_not_zip", subject=source)
    try:
        return docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, zlib.error, KeyError, ValueError, XMLSyntaxError,
            EOFError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise CorpusError(code="docx_broken", subject=source, reason=reason) from None


def _title_paragraph(blocks: list, paragraphs: list, core_title: str):
    """The title line: the first Title-styled paragraph, or a short unnumbered first paragraph, or a
    first Heading 1 that no other Heading 1 follows (a report titled with Word's heading style)."""
    from docx.text.paragraph import Paragraph as DocxParagraph

    title_par = next((p for p in paragraphs if _is_title_style(p)), None)
    if title_par is None and blocks and isinstance(blocks[0], DocxParagraph):
        first = clean_text(blocks[0].text)
        level = _heading_level(blocks[0])
        short_first = level is None and looks_like_title(first) and (not core_title or first == core_title)
        only_heading_1 = (level == 1 and heading_rank(first) is None and not core_title
                          and sum(_heading_level(p) == 1 for p in paragraphs) == 1)
        if short_first or only_heading_1:
            title_par = blocks[0]
    return title_par


@loader(".docx")
def load_docx(path: Path, source: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Document:
    """A Word report: title, heading path, body paragraphs and table rows, headers and footers left out."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph as DocxParagraph

    document = _open(path, source, max_bytes)
    blocks: list[DocxParagraph | list[str]] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            blocks.append(_table_rows(block))
        elif clean_text(block.text) and not _TOC_STYLE.match(block.style.name or "" if block.style else ""):
            blocks.append(block)
    paragraphs = [b for b in blocks if isinstance(b, DocxParagraph)]
    styled = any(_heading_level(p) is not None for p in paragraphs)

    core_title = clean_text(document.core_properties.title or "")
    if _JUNK_TITLE.search(core_title):
        core_title = ""
    title_par = _title_paragraph(blocks, paragraphs, core_title)

    out = DocumentBuilder(source)
    for block in blocks:
        if isinstance(block, list):
            for row in block:
                out.paragraph(row)
        elif block is title_par:
            out.title_line(block.text)
        elif styled:
            level = _heading_level(block)
            if level is not None:
                out.heading(level, block.text)
            else:
                out.paragraph(block.text)
        else:
            out.numbered_line(block.text)
    return out.build(title=core_title or None)
