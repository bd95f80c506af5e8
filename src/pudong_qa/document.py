"""A document and its structure (title, headings, paragraphs), whatever format it came in.

Every reader in ``formats/`` returns a ``Document``; chunking and search see nothing else.
For plain text, ``parse_document`` recovers the structure: a paragraph is a non-blank line.
Headings follow the numbering conventions of Chinese reports (第X章/节, 一、, （一）, 1、, （1）)
and Markdown ``#``; a heading can stand on its
own line or lead a paragraph ("1、要从重行政效率提升到重行政效能。行政效能是…"), in
which case the paragraph keeps its text and the lead sentence becomes its heading.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

# Embedding runs at ~35 passages/s on 2 cores, so a 10 MiB report already takes many minutes.
DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_HEADING_CHARS = 40

_CN_NUM = "一二三四五六七八九十百零〇两"
# (rank, pattern): a lower rank is a higher level. Markdown levels come first.
_HEADING_PATTERNS: list[tuple[int, re.Pattern[str]]] = [
    (10, re.compile(rf"^第[{_CN_NUM}\d]+[章编篇部](?:分)?")),
    (11, re.compile(rf"^第[{_CN_NUM}\d]+节")),
    (12, re.compile(rf"^[{_CN_NUM}]+[、．.]")),
    (13, re.compile(rf"^[（(][{_CN_NUM}]+[)）]")),
    (14, re.compile(r"^\d{1,2}(?:[、．]|\.(?!\d))")),
    (15, re.compile(r"^[（(]\d{1,2}[)）]")),
    (16, re.compile(r"^[①②③④⑤⑥⑦⑧⑨⑩]")),
]
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_SENTENCE_END = "。！？!?；;"
_INLINE_MIN_RANK = 12  # 章/节 headings stand on their own line; numbered items may lead a paragraph


@dataclass(frozen=True)
class Paragraph:
    number: int  # 1-based among the document's body paragraphs
    start: int
    end: int
    section: tuple[str, ...]  # heading path, outermost first
    page: int | None = None  # 1-based page of a paged format (PDF), else None


@dataclass
class Document:
    source: str  # path relative to the project root, POSIX style
    title: str
    text: str
    sha256: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    encoding: str | None = None  # how the file's bytes were decoded (text formats), for the manifest
    layout: dict | None = None  # scanned pages: page sizes and images, line boxes and OCR confidence (ocr_layout.py)

    @property
    def headings(self) -> list[tuple[str, ...]]:
        """Every heading path that has body text under it, in document order."""
        return list(dict.fromkeys(p.section for p in self.paragraphs if p.section))


def heading_rank(line: str) -> int | None:
    """The rank of the numbering a line starts with, or None if it has none."""
    line = line.strip()
    m = _MD_HEADING.match(line)
    if m:
        return len(m.group(1))
    for rank, pattern in _HEADING_PATTERNS:
        if pattern.match(line):
            return rank
    return None


def _lead_sentence(line: str) -> str:
    cut = min((i for i, ch in enumerate(line) if ch in _SENTENCE_END), default=len(line))
    return line[:cut].strip()


def parse_heading(line: str) -> tuple[int, str, bool] | None:
    """``(rank, heading text, standalone)`` for a heading line, else None.

    A standalone heading is a short line of its own; otherwise a numbered lead
    sentence (一、 and below) of at most MAX_HEADING_CHARS heads the paragraph it starts.
    """
    line = line.strip()
    m = _MD_HEADING.match(line)
    if m:
        return len(m.group(1)), m.group(2), True
    rank = heading_rank(line)
    if rank is None:
        return None
    if len(line) <= MAX_HEADING_CHARS and line[-1] not in _SENTENCE_END + "，,：:":
        return rank, line, True
    lead = _lead_sentence(line)
    if rank >= _INLINE_MIN_RANK and len(lead) < len(line) and len(lead) <= MAX_HEADING_CHARS:
        return rank, lead, False
    return None


def _looks_like_title(line: str) -> bool:
    line = line.strip()
    if _MD_HEADING.match(line):
        return line.startswith("# ")
    return 0 < len(line) <= 60 and line[-1] not in _SENTENCE_END + "，," and heading_rank(line) is None


def parse_document(source: str, text: str) -> Document:
    """Find the title, the headings and the paragraphs (with offsets) of one text."""
    doc = Document(source=source, title=Path(source).stem, text=text,
                   sha256=hashlib.sha256(text.encode("utf-8")).hexdigest())
    stack: list[tuple[int, str]] = []
    pos = 0
    first = True
    number = 0
    for raw in text.splitlines(keepends=True):
        start, line = pos, raw.rstrip("\r\n")
        pos += len(raw)
        stripped = line.strip()
        if not stripped:
            continue
        lead = len(line) - len(line.lstrip())
        s, e = start + lead, start + lead + len(stripped)
        if first:
            first = False
            if _looks_like_title(stripped):
                m = _MD_HEADING.match(stripped)
                doc.title = m.group(2) if m else stripped
                continue
        heading = parse_heading(stripped)
        if heading:
            rank, label, standalone = heading
            while stack and stack[-1][0] >= rank:
                stack.pop()
            stack.append((rank, label))
            if standalone:
                continue
        number += 1
        doc.paragraphs.append(Paragraph(number, s, e, tuple(label for _, label in stack)))
    return doc
