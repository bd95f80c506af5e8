"""The one service the page, the command line and the HTTP API stand on: the model and index
loaded once (the index built first when it is missing or stale), searches from many threads,
and rebuilds that swap the new index in only when done."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .conversation import contextualize
from .corpus import LOADERS, relative_source
from .errors import CorpusError, RebuildBusy
from .index import Index, load_index, read_manifest, read_source, verify_files
from .indexing import BuildReport, build_index, stale_reasons, store_options
from .passages import outline
from .results import SearchResponse
from .scans import layouts, with_scans
from .search import Searcher
from .settings import Settings

__all__ = ["IndexStatus", "QAService", "RebuildBusy", "open_searcher"]


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


def load_settings_index(settings: Settings, verify: bool = True) -> Index:
    """The index the settings name, opened with their store credentials and cache folder."""
    return load_index(settings.index, verify, options=store_options(settings), cache_dir=settings.cache_dir)


def _warm_model(settings: Settings, progress: bool):
    """The model, loaded and run once (the question session is made on first use)."""
    from .embedding import load_model

    model = load_model(settings.model, settings.cache_dir, settings.backend, progress)
    model.warm_up()
    return model


def load_reader_for(settings: Settings, progress: bool = False):
    """The trained reader in the folder ``settings.reader`` names, or None when it is ``off``."""
    if settings.reader == "off":
        return None
    from .reader import load_reader_from

    return load_reader_from(Path(settings.reader), settings.cache_dir, progress)


def _stale(settings: Settings) -> list[str]:
    return stale_reasons(settings) or [f"damaged file {f}" for f in verify_files(settings.index)]


def open_searcher(settings: Settings, log: Callable[[str], None] = print, progress: bool = False,
                  rebuild: bool = True) -> Searcher:
    """A searcher over the settings' index. The model loads while the index is checked and, if
    it is fine, opened; a missing, stale or damaged index is built first (``rebuild``), else
    opening it raises ``IndexUnavailable`` with the remedy."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        loading = pool.submit(_warm_model, settings, progress)
        reasons = _stale(settings)
        if not reasons:
            index = load_settings_index(settings, verify=False)
            index.tokenizer.warm_up()
        model = loading.result()
    reader = load_reader_for(settings, progress)
    if reasons and rebuild:
        log(f"Index needs rebuilding ({'; '.join(reasons[:3])}); building …")
        report = build_index(settings, model=model, progress=progress, log=log)
        log(f"Built {report.passages} passages from {report.documents} documents in {report.seconds:.1f} s")
    if reasons:
        index = load_settings_index(settings)
    return Searcher(index, model, reader=reader)


class QAService:
    """The model and index loaded once, for the page's and the API's many threads."""

    def __init__(self, settings: Settings, log: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.searcher = open_searcher(settings, log=log)
        self._rebuilding = threading.Lock()

    def ask(self, question: str, top_k: int = 3, previous: list[str] | None = None) -> tuple[str, SearchResponse]:
        """Answer ``question`` in the context of the earlier user questions; returns the query searched."""
        query = contextualize(question, previous or [], self.searcher.index.tokenizer)
        return query, with_scans(self.searcher.search(query, top_k=top_k), layouts(self.searcher.index.path))

    def ask_many(self, questions: list[str], top_k: int = 3) -> list[SearchResponse | None]:
        """Answer a list at once (batched embedding, as ``ask --questions``), in order; None for a
        question that cannot be asked (``query.question_problem``: empty, no words)."""
        from .query import question_problem

        todo = [i for i, q in enumerate(questions) if not question_problem(q)]
        out: list[SearchResponse | None] = [None] * len(questions)
        scanned = layouts(self.searcher.index.path)
        for i, resp in zip(todo, self.searcher.search_many([questions[i] for i in todo], top_k=top_k)):
            out[i] = with_scans(resp, scanned)
        return out

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
        for path in map(Path, paths):  # every upload is read first: one that cannot be indexed adds nothing
            self.check_upload(path)
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
            if target.is_symlink():  # copying would write wherever the link points, outside the corpus
                raise CorpusError(f"{name}: a link of that name is in the corpus folder; not overwritten")
            shutil.copyfile(path, target)
            added.append(relative_source(target, self.settings.root))
        return added

    def check_upload(self, path: Path) -> None:
        """Read an upload with the reader the index will use, from a temporary folder under the name
        it would get; CorpusError (naming the file) if it cannot be indexed. Nothing is left behind."""
        import tempfile

        from .corpus import load_document
        from .formats.ocr import ocr_context, options_from
        from .formats.ocr_cache import OcrCache, cache_folder

        name = safe_name(Path(path).name)
        cache = OcrCache(cache_folder(self.settings.cache_dir, self.settings.index))  # the rebuild reuses its pages
        with tempfile.TemporaryDirectory(prefix="pudong-qa-upload-") as tmp, \
                ocr_context(options_from(self.settings), cache):
            shutil.copyfile(path, Path(tmp) / name)
            load_document(Path(tmp) / name, name, self.settings.max_file_bytes)

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
        index = self.searcher.index
        if source not in {d["source"] for d in index.manifest.get("documents", [])}:
            raise KeyError(source)
        return read_source(index.path, source)

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
            self.searcher.swap_index(load_settings_index(self.settings))
            return report
        finally:
            self._rebuilding.release()
