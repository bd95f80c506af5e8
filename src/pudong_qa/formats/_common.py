"""What the format readers share: the size check, line clean-up, and a builder that writes a ``Document``.

Word, PDF and HTML readers all end up with a sequence of headings and paragraphs. The builder
writes them one per line into ``Document.text`` (joined by "\\n"), so every paragraph's offsets are
exact by construction, and keeps the heading path the same way ``corpus.parse_document`` does:
a heading of rank r closes every open heading of rank >= r.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from ..document import Document, Paragraph, heading_rank, parse_heading
from ..errors import CorpusError

# CJK ideographs, kana, CJK punctuation and full-width forms: no space goes between these when lines are joined.
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]")
_SPACES = re.compile(r"[ \t\xa0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
SENTENCE_END = "。！？!?；;：:…"
CLOSERS = "”’」』）)》〉】\"'"


def read_bytes(path: Path, source: str, max_bytes: int) -> bytes:
    """The file's bytes, after the same size check (and message) as the plain-text reader."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise CorpusError(code="too_big", subject=source, size_mb=size / 2**20, limit_mb=max_bytes / 2**20)
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(code="unreadable", subject=source, reason=exc.strerror) from exc
    if not data.strip():
        raise CorpusError(code="empty_file", subject=source)
    return data


def is_cjk(ch: str) -> bool:
    return bool(_CJK.match(ch))


def join_lines(pieces: list[str]) -> str:
    """Join wrapped lines: no space next to a CJK character, one space between two Latin words."""
    out = ""
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if out and not (is_cjk(out[-1]) or is_cjk(piece[0])) and not out.endswith("-"):
            out += " "
        out += piece
    return out


def clean_text(text: str) -> str:
    """One line of text: soft line breaks joined (CJK-aware), space runs collapsed, invisible characters dropped."""
    text = unicodedata.normalize("NFC", text.translate(_INVISIBLE))
    return _SPACES.sub(" ", join_lines(re.split(r"[\r\n\v\f\u2028\u2029]+", text))).strip()


def looks_like_title(line: str) -> bool:
    """A short line that is not a sentence and not a numbered heading (as corpus.parse_document decides)."""
    return 0 < len(line) <= 60 and line[-1] not in SENTENCE_END + "，," and heading_rank(line) is None


class DocumentBuilder:
    """Write a title, headings and paragraphs, one per line, and get a ``Document`` with exact offsets."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.title: str | None = None
        self._lines: list[str] = []
        self._pos = 0
        self._stack: list[tuple[int, str]] = []
        self.paragraphs: list[Paragraph] = []

    def _write(self, line: str) -> tuple[int, int]:
        line = clean_text(line)
        if self._lines:
            self._pos += 1  # the "\n" before this line
        start = self._pos
        self._lines.append(line)
        self._pos += len(line)
        return start, self._pos

    def title_line(self, text: str) -> None:
        """The document's own title line: kept in the text, but neither a heading nor a body paragraph."""
        text = clean_text(text)
        if text:
            self.title = self.title or text
            self._write(text)

    def heading(self, rank: int, label: str, *, write: bool = True) -> None:
        """Open a heading of ``rank`` (lower = higher level); ``write=False`` for one that leads a paragraph."""
        label = clean_text(label)
        if not label:
            return
        while self._stack and self._stack[-1][0] >= rank:
            self._stack.pop()
        self._stack.append((rank, label))
        if write:
            self._write(label)

    def paragraph(self, text: str, page: int | None = None) -> None:
        """A body paragraph under the current heading path."""
        if not clean_text(text):
            return
        start, end = self._write(text)
        section = tuple(label for _, label in self._stack)
        self.paragraphs.append(Paragraph(len(self.paragraphs) + 1, start, end, section, page))

    def numbered_line(self, text: str, page: int | None = None) -> None:
        """A line that is a heading if it starts with Chinese report numbering (一、 （一） 1、), else body text."""
        line = clean_text(text)
        heading = parse_heading(line) if line else None
        if heading is None:
            self.paragraph(line, page)
            return
        rank, label, standalone = heading
        self.heading(rank, label, write=standalone)
        if not standalone:
            self.paragraph(line, page)

    def build(self, title: str | None = None, encoding: str | None = None) -> Document:
        """The finished document; one without any text raises CorpusError naming the file.

        One with headings but no body is returned: ``corpus.load_document`` reports that case."""
        text = "\n".join(self._lines)
        if not text.strip():
            raise CorpusError(code="no_text", subject=self.source)
        title = clean_text(title or self.title or "") or Path(self.source).stem
        return Document(source=self.source, title=title, text=text,
                        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                        paragraphs=list(self.paragraphs), encoding=encoding)
