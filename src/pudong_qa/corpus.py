"""Finding the documents of a corpus folder and reading each with the reader for its format.

Readers live in ``formats/`` (Word, PDF, HTML, text in any common Chinese encoding), registered
by file suffix; a file no reader can use is skipped and named with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .document import DEFAULT_MAX_FILE_BYTES, Document, Paragraph, heading_rank, parse_document, parse_heading
from .errors import CorpusError
from .formats import LOADERS, supported_suffixes

__all__ = [
    "DEFAULT_MAX_FILE_BYTES", "LOADERS", "CorpusError", "CorpusReading", "Document", "Paragraph", "Skipped",
    "corpus_files", "heading_rank", "load_corpus", "load_document", "parse_document", "parse_heading",
    "read_corpus", "relative_source", "supported_suffixes", "unsupported_files",
]


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

