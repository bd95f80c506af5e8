"""Building, saving, checking and loading the index folder.

Layout of ``index/`` (safe formats only, no pickle)::

    manifest.json         corpus hashes, settings, model identity, versions, file checksums
    passages/             passages with their citations, as numpy columns and texts (passages.py)
    documents.json        each document's extracted text (citations index into it), title, format, encoding
    userdict.json         corpus terms added to jieba (same on index and query side)
    tokens/               each passage's and sentence's BM25 tokens (vocab.json, ids.npy,
                          offsets.npy) and the terms that changed jieba's dictionary
                          (dictionary.json), so an incremental build tokenizes only what changed
    vectors.faiss         normalised passage vectors (inner product)       } the local store
    sentences.npy         normalised sentence vectors, for sentence-level  } (store.py), which
                          answers                                          } search reaches only
    bm25/                 bm25s index of the passages (numpy + JSON)       } through the Store
    bm25_sentences/       bm25s index of the single sentences              } interface
    doc_freq.json         in how many passages each word occurs (for IDF)  }

A build writes a temporary sibling folder and swaps it in, holding a file lock, so a
failed or killed build leaves the previous index in place.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .chunking import Passage, chunk_corpus
from .corpus import CorpusReading, Skipped, corpus_files, read_corpus, relative_source
from .errors import CorpusError, IndexUnavailable
from .locking import file_lock
from .passages import PassageTable, read_passages, write_passages
from .settings import Settings
from .store import LocalStore, Store
from .tokenize import STOPWORDS, Tokenizer, corpus_terms, normalize, token_ids

FORMAT_VERSION = 4  # 4: passages as columns (passages/), not passages.json
# Bump when the text that gets indexed or tokenized changes, so old indexes go stale.
PIPELINE_VERSION = 4  # 4: BM25 texts carry the document title (lexical_context)
MANIFEST = "manifest.json"
DOCUMENTS = "documents.json"
TOKENS = "tokens"


@dataclass
class BuildReport:
    documents: int
    passages: int
    seconds: float
    path: Path
    rebuilt: bool = True
    skipped: list[Skipped] = field(default_factory=list)  # files that could not be read
    embedded: int = 0  # texts embedded by this build (the rest were reused from the previous index)
    tokenized: int = 0  # texts tokenized by this build (likewise)
    reasons: list[str] = field(default_factory=list)  # why the index was out of date (``stale_reasons``)


@dataclass
class Index:
    """A loaded index: the store search reads from, the query-side tokenizer, the manifest."""

    path: Path
    manifest: dict[str, Any]
    store: Store
    tokenizer: Tokenizer
    titles: dict[str, str] = field(default_factory=dict)

    @property
    def passages(self):
        return self.store.passages


# ---------------------------------------------------------------- what gets indexed


def _with_context(context: str, text: str) -> str:
    return f"{context}\n{text}" if context else text


def indexed_text(p: Passage) -> str:
    """What gets embedded: passage text with its heading path for context (never cited)."""
    return _with_context(" ".join(x for x in (p.title, p.section.replace(" > ", " ")) if x), p.text)


def lexical_context(p: Passage) -> str:
    """What BM25 indexes before a passage's own words, and before each of its sentences': the
    document's title and the innermost heading. An article names its subject in the title but
    in its text often once ("本鱼", "其", or not at all), so without it the passage or sentence
    that repeats the subject outranks the one holding the asked-for fact."""
    last = p.section.rsplit(" > ", 1)[-1]
    return " ".join(x for x in (p.title, last) if x)


def lexical_text(p: Passage) -> str:
    """What BM25 indexes of a passage: its context (``lexical_context``) and its text."""
    return _with_context(lexical_context(p), p.text)


def sentence_lexical_texts(p: Passage) -> list[str]:
    """What BM25 indexes of each sentence of a passage: the passage's context and the sentence."""
    context = lexical_context(p)
    return [_with_context(context, s) for s in p.sentence_texts()]


def token_texts(passages: Sequence[Passage]) -> list[str]:
    """Every text BM25 tokenizes, in the order its tokens are stored: each passage's lexical
    text, then every sentence's."""
    return [lexical_text(p) for p in passages] + [s for p in passages for s in sentence_lexical_texts(p)]


VERSIONED = ("pudong-qa", "sentence-transformers", "transformers", "torch", "faiss-cpu", "bm25s", "jieba", "opencc")


def _versions(packages: tuple[str, ...] = VERSIONED) -> dict[str, str]:
    out = {}
    for pkg in packages:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[pkg] = importlib.metadata.version(pkg)
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def expected_state(settings: Settings) -> dict[str, Any]:
    """What an up-to-date index must have been built from; compared on every load."""
    from .embedding import model_identity

    files = []
    for path in corpus_files(settings.corpus):
        rel = relative_source(path, settings.root)
        files.append({"source": rel, "sha256": _sha256(path)})
    return {
        "format": FORMAT_VERSION,
        "pipeline": PIPELINE_VERSION,
        "corpus": files,
        "chunking": settings.chunking(),
        "model": model_identity(settings.model),
        "stopwords": hashlib.sha256(" ".join(sorted(STOPWORDS)).encode()).hexdigest()[:16],
        "tokenizer": _versions(("jieba", "opencc")),  # checked on every start: look up only these
        **({"store": {"kind": "milvus", "uri": _milvus_uri(settings)}} if settings.milvus_uri else {}),
    }


def _milvus_uri(settings: Settings) -> str:
    from .milvus import resolve_uri

    return resolve_uri(settings.milvus_uri, settings.root)


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def stale_reasons(settings: Settings, manifest: dict[str, Any] | None = None,
                  want: dict[str, Any] | None = None) -> list[str]:
    """Why the index at ``settings.index`` does not match the corpus and settings (empty if it does)."""
    manifest = manifest if manifest is not None else read_manifest(settings.index)
    if manifest is None:
        return [f"no index at {settings.index}"]
    want = want if want is not None else expected_state(settings)  # hashes every corpus file
    have = manifest.get("state", {})
    reasons = []
    for key in ("format", "pipeline", "chunking", "model", "stopwords"):
        if have.get(key) != want[key]:
            reasons.append(f"{key} changed")
    if have.get("store") != want.get("store"):
        reasons.append(f"store changed (now {(want.get('store') or {}).get('uri') or 'local'})")
    old = {f["source"]: f["sha256"] for f in have.get("corpus", [])}
    new = {f["source"]: f["sha256"] for f in want["corpus"]}
    for src in sorted(new.keys() - old.keys()):
        reasons.append(f"new document {src}")
    for src in sorted(old.keys() - new.keys()):
        reasons.append(f"removed document {src}")
    for src in sorted(k for k in new.keys() & old.keys() if new[k] != old[k]):
        reasons.append(f"changed document {src}")
    return reasons


# ---------------------------------------------------------------- build


def _lock_path(index_dir: Path) -> Path:
    return index_dir.parent / f".{index_dir.name}.lock"


def _cleanup_strays(index_dir: Path) -> None:
    """Remove temporary folders of killed builds; restore an index a kill left half-swapped."""
    parent = index_dir.parent
    olds = sorted(parent.glob(f".{index_dir.name}.old-*"))
    if not index_dir.exists() and olds:
        os.replace(olds[-1], index_dir)
        olds = olds[:-1]
    for stray in [*parent.glob(f".{index_dir.name}.tmp-*"), *olds]:
        shutil.rmtree(stray, ignore_errors=True)


def _fsync_tree(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())


def _swap_in(tmp: Path, index_dir: Path) -> None:
    old = None
    if index_dir.exists():
        old = index_dir.parent / f".{index_dir.name}.old-{os.getpid()}-{time.time_ns()}"
        os.replace(index_dir, old)
    os.replace(tmp, index_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_index(
    directory: Path,
    reading: CorpusReading,
    passages: list[Passage],
    terms: list[str],
    dictionary: dict[str, int],
    passage_tokens: list[list[str]],
    sentence_tokens: list[list[str]],
    vectors: Callable[[], tuple[np.ndarray, np.ndarray]],
    state: dict[str, Any],
    settings: Settings,
    folds: dict[str, str] | None = None,
) -> None:
    """Write every index file into ``directory`` and the manifest last. ``vectors`` returns the
    passage and sentence vectors; it is called only once the files that need no vectors are
    written, so those are written while the model still runs."""
    docs = reading.documents
    (directory / DOCUMENTS).write_text(json.dumps(
        [{"source": d.source, "title": d.title, "format": Path(d.source).suffix.lower().lstrip("."),
          "encoding": d.encoding, "sha256": d.sha256, "text": d.text} for d in docs], ensure_ascii=False),
        encoding="utf-8")
    (directory / "userdict.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
    write_passages(directory, passages, folds)
    save_tokens(directory / TOKENS, passage_tokens + sentence_tokens, dictionary)
    store_info: dict[str, Any] = {"kind": "local"}
    if settings.milvus_uri:  # vectors and lexical postings in Milvus; the folder keeps the metadata
        from . import milvus

        identity = {k: state.get(k) for k in ("format", "pipeline", "chunking", "model", "stopwords")}
        passage_vectors, sentence_vectors = vectors()
        store_info = milvus.write(_milvus_uri(settings), settings.milvus_token, Path(settings.index), directory,
                                  passages, passage_tokens, sentence_tokens, passage_vectors, sentence_vectors,
                                  identity)
    else:
        LocalStore.write_lexical(directory, passage_tokens, sentence_tokens)
        passage_vectors, sentence_vectors = vectors()
        LocalStore.write_vectors(directory, passage_vectors, sentence_vectors, ann=settings.ann)
    counts = Counter(p.source for p in passages)
    files = {
        p.relative_to(directory).as_posix(): _sha256(p)
        for p in sorted(directory.rglob("*")) if p.is_file()
    }
    manifest = {
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "documents": [{"source": d.source, "title": d.title, "chars": len(d.text),
                       "format": Path(d.source).suffix.lower().lstrip("."), "encoding": d.encoding,
                       "passages": counts[d.source]} for d in docs],
        "skipped": [{"source": k.source, "reason": k.reason} for k in reading.skipped],
        "passages": len(passages),
        "sentences": int(sentence_vectors.shape[0]),
        "model": settings.model,
        "dim": int(passage_vectors.shape[1]),
        "versions": _versions(),
        "state": state,
        "store": store_info,
        "files": files,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")


def save_tokens(directory: Path, token_lists: list[list[str]], dictionary: dict[str, int]) -> None:
    """Token lists as a vocabulary (JSON) and two integer arrays (numpy), compact and pickle-free,
    with the dictionary changes they were cut with (``Tokenizer.dictionary_changes``)."""
    directory.mkdir()
    (directory / "dictionary.json").write_text(json.dumps(dictionary, ensure_ascii=False, sort_keys=True),
                                               encoding="utf-8")
    vocab, ids = token_ids(token_lists)
    ids = ids.astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in token_lists], dtype=np.int64)])
    (directory / "vocab.json").write_text(json.dumps(list(vocab), ensure_ascii=False), encoding="utf-8")
    np.save(directory / "ids.npy", ids, allow_pickle=False)
    np.save(directory / "offsets.npy", offsets, allow_pickle=False)


def load_tokens(directory: Path) -> list[list[str]]:
    vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
    ids = np.load(directory / "ids.npy", allow_pickle=False).tolist()
    offsets = np.load(directory / "offsets.npy", allow_pickle=False).tolist()
    words = list(map(vocab.__getitem__, ids))
    return [words[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def tokenize_texts(tokenizer: Tokenizer, texts: list[str],
                   cache: dict[str, list[str]]) -> tuple[list[list[str]], int]:
    """BM25 tokens of ``texts``: from ``cache`` where known, each other distinct text tokenized
    once (overlapping passages share sentences). Returns (tokens, how many texts were tokenized)."""
    fresh: dict[str, list[str]] = {}
    out = []
    for text in texts:
        tokens = cache.get(text)
        if tokens is None:
            tokens = fresh.get(text)
            if tokens is None:
                tokens = fresh[text] = tokenizer.tokens(text)
        out.append(tokens)
    return out, len(fresh)


def _previous_tokens(index_dir: Path, state: dict[str, Any], dictionary: dict[str, int],
                     folded_docs: dict[str, str], passages: list[Passage]) -> dict[str, list[str]]:
    """Tokens of the current index by text, for the texts whose tokens cannot have changed: same
    tokenizer, stop-words and pipeline, and no dictionary change added, dropped or reweighted
    occurs in the text (``Tokenizer`` pins jieba's total, so a text's cut depends only on the
    dictionary words in it). ``folded_docs``: each document's text through ``normalize``, by source."""
    manifest = read_manifest(index_dir)
    have = (manifest or {}).get("state", {})
    if not manifest or any(have.get(k) != state[k] for k in ("format", "pipeline", "stopwords", "tokenizer")):
        return {}
    try:
        old = json.loads((index_dir / TOKENS / "dictionary.json").read_text(encoding="utf-8"))
        texts = token_texts(read_passages(index_dir))
        tokens = load_tokens(index_dir / TOKENS)
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return {}
    if len(texts) != len(tokens):
        return {}
    cache = dict(zip(texts, tokens))
    changed = {w for w in old.keys() | dictionary.keys() if old.get(w) != dictionary.get(w)}
    if changed:
        affected = {source for source, text in folded_docs.items() if any(t in text for t in changed)}
        for p in passages:
            if p.source in affected:
                for text in (lexical_text(p), *sentence_lexical_texts(p)):
                    if text in cache:
                        folded = normalize(text)
                        if any(t in folded for t in changed):
                            del cache[text]
    return cache


def _previous_folds(index_dir: Path, state: dict[str, Any]) -> dict[str, str]:
    """The current index's folded texts (``tokenize.normalize``, most of the time writing the
    passage files takes) by raw text, when folding cannot have changed: same format, pipeline and
    OpenCC."""
    have = (read_manifest(index_dir) or {}).get("state", {})
    if not have or any(have.get(k) != state[k] for k in ("format", "pipeline", "tokenizer")):
        return {}
    try:
        table = read_passages(index_dir)
        return table.folds() if isinstance(table, PassageTable) else {}
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return {}


def _texts_of_new_documents(index_dir: Path, passages: list[Passage]) -> list[str]:
    """The distinct texts (``indexed_text`` and sentences) of the passages of documents that the
    index at ``index_dir`` does not have: none of them can have a vector there yet."""
    have = {f["source"] for f in (read_manifest(index_dir) or {}).get("state", {}).get("corpus", [])}
    return list(dict.fromkeys(t for p in passages if p.source not in have
                              for t in (indexed_text(p), *p.sentence_texts())))


def _previous_vectors(index_dir: Path, identity: str, method: str = "direct") -> dict[str, np.ndarray]:
    """Vectors of the current index by the text they embed, when it was built with the same model
    and embedding method (see ``embed_texts``): an incremental build embeds only texts that are
    new (stored as FAISS/numpy, never pickle)."""
    manifest = read_manifest(index_dir)
    have = (manifest or {}).get("state", {})
    if not manifest or have.get("model") != identity or have.get("vectors", "direct") != method \
            or verify_files(index_dir):
        return {}
    try:
        index = load_index(index_dir, verify=False)
    except IndexUnavailable:
        return {}
    store, texts, sentences = index.store, [], []
    for p in index.passages:  # decoded once, in blocks
        texts.append(indexed_text(p))
        sentences.extend(p.sentence_texts())
    try:  # through the Store interface, so a Milvus index is reused the same way
        cache = dict(zip(texts, store.passage_vectors(np.arange(len(texts)))))
        cache.update(zip(sentences, np.asarray(store.sentence_vectors(np.arange(len(sentences))))))
    except IndexUnavailable:
        return {}
    return cache


def embed_texts(model, texts: list[str], cache: dict[str, np.ndarray],
                progress: bool = False, passages: list[Passage] | None = None, mode: str = "off",
                int8: bool = False) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``: from ``cache`` where the text is known, the rest from the model.
    Returns (vectors, how many texts were embedded).

    With ``passages`` (then ``texts`` are their indexed texts followed by all their sentences) and
    ``mode`` other than "off", a model that returns token states pools vectors from passages'
    token states (embedding/late.py): "windows" pools half of the overlapping windows from the
    others, "sentences" pools each sentence from its passage's forward pass instead of encoding it
    again, "late" does both. Each distinct text is embedded once."""
    if passages is None or mode == "off" or not getattr(model, "token_states", False):
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        fresh = model.encode_passages(missing, progress=progress) if missing else None
        known = {**cache, **dict(zip(missing, fresh if fresh is not None else []))}
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=False), len(missing)
    from .embedding.late import late_vectors

    n = len(passages)
    sentences = [p.sentence_texts() for p in passages]
    need = [i for i, p in enumerate(passages)
            if texts[i] not in cache or any(t not in cache for t in sentences[i])]
    keys = [[(p.source, a, b) for a, b in p.sentences] for p in passages]
    spans = []
    for i in need:
        p = passages[i]
        shift = len(texts[i]) - len(p.text)  # the heading context before the passage's text
        spans.append([(a - p.start + shift, b - p.start + shift) for a, b in p.sentences])
    windows, pooled, _ = late_vectors(model, [texts[i] for i in need], spans, [keys[i] for i in need],
                                      mode=mode, int8=int8, progress=progress) if need else ([], {}, 0)
    fresh = dict(zip(need, windows))
    vecs = np.empty((len(texts), model.dim), dtype=np.float32)
    row = n
    for i in range(n):
        vecs[i] = fresh[i] if i in fresh else cache[texts[i]]
        for key, text in zip(keys[i], sentences[i]):
            vecs[row] = pooled[key] if i in fresh else cache[text]
            row += 1
    return vecs, len(need) + len(pooled)


def _bulk(model) -> contextlib.AbstractContextManager:
    """The encoder's resources for encoding many texts at once (``Encoder.bulk``), if it has any."""
    bulk = getattr(model, "bulk", None)
    return bulk() if bulk else contextlib.nullcontext()


def in_background(work: Callable[[], Any]) -> Callable[[], Any]:
    """Start ``work`` in a daemon thread (an interrupted build does not wait for it); the returned
    function waits for its result or raises its exception."""
    import threading

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="pudong-qa-embed", daemon=True)
    thread.start()

    def wait() -> Any:
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    return wait


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for a build. A build makes and drops hundreds of
    thousands of small lists and dicts (token lists, caches by text), all freed by reference
    counting, and each of the collector's passes walks the whole growing heap: ~1 s of an 11 s
    incremental build on 2 cores (docs/benchmarks.md). Cycles made meanwhile are collected once
    it runs again."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def build_index(
    settings: Settings,
    force: bool = False,
    model=None,
    progress: bool = False,
    log: Callable[[str], None] = lambda _: None,
    lock_timeout: float | None = None,
    strict: bool = False,
) -> BuildReport:
    """Build the index unless it is up to date; safe against crashes and concurrent builds.

    Files that cannot be read are skipped and reported (``strict`` makes any of them an error,
    leaving the previous index); vectors of unchanged passages are reused unless ``force``.
    """
    from . import embedding

    t0 = time.perf_counter()
    index_dir = Path(settings.index)
    index_dir.parent.mkdir(parents=True, exist_ok=True)

    def waiting() -> None:
        log("Another build of this index is running; waiting for it to finish …")

    with file_lock(_lock_path(index_dir), timeout=lock_timeout, on_wait=waiting), collector_paused(), \
            contextlib.ExitStack() as build_resources:
        _cleanup_strays(index_dir)
        reading = read_corpus(settings.corpus, settings.root, settings.max_file_bytes)  # before touching the index
        docs = reading.documents
        for k in reading.skipped:
            log(f"skipped {k.source}: {k.reason}")
        if strict and reading.skipped:
            raise CorpusError(f"{len(reading.skipped)} file(s) could not be read (--strict): "
                              + "; ".join(f"{k.source}: {k.reason}" for k in reading.skipped))
        if not docs:
            raise CorpusError(f"{settings.corpus}: none of the files could be read")
        state = expected_state(settings)
        reasons = stale_reasons(settings, want=state)
        if not force and not reasons and verify_files(index_dir) == []:
            manifest = read_manifest(index_dir) or {}
            return BuildReport(len(docs), manifest.get("passages", 0), time.perf_counter() - t0, index_dir, False,
                               reading.skipped)

        def load_model():
            log(f"Loading embedding model {settings.model} …")
            return embedding.load_model(settings.model, settings.cache_dir, settings.backend, progress=progress,
                                        for_build=True)

        loading = None
        if force or any(r.startswith(("new document", "changed document", "no index")) for r in reasons):
            # texts to embed are likely: ready the model while the corpus is chunked
            if model is None:
                loading = in_background(load_model)
            else:
                build_resources.enter_context(_bulk(model))
        passages = chunk_corpus(docs, settings.max_chars, settings.overlap)
        if not passages:
            raise IndexUnavailable("the corpus has no text to index")
        from .embedding.late import MODES

        if settings.fast_build not in MODES:
            from .errors import PudongQAError

            raise PudongQAError(f"fast_build={settings.fast_build!r}: use one of {', '.join(MODES)}")

        if model is None and settings.fast_build != "off":  # the method depends on the model
            model = loading() if loading else load_model()
        texts = [indexed_text(p) for p in passages]
        sentences = [s for p in passages for s in p.sentence_texts()]
        mode = settings.fast_build if getattr(model, "token_states", False) else "off"
        if mode != "off":  # vectors depend on how they were made: never mix two methods in one index
            state["vectors"] = f"late-{mode}/{model.tokens_identity(settings.build_int8)}"
        method = state.get("vectors", "direct")
        # the texts of documents the index has never seen are embedded from the start, while the
        # previous index's vectors of the others are read
        ahead = [] if force or mode != "off" else _texts_of_new_documents(index_dir, passages)
        previous: Future = Future()
        started = threading.Event()

        def embed():
            with contextlib.ExitStack() as held:
                def ready() -> None:  # the model loaded and holding its build sessions (once)
                    nonlocal model
                    if model is None:  # an unchanged or shrinking corpus needs no model
                        model = loading() if loading else load_model()
                    held.enter_context(_bulk(model))

                fresh: dict[str, np.ndarray] = {}
                if ahead:
                    try:
                        ready()
                    finally:
                        started.set()
                    fresh = dict(zip(ahead, model.encode_passages(ahead, progress=progress)))
                known = {**fresh, **previous.result()}
                if not ahead and any(t not in known for t in texts + sentences):
                    ready()
                vecs, embedded = embed_texts(model, texts + sentences, known, progress=progress, passages=passages,
                                             mode=mode, int8=settings.build_int8)
                return vecs, embedded + len(fresh)

        # the model runs in native threads that release the GIL: meanwhile the previous vectors
        # are read, jieba tokenizes here and the files that need no vectors are written
        wait_for_vectors = in_background(embed)
        embedded = 0
        if ahead:  # until the model runs, work here would only slow its loading (the GIL): wait
            started.wait()
        try:
            cache = {} if force else _previous_vectors(index_dir, state["model"], method)
        except BaseException:
            previous.cancel()  # the model's thread stops waiting for them and ends
            raise
        previous.set_result(cache)
        new = sum(t not in cache for t in texts + sentences)
        log(f"Embedding {len(texts)} passages and {len(sentences)} sentences"
            + (f" ({new} new)" if cache else "")
            + (f", pooling from token states ({method})" if mode != "off" else "") + " …")

        def vectors() -> tuple[np.ndarray, np.ndarray]:
            nonlocal embedded
            vecs, embedded = wait_for_vectors()
            cache.clear()
            return vecs[: len(texts)], vecs[len(texts):]

        folded_docs = {d.source: normalize(d.text) for d in docs}  # for the terms and the tokens' reuse
        terms = corpus_terms(docs, folded_docs.values())
        tokenizer = Tokenizer(terms)
        dictionary = tokenizer.dictionary_changes()
        token_cache = {} if force else _previous_tokens(index_dir, state, dictionary, folded_docs, passages)
        del folded_docs
        tokens, tokenized = tokenize_texts(tokenizer, token_texts(passages), token_cache)
        del token_cache
        folds = {} if force else _previous_folds(index_dir, state)
        tmp = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}.tmp-", dir=index_dir.parent))
        try:
            write_index(tmp, reading, passages, terms, dictionary, tokens[: len(passages)], tokens[len(passages):],
                        vectors, state, settings, folds)
            _fsync_tree(tmp)
            _swap_in(tmp, index_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return BuildReport(len(docs), len(passages), time.perf_counter() - t0, index_dir, True, reading.skipped, embedded,
                       tokenized, reasons)


# ---------------------------------------------------------------- load


def verify_files(index_dir: Path) -> list[str]:
    """Files that are missing or whose checksum differs from the manifest."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        return [MANIFEST]
    bad = []
    for name, digest in manifest.get("files", {}).items():
        path = index_dir / name
        if not path.is_file() or _sha256(path) != digest:
            bad.append(name)
    return bad


def load_index(index_dir: Path, verify: bool = True) -> Index:
    """Load a built index into memory; raises IndexUnavailable with a remedy if it is unusable."""
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexUnavailable(f"no index at {index_dir}; run `pudong-qa build`")
    if verify:
        bad = verify_files(index_dir)
        if bad:
            raise IndexUnavailable(f"index at {index_dir} is damaged ({', '.join(bad)}); run `pudong-qa build --force`")
    try:
        passages = read_passages(index_dir)
        terms = json.loads((index_dir / "userdict.json").read_text(encoding="utf-8"))
        info = manifest.get("store") or {"kind": "local"}
        if info.get("kind") == "milvus":
            from .milvus import MilvusStore

            store = MilvusStore.load(index_dir, passages, info, Settings.from_env().milvus_token)
        else:
            store = LocalStore.load(index_dir, passages)
    except IndexUnavailable:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexUnavailable(f"index at {index_dir} cannot be read ({exc}); run `pudong-qa build --force`") from exc
    titles = {d["source"]: d["title"] for d in manifest.get("documents", [])}
    return Index(index_dir, manifest, store, Tokenizer(terms), titles)


def read_documents(index_dir: Path) -> dict[str, dict]:
    """Each indexed document (source, title, format, encoding, extracted text), by source."""
    try:
        records = json.loads((Path(index_dir) / DOCUMENTS).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"index at {index_dir} has no readable {DOCUMENTS}; run `pudong-qa build --force`") \
            from exc
    return {r["source"]: r for r in records}


def read_source(settings: Settings, source: str) -> str:
    """The extracted text a citation's offsets point into (for Word, PDF and HTML files this is
    the text the index stored, not the file's bytes)."""
    docs = read_documents(settings.index)
    if source not in docs:
        raise IndexUnavailable(f"{source} is not in the index at {settings.index}")
    return docs[source]["text"]


__all__ = [
    "BuildReport", "Index", "IndexUnavailable", "build_index", "expected_state", "indexed_text", "load_index",
    "read_manifest", "stale_reasons", "verify_files",
]
