"""One long-lived question-answering service for the chat page: the model and index loaded
once, searches from many threads, and rebuilds that swap the new index in only when done."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from .conversation import contextualize
from .index import BuildReport, build_index, load_index, read_manifest, stale_reasons
from .search import Searcher, SearchResponse
from .settings import Settings


class RebuildBusy(RuntimeError):
    """A rebuild is already running in this process."""


@dataclass
class IndexStatus:
    documents: list[dict]
    passages: int
    model: str
    built_at: str
    stale: list[str]


class QAService:
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
                           manifest.get("built_at", "?"), stale)

    @property
    def rebuilding(self) -> bool:
        return self._rebuilding.locked()

    def rebuild(self, force: bool = True, log: Callable[[str], None] = lambda _: None) -> BuildReport:
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
