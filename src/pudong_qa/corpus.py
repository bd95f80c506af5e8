"""Loading documents and recovering their structure (title, headings, paragraphs).

Readers are registered by file suffix (``@loader(".txt", ".md")``); each turns one file
into the same ``Document`` (title, text, paragraphs with their heading path), so chunking
and search never care what format a report came in. A new format is one more function.

A paragraph of plain text is a non-blank line. Headings follow the numbering conventions of Chinese
reports (第X章/节, 一、, （一）, 1、, （1）) and Markdown ``#``; a heading can stand on its
own line or lead a paragraph ("1、要从重行政效率提升到重行政效能。行政效能是…"), in
which case the paragraph keeps its text and the lead sentence becomes its heading.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CorpusError

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


def read_text(path: Path, display: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> str:
    """Read one corpus file as strict UTF-8, with errors that name the file."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CorpusError(f"{display}: cannot read ({exc.strerror})") from exc
    if size > max_bytes:
        raise CorpusError(f"{display}: {size / 2**20:.1f} MiB is over the {max_bytes / 2**20:g} MiB limit; "
                          "split it, or raise PUDONG_QA_MAX_FILE_MB")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{display}: not valid UTF-8 (byte {exc.start}); convert it, e.g. iconv -f GBK -t UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        raise CorpusError(f"{display}: contains NUL bytes; is it a binary file?")
    if not text.strip():
        raise CorpusError(f"{display}: the file is empty")
    return text


# ---------------------------------------------------------------- readers, by file suffix

Loader = Callable[[Path, str, int], Document]
LOADERS: dict[str, Loader] = {}


def loader(*suffixes: str) -> Callable[[Loader], Loader]:
    """Register a reader for files ending in ``suffixes``: ``(path, source, max_bytes) -> Document``."""
    def register(func: Loader) -> Loader:
        for suffix in suffixes:
            LOADERS[suffix.lower()] = func
        return func
    return register


@loader(".txt", ".md")
def load_plain_text(path: Path, source: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Document:
    return parse_document(source, read_text(path, source, max_bytes))


def supported_suffixes() -> tuple[str, ...]:
    return tuple(sorted(LOADERS))


def load_document(path: Path, source: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Document:
    """Read one file with the reader registered for its suffix."""
    read = LOADERS.get(path.suffix.lower())
    if read is None:
        raise CorpusError(f"{source}: unsupported file type; use one of {', '.join(supported_suffixes())}")
    doc = read(path, source, max_bytes)
    if not doc.paragraphs:
        raise CorpusError(f"{source}: no body text (only a title or headings)")
    return doc


def _visible_files(corpus_dir: Path) -> list[Path]:
    if not corpus_dir.is_dir():
        raise CorpusError(f"{corpus_dir}: corpus folder not found")
    return sorted(p for p in corpus_dir.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts))


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every file of a supported format under the folder, recursively, in a stable order (hidden ones skipped)."""
    files = [p for p in _visible_files(corpus_dir) if p.suffix.lower() in LOADERS]
    if not files:
        raise CorpusError(f"{corpus_dir}: no {'/'.join(supported_suffixes())} files to index")
    return files


def unsupported_files(corpus_dir: Path) -> list[Path]:
    """Files in the corpus folder that no reader handles (named in the build report, never read)."""
    return [p for p in _visible_files(corpus_dir) if p.suffix.lower() not in LOADERS]


def relative_source(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def load_corpus(corpus_dir: Path, root: Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> list[Document]:
    """Load and parse every document, stopping at the first that cannot be read (see ``read_corpus``)."""
    return [load_document(path, relative_source(path, root), max_bytes) for path in corpus_files(corpus_dir)]


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


@dataclass
class CorpusReading:
    documents: list[Document]
    skipped: list[Skipped]  # files that could not be read, each with why


def read_corpus(corpus_dir: Path, root: Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> CorpusReading:
    """Every document that can be read; a corrupt, empty, scanned or unknown-format file is
    skipped and named with its reason instead of stopping the others."""
    docs: list[Document] = []
    skipped = [Skipped(relative_source(p, root), "unsupported file type") for p in unsupported_files(corpus_dir)]
    for path in corpus_files(corpus_dir):
        source = relative_source(path, root)
        try:
            docs.append(load_document(path, source, max_bytes))
        except CorpusError as exc:
            skipped.append(Skipped(source, str(exc).removeprefix(f"{source}: ")))
    return CorpusReading(docs, sorted(skipped, key=lambda s: s.source))


from . import formats  # noqa: E402,F401 - registers the Word, PDF, HTML and legacy-encoding readers
