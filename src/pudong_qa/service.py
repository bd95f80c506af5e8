"""One long-lived question-answering service for the chat page: the model and index loaded
once, searches from many threads, and rebuilds that swap the new index in only when done."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .conversation import contextualize
from .corpus import LOADERS, relative_source
from .errors import CorpusError, RebuildBusy
from .index import BuildReport, build_index, load_index, read_manifest, stale_reasons
from .passages import outline
from .results import SearchResponse
from .search import Searcher
from .settings import Settings

__all__ = ["IndexStatus", "QAService", "RebuildBusy"]


@dataclass
class IndexStatus:
    documents: list[dict]
    passages: int
    model: str
    built_at: str
    stale: list[str]
    skipped: list[dict] = field(default_factory=list)  # files the last build could not read, with why


def safe_name(name: str) -> str:
    """A file name for an upload: no folders, no hidden or control characters, its suffix kept."""
    base = Path(name.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*').strip().lstrip(".")
    return base or "document.txt"


class QAService:
    """The model and index loaded once, for the page's many threads."""

    def __init__(self, settings: Settings, log: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.searcher = Searcher.open(settings, log=log)
        self._rebuilding = threading.Lock()

    def ask(self, question: str, top_k: int = 3, previous: list[str] | None = None) -> tuple[str, SearchResponse]:
        """Answer ``question`` in the context of the earlier user questions; returns the query searched."""
        query = contextualize(question, previous or [], self.searcher.index.tokenizer)
        return query, self.searcher.search(query, top_k=top_k)

    def status(self) -> IndexStatus:
        index = self.searcher.index
        manifest = index.manifest
        try:
            stale = stale_reasons(self.settings, read_manifest(index.path) or manifest)
        except Exception as exc:  # noqa: BLE001 - e.g. the corpus folder vanished; report, don't crash
            stale = [str(exc)]
        return IndexStatus(manifest.get("documents", []), len(index.passages), manifest.get("model", "?"),
                           manifest.get("built_at", "?"), stale, manifest.get("skipped", []))

    def add_documents(self, paths: list[Path]) -> list[str]:
        """Copy uploaded files into the corpus folder under safe names; a different file with the
        same name is kept, the new one gets a numbered name. Returns the sources added (rebuild next)."""
        corpus = self.settings.corpus
        corpus.mkdir(parents=True, exist_ok=True)
        added = []
        for path in map(Path, paths):
            name = safe_name(path.name)
            if Path(name).suffix.lower() not in LOADERS:
                raise CorpusError(f"{name}: unsupported file type; use one of {', '.join(sorted(LOADERS))}")
            size = path.stat().st_size
            if size > self.settings.max_file_bytes:
                raise CorpusError(f"{name}: {size / 2**20:.1f} MiB is over the {self.settings.max_file_mb:g} MiB limit")
            target, n = corpus / name, 1
            while target.exists() and target.read_bytes() != path.read_bytes():
                target = corpus / f"{Path(name).stem}-{n}{Path(name).suffix}"
                n += 1
            shutil.copyfile(path, target)
            added.append(relative_source(target, self.settings.root))
        return added

    def remove_document(self, source: str) -> None:
        """Delete one corpus file (named by its citation source); a rebuild drops its passages."""
        corpus = self.settings.corpus.resolve()
        path = (self.settings.root / source).resolve()
        if corpus not in path.parents or not path.is_file():
            raise CorpusError(f"{source}: not a document in {self.settings.corpus}")
        path.unlink()

    def overview(self) -> list[dict]:
        """Each indexed document for the page's welcome: title, source, characters, its top-level
        headings in order, and how many body paragraphs it has."""
        docs = {d["source"]: {**d, "sections": [], "paragraphs": 0} for d in self.searcher.index.manifest.get(
            "documents", [])}
        for source, d in docs.items():
            sections, d["paragraphs"] = outline(self.searcher.index.passages, source)
            d["sections"] = list(dict.fromkeys(s.split(" > ")[0] for s in sections if s))
        return list(docs.values())

    def source_text(self, source: str) -> str:
        """The text of an indexed document (what citations' offsets point into); only indexed
        sources can be read, so a crafted link cannot open other files."""
        from .index import read_source

        if source not in {d["source"] for d in self.searcher.index.manifest.get("documents", [])}:
            raise KeyError(source)
        return read_source(self.settings, source)

    @property
    def rebuilding(self) -> bool:
        return self._rebuilding.locked()

    def rebuild(self, force: bool = False, log: Callable[[str], None] = lambda _: None) -> BuildReport:
        """Rebuild and swap in; searches meanwhile use the previous index. One at a time per
        process (RebuildBusy), and across processes the index file lock serialises builds."""
        if not self._rebuilding.acquire(blocking=False):
            raise RebuildBusy("a rebuild is already running")
        try:
            report = build_index(self.settings, force=force, model=self.searcher.model, log=log)
            self.searcher.swap_index(load_index(self.settings.index))
            return report
        finally:
            self._rebuilding.release()
