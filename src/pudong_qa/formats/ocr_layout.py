"""Recognised lines → the text a reader would have typed, with every line's box kept for citations.

OCR returns boxes in no useful order. Per page:

- running headers, footers and page numbers go (lines in the top or bottom band of the page that are a
  page number, or repeat on most pages — the same tests as ``pdf.py``);
- reading order: lines are sorted top to bottom; a line crossing the middle of the text area (a
  centred heading, a one-column line) separates bands, and inside a band where lines stand side by side
  on both halves, the left column is read before the right one;
- paragraphs: a line starts a new one when it is indented, when the line before it stopped short of
  the column's right edge, or after a clearly wider vertical gap; a centred line stands alone (a title
  on the first page, else a heading when it reads like one);
- lines are joined with no space between Chinese characters, and a number cut at a line end is
  joined back (``5`` / ``00公尺`` → ``500公尺``); a Latin O or zero among Chinese numerals is 〇.

``build_document`` writes the paragraphs with ``DocumentBuilder`` and returns the document with its
layout: per page its size and image, per line its offsets in the text, its box and its confidence.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..document import Document, parse_heading
from ._common import DocumentBuilder, clean_text, join_lines, looks_like_title
from .ocr_cache import OcrLine, OcrPage
from .page_text import PAGE_NUMBER, RADICALS, RUNNING_SHARE, ends_sentence, running_key

EDGE_BAND = 0.08  # share of the page height at top and bottom where running headers and folios sit
SMALL_PRINT = 0.85  # a line in that band printed smaller than this share of the body's line height is running
HEADING_RANK = 9  # a centred unnumbered heading: above 第X章 (10) and numbered items, below Markdown's #
MAX_HEADING_CHARS = 30
_NUMERAL_O = re.compile(r"(?<=[一二三四五六七八九十〇零])[OoО0](?=[一二三四五六七八九十〇零年])")


@dataclass
class Line:
    """One line of a page in reading order: its cleaned text, its OCR line (None on a text-layer page),
    and whether it ends its paragraph or is a centred line standing alone."""

    text: str
    page: int
    ocr: OcrLine | None = None
    ends: bool = False
    centred: bool = False


@dataclass
class Unit:
    """One paragraph (or title, or heading) as written: its text, its page and where each line sits in it."""

    text: str
    page: int
    kind: str  # "para", "title" or "heading"
    lines: list[tuple[int, int, OcrLine | None]] = field(default_factory=list)  # (start, end) in ``text``


def clean_ocr_text(text: str) -> str:
    """One recognised line, cleaned as text-layer lines are, with 〇 among Chinese numerals put back."""
    return _NUMERAL_O.sub("〇", clean_text(text.translate(RADICALS)))


def _height(lines: list[OcrLine]) -> float:
    return statistics.median(ln.box[3] - ln.box[1] for ln in lines) if lines else 1.0


def drop_running(pages: list[OcrPage]) -> list[list[OcrLine]]:
    """Each page's lines without page numbers and header/footer lines: repeated on most pages, or (on a
    page alone) printed in the top or bottom band smaller than the body text."""
    def edge(page: OcrPage, ln: OcrLine) -> bool:
        mid = (ln.box[1] + ln.box[3]) / 2
        return mid < EDGE_BAND * page.height or mid > (1 - EDGE_BAND) * page.height

    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({running_key(clean_ocr_text(ln.text)) for ln in page.lines if edge(page, ln)})
    need = max(2, math.ceil(len(pages) * RUNNING_SHARE))
    running = {key for key, n in counts.items() if key and n >= need}
    kept = []
    for page in pages:
        small = SMALL_PRINT * _height(page.lines)
        kept.append([ln for ln in page.lines if not (edge(page, ln) and (
            PAGE_NUMBER.match(clean_ocr_text(ln.text)) or running_key(clean_ocr_text(ln.text)) in running
            or ln.box[3] - ln.box[1] < small))])
    return kept


def _merge_rows(lines: list[OcrLine]) -> list[OcrLine]:
    """Boxes side by side on one row of one column (a line OCR cut in two) become one line."""
    out: list[OcrLine] = []
    for ln in sorted(lines, key=lambda b: (b.box[1] + b.box[3]) / 2):
        prev = out[-1] if out else None
        if prev is not None:
            overlap = min(prev.box[3], ln.box[3]) - max(prev.box[1], ln.box[1])
            if overlap > 0.6 * min(prev.box[3] - prev.box[1], ln.box[3] - ln.box[1]):
                left, right = sorted((prev, ln), key=lambda b: b.box[0])
                box = (min(left.box[0], right.box[0]), min(left.box[1], right.box[1]),
                       max(left.box[2], right.box[2]), max(left.box[3], right.box[3]))
                n1, n2 = len(left.text), len(right.text)
                conf = (left.confidence * n1 + right.confidence * n2) / max(1, n1 + n2)
                out[-1] = OcrLine(join_lines([left.text, right.text]), box, conf)
                continue
        out.append(ln)
    return out


def reading_order(lines: list[OcrLine]) -> list[tuple[list[OcrLine], tuple[float, float]]]:
    """The page's columns of lines in reading order, each with its left and right edge: bands split by
    lines crossing the middle; a band with lines side by side on both halves is read left column first."""
    if not lines:
        return []
    h = _height(lines)
    xs0, xs1 = sorted(ln.box[0] for ln in lines), sorted(ln.box[2] for ln in lines)
    page_edges = (xs0[len(xs0) // 10], xs1[-1 - len(xs1) // 10])
    mid = (xs0[0] + xs1[-1]) / 2
    columns: list[tuple[list[OcrLine], bool]] = []  # (lines, side by side)
    band: list[OcrLine] = []

    def close_band() -> None:
        lefts = [ln for ln in band if (ln.box[0] + ln.box[2]) / 2 < mid]
        rights = [ln for ln in band if (ln.box[0] + ln.box[2]) / 2 >= mid]
        if len(lefts) >= 2 and len(rights) >= 2 and any(
                min(a.box[3], b.box[3]) > max(a.box[1], b.box[1]) for a in lefts for b in rights):
            columns.extend((_merge_rows(side), True) for side in (lefts, rights))
        elif band:
            columns.append((list(band), False))
        band.clear()

    for ln in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        if ln.box[0] < mid - h / 2 and ln.box[2] > mid + h / 2:  # crosses the middle: one column here
            close_band()
            columns.append(([ln], False))
        else:
            band.append(ln)
    close_band()
    out: list[tuple[list[OcrLine], tuple[float, float]]] = []
    previous_side = True
    for col, side in columns:  # one-column stretches in a row are one column: paragraphs run on through them
        if side:
            out.append((col, _edges(col)))
        elif not previous_side:
            out[-1] = (_merge_rows(out[-1][0] + col), page_edges)
        else:
            out.append((col, page_edges))
        previous_side = side
    return out


def _edges(col: list[OcrLine]) -> tuple[float, float]:
    xs0, xs1 = sorted(ln.box[0] for ln in col), sorted(ln.box[2] for ln in col)
    return xs0[len(xs0) // 10], xs1[-1 - len(xs1) // 10]


def _page_lines(page: int, columns: list[tuple[list[OcrLine], tuple[float, float]]], h: float) -> list[Line]:
    """The lines of one page in reading order, each marked where a paragraph ends after it."""
    out: list[Line] = []
    for col, (col_left, col_right) in columns:
        gaps = [b.box[1] - a.box[3] for a, b in zip(col, col[1:]) if 0 <= b.box[1] - a.box[3] < 2 * h]
        usual_gap = statistics.median(gaps) if gaps else 0.5 * h
        for i, ln in enumerate(col):
            text = clean_ocr_text(ln.text)
            if not text:
                continue
            margin_l, margin_r = ln.box[0] - col_left, col_right - ln.box[2]
            centred = margin_l > 2 * h and margin_r > 2 * h and abs(margin_l - margin_r) < 1.5 * h
            indented = margin_l > 1.2 * h and not centred
            gap = ln.box[1] - col[i - 1].box[3] if i else 0
            if out and (indented or centred or gap > max(1.6 * usual_gap, usual_gap + 0.4 * h)):
                out[-1].ends = True
            short = margin_r > 1.5 * h
            out.append(Line(text, page, ln, ends=short or centred, centred=centred))
    return out


def text_page_lines(page: int, lines: list[str], ends: list[bool]) -> list[Line]:
    """A text-layer page of a mixed PDF: its lines (cleaned by ``pdf.py``) with its paragraph ends."""
    return [Line(text, page, None, end) for text, end in zip(lines, ends)]


def ocr_page_lines(pages: list[OcrPage]) -> dict[int, list[Line]]:
    """Every recognised page's lines in reading order with paragraph ends, running lines left out."""
    kept = drop_running(pages)
    out = {page.number: _page_lines(page.number, reading_order(lines), _height(lines))
           for page, lines in zip(pages, kept)}
    for lines in out.values():  # a sentence ending a page ends its paragraph: the page cited is the one printed
        if lines and ends_sentence(lines[-1].text):
            lines[-1].ends = True
    return out


def _join(pieces: list[tuple[str, OcrLine | None]]) -> tuple[str, list[tuple[int, int, OcrLine | None]]]:
    """Lines of a paragraph joined (see the module's docstring), with each line's span in the result."""
    text, spans = "", []
    for piece, ocr in pieces:
        digits = text[-1:].isdigit() and piece[:1].isdigit()
        sep = "" if not text or digits else join_lines([text[-1], piece[0]])[1:-1]
        start = len(text) + len(sep)
        text += sep + piece
        spans.append((start, len(text), ocr))
    return text, spans


def paragraphs(lines: list[Line]) -> list[Unit]:
    """Lines with paragraph ends → paragraphs (title, headings and body) in order."""
    units: list[Unit] = []
    buffer: list[Line] = []

    def flush() -> None:
        if not buffer:
            return
        text, spans = _join([(ln.text, ln.ocr) for ln in buffer])
        kind = "para"
        if len(buffer) == 1 and buffer[0].centred and looks_like_title(text) and len(text) <= MAX_HEADING_CHARS:
            kind = "title" if not units and buffer[0].page == lines[0].page else "heading"
        units.append(Unit(text, buffer[0].page, kind, spans))
        buffer.clear()

    for ln in lines:
        heading = parse_heading(ln.text)
        if heading is not None and heading[2]:
            flush()
            buffer.append(ln)
            flush()
            continue
        buffer.append(ln)
        if ln.ends:
            flush()
    flush()
    _tallest_title(units)
    return units


def _tallest_title(units: list[Unit]) -> None:
    """Of the centred lines opening the document, the one in the largest print is its title; those above
    it (an issuing office, a header OCR could not tell from the page) are body text."""
    leading = []
    for unit in units:
        if unit.kind not in ("title", "heading") or unit.page != units[0].page:
            break
        leading.append(unit)
    heights = [max((o.box[3] - o.box[1] for _, _, o in u.lines if o is not None), default=0) for u in leading]
    if len(leading) < 2 or max(heights) <= heights[0]:
        return
    top = heights.index(max(heights))
    for unit in leading[:top]:
        unit.kind = "para"
    leading[top].kind = "title"


def build_document(source: str, units: list[Unit], pages: list[dict[str, Any]], title: str | None = None) -> Document:
    """Write the paragraphs into a ``Document`` and attach the layout (``Document.layout``)."""
    out = DocumentBuilder(source)
    written: list[Unit] = []
    for unit in units:
        if not clean_text(unit.text):
            continue
        if unit.kind == "title" and out.title is None:
            out.title_line(unit.text)
        elif unit.kind == "heading":
            out.heading(HEADING_RANK, unit.text)
        else:
            out.numbered_line(unit.text, unit.page)
        written.append(unit)
    doc = out.build(title=out.title or title)
    starts, pos = [], 0
    for line in doc.text.split("\n"):
        starts.append(pos)
        pos += len(line) + 1
    rows = []
    for unit, start in zip(written, starts):
        for a, b, ocr in unit.lines:
            if ocr is not None:
                rows.append([start + a, start + b, unit.page, *ocr.box, round(ocr.confidence, 3)])
    doc.layout = {"pages": pages, "lines": rows}
    return doc
