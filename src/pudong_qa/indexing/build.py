"""``build_index``: files → documents → passages → vectors and tokens → a new index folder.

Safe against crashes and concurrent builds: the new index is written into a temporary folder
and swapped in under a file lock (``folders``). Incremental: texts the previous index already
embedded or tokenized are taken from it (``reuse``), and the model embeds the rest in a
background thread meanwhile (``embed``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from ..chunking import Passage, chunk_corpus
from ..corpus import CorpusReading, Skipped, read_corpus
from ..embedding import Encoder
from ..errors import CorpusError, IndexUnavailable, Problem
from ..formats.ocr import ocr_context, options_from
from ..formats.ocr_cache import OcrCache, cache_folder
from ..index import DOCUMENTS, MANIFEST, SHORT_FORMS, USER_DICT, read_manifest, verify_files
from ..passages import write_passages
from ..progress import Progress, Step, ignore
from ..search.synonyms import defined_short_forms
from ..settings import Settings
from ..stores import StoreInput, store_class
from ..tokenize import Tokenizer, corpus_terms, normalize
from . import reuse
from .embed import BuildModel, EmbeddingJob
from .folders import build_lock, cleanup_strays, staging
from .manifest import IDENTITY_KEYS, expected_state, manifest_record, needs_model, stale_reasons, store_options
from .texts import embedded_texts, token_texts
from .tokens import TOKENS, save_tokens, tokenize_texts


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
    reasons: list[Problem] = field(default_factory=list)  # why the index was out of date (``stale_reasons``)


@dataclass
class Tokens:
    """The BM25 side of a build: every text's tokens and the jieba dictionary they were cut with."""

    passages: list[list[str]]
    sentences: list[list[str]]
    terms: list[str]  # corpus terms added to jieba
    dictionary: dict[str, int]  # the ones that changed its dictionary, with their weights
    tokenized: int  # texts tokenized by this build
    short_forms: dict[str, list[str]] = field(default_factory=dict)  # the short forms the documents define


def build_index(
    settings: Settings,
    force: bool = False,
    model: Encoder | None = None,
    progress: bool = False,
    log: Callable[[str], None] = lambda _: None,
    lock_timeout: float | None = None,
    strict: bool = False,
    steps: Progress = ignore,
) -> BuildReport:
    """Build the index unless it is up to date. Files that cannot be read are skipped and
    reported (``strict`` makes any of them an error, leaving the previous index); vectors and
    tokens of unchanged passages are reused unless ``force``. ``steps`` hears each stage begin
    (``progress.STAGES``) and the files read."""
    t0 = time.perf_counter()
    index_dir = Path(settings.index)
    index_dir.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(index_dir, lock_timeout, log), contextlib.ExitStack() as held:
        cleanup_strays(index_dir)
        reading = read_documents(settings, strict, log, steps)
        state = expected_state(settings)
        reasons = stale_reasons(settings, want=state)
        if not force and not reasons and not verify_files(index_dir):
            passages = (read_manifest(index_dir) or {}).get("passages", 0)
            return BuildReport(len(reading.documents), passages, time.perf_counter() - t0, index_dir, False,
                               reading.skipped)
        encoder = BuildModel(settings, model, progress, log, held)
        if force or needs_model(reasons):
            encoder.prepare()
        steps(Step("chunk", 0, len(reading.documents)))
        passages = chunk_corpus(reading.documents, settings.max_chars, settings.overlap)
        if not passages:
            raise IndexUnavailable("the corpus has no text to index")
        texts = embedded_texts(passages)
        job = EmbeddingJob(encoder, texts, [] if force else reuse.texts_of_new_documents(index_dir, passages,
                                                                                        state["corpus"]),
                           progress)
        new = job.supply(lambda: {} if force else reuse.previous_vectors(index_dir, state["model"],
                                                                        store_options(settings)))
        log(f"Embedding {len(passages)} passages and {len(texts) - len(passages)} sentences"
            + (f" ({new} new)" if new < len(texts) else "") + " …")
        steps(Step("embed", 0, new))
        steps(Step("tokenize", 0, len(texts)))
        tokens = tokenize(reading, passages, index_dir, state, settings, force)
        folds = {} if force else reuse.previous_folds(index_dir, state)
        steps(Step("write", 0, len(passages)))
        with staging(index_dir) as tmp:
            write_index(tmp, reading, passages, tokens, partial(job.vectors, len(passages)), state, settings, folds)
    return BuildReport(len(reading.documents), len(passages), time.perf_counter() - t0, index_dir, True,
                       reading.skipped, job.embedded, tokens.tokenized, reasons)


def read_documents(settings: Settings, strict: bool, log: Callable[[str], None],
                   steps: Progress = ignore) -> CorpusReading:
    """The corpus's documents, read before the index is touched; unreadable files are named. Scanned
    pages are read by OCR through the index's OCR cache, pruned to the files still in the corpus;
    ``steps`` hears of each file read and each page recognised."""
    cache = OcrCache(cache_folder(settings.cache_dir, settings.index))
    with ocr_context(options_from(settings), cache, steps) as ocr:
        reading = read_corpus(settings.corpus, settings.root, settings.max_file_bytes, steps)
    cache.prune(ocr.used)
    for k in reading.skipped:
        log(f"skipped {k.source}: {k.reason}")
    if strict and reading.skipped:
        raise CorpusError(f"{len(reading.skipped)} file(s) could not be read (--strict): "
                          + "; ".join(f"{k.source}: {k.reason}" for k in reading.skipped))
    if not reading.documents:
        raise CorpusError(f"{settings.corpus}: none of the files could be read")
    pages = [Skipped(source, str(why), why.code, why.params) for source, why in ocr.skipped]  # scanned pages
    for k in pages:
        log(f"skipped {k.source}, {k.reason}")
    reading.skipped = sorted(reading.skipped + pages, key=lambda s: s.source)
    return reading


def tokenize(reading: CorpusReading, passages: list[Passage], index_dir: Path, state: dict[str, Any],
             settings: Settings, force: bool) -> Tokens:
    """Every passage's and sentence's BM25 tokens with the corpus's own terms in jieba's
    dictionary, reusing the previous index's tokens of texts whose cut cannot have changed."""
    folded_docs = {d.source: normalize(d.text) for d in reading.documents}
    terms = corpus_terms(reading.documents, folded_docs.values())
    tokenizer = Tokenizer(terms, cache_dir=settings.cache_dir)
    dictionary = tokenizer.dictionary_changes()
    cache = {} if force else reuse.previous_tokens(index_dir, state, dictionary, folded_docs, passages)
    short_forms = defined_short_forms(folded_docs.values(), tokenizer.tagged)
    del folded_docs
    tokens, tokenized = tokenize_texts(tokenizer, token_texts(passages), cache)
    return Tokens(tokens[: len(passages)], tokens[len(passages):], terms, dictionary, tokenized, short_forms)


def write_index(directory: Path, reading: CorpusReading, passages: list[Passage], tokens: Tokens,
                vectors: Callable[[], tuple[np.ndarray, np.ndarray]], state: dict[str, Any], settings: Settings,
                folds: dict[str, str] | None = None) -> None:
    """Write every index file into ``directory`` and the manifest last. ``vectors`` returns the
    passage and sentence vectors; it is called only once the files that need no vectors are
    written, so those are written while the model still runs."""
    (directory / DOCUMENTS).write_text(json.dumps(
        [{"source": d.source, "title": d.title, "format": Path(d.source).suffix.lower().lstrip("."),
          "encoding": d.encoding, "sha256": d.sha256, "text": d.text} | ({"layout": d.layout} if d.layout else {})
         for d in reading.documents],
        ensure_ascii=False), encoding="utf-8")
    (directory / USER_DICT).write_text(json.dumps(tokens.terms, ensure_ascii=False), encoding="utf-8")
    (directory / SHORT_FORMS).write_text(json.dumps(tokens.short_forms, ensure_ascii=False), encoding="utf-8")
    write_passages(directory, passages, folds)
    save_tokens(directory / TOKENS, tokens.passages + tokens.sentences, tokens.dictionary)
    shapes: dict[str, tuple[int, ...]] = {}

    def counted() -> tuple[np.ndarray, np.ndarray]:
        passage_vectors, sentence_vectors = vectors()
        shapes["passages"], shapes["sentences"] = passage_vectors.shape, sentence_vectors.shape
        return passage_vectors, sentence_vectors

    options = store_options(settings)
    identity = {k: state.get(k) for k in IDENTITY_KEYS}
    data = StoreInput(Path(settings.index), passages, tokens.passages, tokens.sentences, counted, identity)
    store_info = store_class(options).write(directory, data, options)
    manifest = manifest_record(directory, reading, passages, shapes["sentences"][0], shapes["passages"][1], state,
                               store_info, settings.model)
    (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
