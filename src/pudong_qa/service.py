"""The one service the page, the command line and the HTTP API stand on: the model and index
loaded once (the index built first when it is missing or stale), searches from many threads,
and rebuilds that swap the new index in only when done."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .asking import check_batch, top_k_for
from .corpus import LOADERS, corpus_files, relative_source
from .errors import CorpusError, IndexUnavailable, Problem, RebuildBusy
from .index import Index, file_sha256, load_index, read_manifest, read_source, verify_files
from .index_watch import IndexWatcher, index_stamp
from .indexing import BuildReport, build_index, stale_reasons, store_options
from .passages import outline
from .progress import Progress, Step, ignore
from .recycle import RecycleBin, Recycled
from .results import SearchResponse
from .search.conversation import contextualize
from .search.scans import layouts, with_scans
from .search.searcher import Searcher
from .settings import Settings

__all__ = ["DocumentExists", "IndexStatus", "QAService", "RebuildBusy", "Stored", "open_searcher"]


@dataclass
class IndexStatus:
    documents: list[dict]
    passages: int
    model: str
    built_at: str
    stale: list[Problem]  # why the index is out of date (``stale_reasons``)
    skipped: list[dict] = field(default_factory=list)  # files the last build could not read, with why (manifest)

    def to_dict(self) -> dict:
        """For JSON: the reasons as English sentences."""
        return {**asdict(self), "stale": [str(p) for p in self.stale]}


class DocumentExists(CorpusError):
    """Uploads whose names are documents with other content; nothing was stored (replace them
    explicitly). ``existing``: (upload name, the existing document's source) pairs."""

    def __init__(self, existing: list[tuple[str, str]]) -> None:
        self.existing = existing
        super().__init__("; ".join(f"{name}: a different document of that name is already indexed as {source}"
                                   for name, source in existing) + " (replace it explicitly)",
                         code="document_exists", subject=", ".join(name for name, _ in existing),
                         sources=", ".join(source for _, source in existing))


@dataclass(frozen=True)
class Stored:
    """What became of one upload: ``added``, ``replaced`` (the previous file recycled as
    ``recycled``) or ``unchanged`` (the same content is already there: nothing to rebuild)."""

    name: str
    source: str
    outcome: str
    recycled: Recycled | None = None


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


def _stale(settings: Settings) -> list[str]:
    return stale_reasons(settings) or [Problem("damaged_file", {"file": f}) for f in verify_files(settings.index)]


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
    if reasons and rebuild:
        log(f"Index needs rebuilding ({'; '.join(map(str, reasons[:3]))}); building …")
        report = build_index(settings, model=model, progress=progress, log=log)
        log(f"Built {report.passages} passages from {report.documents} documents in {report.seconds:.1f} s")
    if reasons:
        index = load_settings_index(settings)
    return Searcher(index, model)


class QAService:
    """The model and index loaded once, for the page's and the API's many threads."""

    def __init__(self, settings: Settings, log: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.log = log
        stamp = index_stamp(settings.index)  # before loading: a build meanwhile is noticed later
        self.searcher = open_searcher(settings, log=log)
        self._rebuilding = threading.Lock()
        self._swapping = threading.Lock()  # one load-and-swap at a time: the newest index always wins
        self._stamp, self._refused = stamp, None
        self.recycle = RecycleBin.for_settings(settings)
        self.recycle.prune()
        self._watcher = IndexWatcher(self, QAService.refresh_index, settings.index_poll) \
            if settings.index_poll > 0 else None

    def close(self) -> None:
        """Stop watching for indexes other processes build (the service still answers)."""
        if self._watcher is not None:
            self._watcher.stop()

    def refresh_index(self) -> bool:
        """Swap in an index another process (``pudong-qa build``) put at the settings' index folder;
        True if one was. Called by the watcher every ``index_poll`` seconds: a ``stat`` when nothing
        changed. The new index is loaded and checked (every file against the manifest's checksums)
        in the calling thread while questions go on being answered from the old one, then swapped
        in with one assignment; an index that cannot be loaded is logged and the old one kept."""
        stamp = index_stamp(self.settings.index)
        if stamp is None or stamp in (self._stamp, self._refused) or self.rebuilding:
            return False
        with self._swapping:
            if index_stamp(self.settings.index) != stamp:
                return False  # swapped again meanwhile: the next round takes the newest
            manifest = read_manifest(self.settings.index)
            if manifest == self.searcher.index.manifest:  # the one in use (this process's own rebuild)
                self._stamp = stamp
                return False
            model = (manifest or {}).get("state", {}).get("model")
            if model != getattr(self.searcher.model, "identity", model):
                self._refused = stamp
                self.log(f"Index at {self.settings.index} was built with another model ({model}); "
                         "still answering from the one loaded")
                return False
            try:
                index = load_settings_index(self.settings)
                index.tokenizer.warm_up()
            except IndexUnavailable as exc:
                self._refused = stamp
                self.log(f"Index at {self.settings.index} changed but cannot be used ({exc}); "
                         "still answering from the one loaded")
                return False
            if index_stamp(self.settings.index) != stamp:
                return False  # replaced while it loaded: the files may be of two builds
            self.searcher.swap_index(index)
            self._stamp = stamp
        self.log(f"Index at {self.settings.index} was rebuilt elsewhere ({manifest.get('built_at', '?')}); "
                 f"now answering from it: {len(index.passages)} passages")
        return True

    def ask(self, question: str, top_k: int | None = None,
            previous: list[str] | None = None) -> tuple[str, SearchResponse]:
        """Answer ``question`` in the context of the earlier user questions; returns the query searched.
        ``top_k`` None is the settings' default; past ``max_top_k`` it is refused (``asking.top_k_for``)."""
        top_k = top_k_for(self.settings, top_k)
        query = contextualize(question, previous or [], self.searcher.index.tokenizer)
        return query, with_scans(self.searcher.search(query, top_k=top_k), layouts(self.searcher.index.path))

    def ask_many(self, questions: list[str], top_k: int | None = None,
                 on_progress: Callable[[int], None] | None = None) -> list[SearchResponse | None]:
        """Answer a list at once (batched embedding, as ``ask --questions``), in order; None for a
        question that cannot be asked (``asking.question_problem``: empty, no words, too long). A
        list past the batch limits is refused whole (``asking.check_batch``), never cut short.
        ``on_progress`` gets the number of questions answered since its last call."""
        top_k = top_k_for(self.settings, top_k)
        problems = check_batch(questions, self.settings)
        todo = [i for i, p in enumerate(problems) if p is None]
        out: list[SearchResponse | None] = [None] * len(questions)
        scanned = layouts(self.searcher.index.path)
        found = self.searcher.search_many([questions[i] for i in todo], top_k=top_k, on_progress=on_progress)
        for i, resp in zip(todo, found):
            out[i] = with_scans(resp, scanned)
        return out

    def status(self) -> IndexStatus:
        index = self.searcher.index
        manifest = index.manifest
        try:
            stale = stale_reasons(self.settings, read_manifest(index.path) or manifest)
        except Exception as exc:  # e.g. the corpus folder vanished: report it, don't crash
            stale = [Problem("unreadable", {"reason": str(exc)})]
        return IndexStatus(manifest.get("documents", []), len(index.passages), manifest.get("model", "?"),
                           manifest.get("built_at", "?"), stale, manifest.get("skipped", []))

    def add_documents(self, paths: list[Path], replace: bool = False, who: str = "local") -> list[str]:
        """Store uploads in the corpus folder (``store_documents``); returns the sources added or
        replaced, which a rebuild then indexes (identical re-uploads are not among them)."""
        return [s.source for s in self.store_documents(paths, replace, who) if s.outcome != "unchanged"]

    def store_documents(self, paths: list[Path], replace: bool = False, who: str = "local",
                        steps: Progress = ignore) -> list[Stored]:
        """Copy uploaded files into the corpus folder under safe names. An upload named as an
        existing document with other content replaces it only with ``replace`` (the old file goes
        to the recycle folder, recorded as ``who``'s), else ``DocumentExists`` and nothing is
        stored; the same content again is ``unchanged``. Every upload is read first: one that
        cannot be indexed stores nothing."""
        corpus = self.settings.corpus
        corpus.mkdir(parents=True, exist_ok=True)
        paths = [Path(p) for p in paths]
        for path in paths:
            self.check_upload(path, steps)
        targets = []
        for path in paths:
            name = safe_name(path.name)
            if Path(name).suffix.lower() not in LOADERS:
                raise CorpusError(code="unsupported_type", subject=name, suffixes=", ".join(sorted(LOADERS)))
            size = path.stat().st_size
            if size > self.settings.max_file_bytes:
                raise CorpusError(code="too_big", subject=name, size_mb=size / 2**20,
                                  limit_mb=self.settings.max_file_mb)
            target = self.existing_document(name) or corpus / name
            if target.is_symlink():  # copying would write wherever the link points, outside the corpus
                raise CorpusError(code="symlink_in_corpus", subject=name)
            targets.append((name, path, target, target.is_file() and file_sha256(target) != file_sha256(path)))
        clashes = [(name, relative_source(target, self.settings.root)) for name, _, target, clash in targets if clash]
        if clashes and not replace:
            raise DocumentExists(clashes)
        self.recycle.prune()
        stored = []
        for name, path, target, clash in targets:
            source = relative_source(target, self.settings.root)
            if target.is_file() and not clash:
                stored.append(Stored(name, source, "unchanged"))
                continue
            recycled = self.recycle.put(target, "replaced", who) if clash else None
            shutil.copyfile(path, target)
            stored.append(Stored(name, source, "replaced" if clash else "added", recycled))
        return stored

    def existing_document(self, name: str) -> Path | None:
        """The corpus file an upload named ``name`` would replace: the one of that name at the top of
        the corpus folder, else the only one of that name in its sub-folders."""
        top = self.settings.corpus / name
        if top.exists() or top.is_symlink():
            return top
        try:
            found = [p for p in corpus_files(self.settings.corpus) if p.name == name]
        except CorpusError:  # an empty corpus folder
            return None
        return found[0] if len(found) == 1 else None

    def clashes(self, paths: list[Path]) -> list[tuple[str, str]]:
        """(upload name, existing source) for each upload that would replace a document with other content."""
        out = []
        for path in map(Path, paths):
            target = self.existing_document(safe_name(path.name))
            if target is not None and target.is_file() and file_sha256(target) != file_sha256(path):
                out.append((safe_name(path.name), relative_source(target, self.settings.root)))
        return out

    def check_upload(self, path: Path, steps: Progress = ignore) -> None:
        """Read an upload with the reader the index will use, from a temporary folder under the name
        it would get; CorpusError (naming the file) if it cannot be indexed. Nothing is left behind.
        A scan's pages are recognised here (``steps`` hears them) and cached for the rebuild."""
        import tempfile

        from .corpus import load_document
        from .formats.ocr import ocr_context, options_from
        from .formats.ocr_cache import OcrCache, cache_folder

        name = safe_name(Path(path).name)
        cache = OcrCache(cache_folder(self.settings.cache_dir, self.settings.index))  # the rebuild reuses its pages
        with tempfile.TemporaryDirectory(prefix="pudong-qa-upload-") as tmp, \
                ocr_context(options_from(self.settings), cache, steps):
            shutil.copyfile(path, Path(tmp) / name)
            load_document(Path(tmp) / name, name, self.settings.max_file_bytes)

    def remove_document(self, source: str, who: str = "local") -> Recycled:
        """Move one corpus file (named by its citation source) to the recycle folder; a rebuild
        drops its passages."""
        corpus = self.settings.corpus.resolve()
        path = (self.settings.root / source).resolve()
        if corpus not in path.parents or not path.is_file():
            raise CorpusError(code="not_a_document", subject=source, corpus=str(self.settings.corpus))
        self.recycle.prune()
        return self.recycle.put(path, "removed", who)

    def restore_document(self, what: str, who: str = "local") -> tuple[Recycled, Recycled | None]:
        """Put a recycled document back (``RecycleBin.restore``: by id, source or file name); a
        rebuild indexes it again."""
        self.recycle.prune()
        return self.recycle.restore(what, who)

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

    def rebuild(self, force: bool = False, log: Callable[[str], None] = lambda _: None,
                steps: Progress = ignore) -> BuildReport:
        """Rebuild and swap in; searches meanwhile use the previous index. One at a time per
        process (RebuildBusy), and across processes the index file lock serialises builds.
        ``steps`` hears the build's stages, then ``swap``."""
        if not self._rebuilding.acquire(blocking=False):
            raise RebuildBusy("a rebuild is already running")
        try:
            report = build_index(self.settings, force=force, model=self.searcher.model, log=log, steps=steps)
            steps(Step("swap"))
            with self._swapping:
                for _ in range(3):  # another process's build may swap its index in while this one loads
                    stamp = index_stamp(self.settings.index)
                    index = load_settings_index(self.settings)
                    if index_stamp(self.settings.index) == stamp:
                        break
                self.searcher.swap_index(index)
                self._stamp = stamp
            return report
        finally:
            self._rebuilding.release()
