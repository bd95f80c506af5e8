"""Finding the documents of a corpus folder and reading each with the reader for its format.

Readers live in ``formats/`` (Word, PDF, HTML, text in any common Chinese encoding), registered
by file suffix; a file no reader can use is skipped and named with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .document import DEFAULT_MAX_FILE_BYTES, Document, Paragraph, heading_rank, parse_document, parse_heading
from .errors import CorpusError
from .formats import LOADERS, supported_suffixes
from .messages import say
from .progress import Progress, Step, ignore

__all__ = [
    "DEFAULT_MAX_FILE_BYTES", "LOADERS", "CorpusError", "CorpusReading", "Document", "Paragraph", "Skipped",
    "corpus_files", "heading_rank", "load_corpus", "load_document", "parse_document", "parse_heading",
    "read_corpus", "relative_source", "supported_suffixes", "unsupported_files",
]


def load_document(path: Path, source: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Document:
    """Read one file with the reader registered for its suffix."""
    read = LOADERS.get(path.suffix.lower())
    if read is None:
        raise CorpusError(code="unsupported_type", subject=source, suffixes=", ".join(supported_suffixes()))
    doc = read(path, source, max_bytes)
    if not doc.paragraphs:
        raise CorpusError(code="no_body", subject=source)
    return doc


def _visible_files(corpus_dir: Path) -> list[Path]:
    if not corpus_dir.is_dir():
        raise CorpusError(code="corpus_missing", subject=str(corpus_dir))
    return sorted(p for p in corpus_dir.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts))


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every file of a supported format under the folder, recursively, in a stable order (hidden ones skipped)."""
    files = [p for p in _visible_files(corpus_dir) if p.suffix.lower() in LOADERS]
    if not files:
        raise CorpusError(code="corpus_empty", subject=str(corpus_dir), suffixes="/".join(supported_suffixes()))
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
    reason: str  # in English, for the command line and the build log
    code: str = ""  # the reason as data (``messages.MESSAGES``), for words in other languages
    params: dict = field(default_factory=dict, compare=False, hash=False)

    def say(self, lang: str = "en") -> str:
        return say(self.code, self.params, lang) if self.code else self.reason


@dataclass
class CorpusReading:
    documents: list[Document]
    skipped: list[Skipped]  # files that could not be read, each with why


def read_corpus(corpus_dir: Path, root: Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES,
                steps: Progress = ignore) -> CorpusReading:
    """Every document that can be read; a corrupt, empty, scanned or unknown-format file is
    skipped and named with its reason instead of stopping the others. ``steps`` hears of each file."""
    docs: list[Document] = []
    suffixes = {"suffixes": ", ".join(supported_suffixes())}
    skipped = [Skipped(relative_source(p, root), "unsupported file type", "unsupported_type", suffixes)
               for p in unsupported_files(corpus_dir)]
    files = corpus_files(corpus_dir)
    for done, path in enumerate(files):
        steps(Step("read", done, len(files)))
        source = relative_source(path, root)
        try:
            docs.append(load_document(path, source, max_bytes))
        except CorpusError as exc:
            skipped.append(Skipped(source, exc.reason(), exc.code, exc.problem.params if exc.problem else {}))
    return CorpusReading(docs, sorted(skipped, key=lambda s: s.source))

