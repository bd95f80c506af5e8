"""Hybrid search: BM25 (jieba) + dense (e5) over passages, sentence-level answers, citations.

The one retrieval API; the CLI, the chat page and the HTTP API only render what
``Searcher.search`` returns. A ``Searcher`` is given what it searches (an index and an
encoder, loaded once) and runs the stages of stages.py in order:

    analyze (query.py) → lexical_stage → candidate_stage → rank_stage → aspect_stage → answer_stage
    → result_stage → confidence (answer.py)

It never builds: opening an index, or building it first when it is stale, is the service's
job (service.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Protocol

import numpy as np

from ..embedding import Encoder
from ..passages import PassageTable, labels
from ..results import ANSWERED, NOT_FOUND, UNSURE, Result, SearchResponse
from ..settings import DEFAULT_TOP_K
from ..stores import Store
from ..tokenize import Tokenizer, normalize, normalize_all
from .answer import confidence, missing_words, sentence_prior
from .query import Question, Titles, analyze, aspect, clean_query
from .ranking import Fusion, SearchConfig, maxnorm
from .stages import (
    Candidates,
    Ranking,
    answer_stage,
    aspect_stage,
    candidate_stage,
    lexical_stage,
    rank_stage,
    result_stage,
)
from .synonyms import Synonyms

NORMALIZED_CACHE_SIZE = 50_000  # passages whose normalised text is kept between questions
QUERY_BATCH = 64

__all__ = ["Index", "SearchConfig", "SearchResponse", "Searcher"]


class Index(Protocol):
    """What a search reads of an index (``index.load_index`` gives one; tests may build their own)."""

    store: Store
    tokenizer: Tokenizer
    titles: dict[str, str]  # source -> document title

    @property
    def passages(self): ...


@dataclass(frozen=True)
class LexicalResult:
    """A question's lexical stage, computed on ``index`` (possibly while its vector was made)."""

    index: Index
    scores: np.ndarray  # per passage, in [0, 1]
    sentences: np.ndarray  # raw BM25 per sentence row
    seconds: float


@dataclass
class IndexCaches:
    """One index and what searches learn about it; replaced whole when the index is swapped."""

    index: Index
    normalized: dict[int, tuple[str, list[str]]] = field(default_factory=dict)  # pid -> folded passage, sentences
    titles: dict[str, str] = field(default_factory=dict)  # source -> normalised title
    named: Titles | None = None  # every document's normalised title, to find those a question names
    synonyms: Synonyms | None = None  # the common table and the short forms the index's documents define


@dataclass
class Batch:
    """A chunk of a batch's questions with their vectors (and those of their aspects)."""

    positions: list[int]
    vectors: np.ndarray | None
    aspects: dict[int, np.ndarray]
    embed_seconds: float  # per question


def as_asked(word: str, question: str) -> str:
    """A (normalised) word of the question as the question spells it ("gdp" → "GDP"), when the
    normalised question lines up with it character for character."""
    folded = normalize(question)
    at = folded.find(word) if len(folded) == len(question) else -1
    return question[at : at + len(word)] if at >= 0 else word


def expansion_pairs(q: Question) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((as_asked(e.word, q.text), e.others) for e in q.expansions)


class Searcher:
    """Holds an index and an encoder (loaded once); ``search`` is safe to call from several threads."""

    def __init__(self, index: Index, model: Encoder, config: SearchConfig | None = None) -> None:
        self.model = model
        self.config = config or SearchConfig()
        self.fusion = Fusion.from_config(self.config)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self.swap_index(index)

    def swap_index(self, index: Index) -> None:
        """Replace the index in one assignment, so concurrent searches see old or new, never a mix."""
        self._caches = IndexCaches(index)

    @property
    def index(self) -> Index:
        return self._caches.index

    def search(self, question: str, top_k: int = DEFAULT_TOP_K) -> SearchResponse:
        return self.search_many([question], top_k)[0]

    def search_many(self, questions: list[str], top_k: int = DEFAULT_TOP_K, batch_size: int = QUERY_BATCH,
                    on_progress: Callable[[int], None] | None = None) -> list[SearchResponse]:
        """Answer many questions; embeds the next chunk while searching this one (the model
        runs outside the GIL), so batches keep both cores busy."""
        queries = [clean_query(q) for q in questions]
        chunks = [list(range(k, min(k + batch_size, len(queries)))) for k in range(0, len(queries), batch_size)]
        out: list[SearchResponse] = []

        def answer(batch: Batch, analysed=None, lexical=None) -> None:
            out.extend(self._answer(questions, queries, batch, top_k, analysed, lexical))
            if on_progress:
                on_progress(len(batch.positions))

        if len(questions) == 1:  # one question (the chat page): BM25 runs while the model embeds
            pending = self._embedding_thread().submit(self._embed, queries, chunks[0], batch_size)
            index = self.index
            analysed = self._analyse(questions, queries, chunks[0], index)
            lexical = {i: self._lexical(index, q) for i, q in analysed.items()}  # before waiting for the vector
            answer(pending.result(), analysed, lexical)
        elif len(chunks) <= 1:  # a few questions: the store may fetch them together (prefetch)
            for chunk in chunks:
                answer(self._embed(queries, chunk, batch_size))
        else:
            pool = self._embedding_thread()
            pending = pool.submit(self._embed, queries, chunks[0], batch_size)
            for n in range(len(chunks)):
                embedded = pending.result()
                if n + 1 < len(chunks):
                    pending = pool.submit(self._embed, queries, chunks[n + 1], batch_size)
                answer(embedded)
        return out

    def _embed(self, queries: list[str], chunk: list[int], batch_size: int) -> Batch:
        """The questions' vectors, and those of what they ask besides the titles they name (in
        the same batch: after the ranking one more call would cost a batch its speed)."""
        texts = [queries[i] for i in chunk if queries[i]]
        aspects = {i: a for i in chunk if queries[i] and (a := self.aspect_text(queries[i]))}
        t = time.perf_counter()
        vecs = self.model.encode_queries(texts + list(aspects.values()), batch_size=batch_size) if texts else None
        seconds = (time.perf_counter() - t) / max(len(texts), 1)
        if vecs is None:
            return Batch(chunk, None, {}, seconds)
        return Batch(chunk, vecs[: len(texts)], dict(zip(aspects, vecs[len(texts) :])), seconds)

    def _analyse(self, questions: list[str], queries: list[str], chunk: list[int], index: Index) -> dict[int, Question]:
        return {i: self._question(index, questions[i], queries[i]) for i in chunk if queries[i]}

    def _question(self, index: Index, question: str, query: str) -> Question:
        """The question analysed, with the other words for what it names that the index holds."""
        caches = self._caches if self._caches.index is index else IndexCaches(index)
        if caches.synonyms is None:  # one table per index, built on first use
            caches.synonyms = Synonyms.of(getattr(index, "short_forms", None))
        store, tokenizer = index.store, index.tokenizer

        def frequency(phrase: str) -> int:  # passages holding its rarest content word (a bound on the phrase's)
            return min((store.document_frequency(w) for w in tokenizer.content_words(phrase)), default=0)

        def useful(word: str, other: str, defined: bool) -> bool:
            # the table's other word when the documents say it; a document's short form only when the
            # documents say it more often than the word asked: "Sunnyside" asked of a text that names
            # it throughout and transliterates it once (森尼赛德(Sunnyside)) needs no 森尼赛德
            return frequency(other) > (frequency(word) if defined else 0)

        return analyze(question, query, tokenizer, caches.synonyms.expand(query, useful))

    def _answer(self, questions: list[str], queries: list[str], batch: Batch, top_k: int,
                analysed: dict[int, Question] | None = None,
                lexical: dict[int, LexicalResult] | None = None) -> list[SearchResponse]:
        vec_rows = iter(batch.vectors if batch.vectors is not None else [])
        index = self.index
        if analysed is None:
            analysed = self._analyse(questions, queries, batch.positions, index)
        if batch.vectors is not None and len(analysed) > 1:
            index.store.prefetch([q.tokens for q in analysed.values()], batch.vectors, self.config.candidates)
        out = []
        for i in batch.positions:
            if not queries[i]:
                out.append(SearchResponse(questions[i], queries[i], False, []))
                continue
            resp = self.search_vector(questions[i], queries[i], next(vec_rows), top_k, analysed[i],
                                      (lexical or {}).get(i), batch.aspects.get(i))
            resp.timings["embed"] = batch.embed_seconds
            out.append(resp)
        return out

    def _embedding_thread(self) -> ThreadPoolExecutor:
        """Threads that embed questions while this one searches (ONNX Runtime releases the GIL):
        a single question's BM25, or a batch's previous chunk."""
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pudong-qa-embed")
        return self._pool

    def _lexical(self, index: Index, q: Question) -> LexicalResult:
        t = time.perf_counter()
        scores, sentences = lexical_stage(index.store, q.tokens, self.config.sentence_share)
        if q.expanded_tokens and self.config.synonym_weight:  # the other words count less than the asked ones
            more, more_sentences = lexical_stage(index.store, q.expanded_tokens, self.config.sentence_share)
            scores = maxnorm(scores + self.config.synonym_weight * more)
            sentences = sentences + self.config.synonym_weight * more_sentences
        return LexicalResult(index, scores, sentences, time.perf_counter() - t)

    def search_vector(self, question: str, query: str, qvec: np.ndarray, top_k: int,
                      analysed: Question | None = None, lexical: LexicalResult | None = None,
                      aspect_vec: np.ndarray | None = None) -> SearchResponse:
        """Run the stages for one cleaned query whose vector (and analysis, and lexical scores,
        and the vector of what it asks besides the titles it names, ``aspect_text``) is already known."""
        cfg = self.config
        caches = self._caches
        index = caches.index
        store = index.store
        q = analysed or self._question(index, question, query)
        if lexical is None or lexical.index is not index:  # not computed yet, or on an index since swapped
            lexical = self._lexical(index, q)
        t1 = time.perf_counter()
        t0 = t1 - lexical.seconds
        cands = candidate_stage(store, lexical.scores, qvec, cfg.candidates)
        t2 = time.perf_counter()
        ranking = rank_stage(q, lexical.scores, cands, store.passages, lambda pid: self._normalized(caches, pid),
                             self.fusion, cfg.sentence_share, use_lexical=bool(lexical.scores.max() > 0),
                             title_of=lambda src, title: self._title(caches, src, title))
        prior = self._prior(caches, q, self._closeness(caches, q, cands, ranking, aspect_vec))
        if not q.about_document:  # the preamble answers those, whatever words it shares
            ranking = answer_stage(ranking, cands, prior, cfg.answer_weight, cfg.answer_depth)
        results = result_stage(ranking, cands, lexical.sentences, store, index.titles, cfg, top_k, prior)
        results = [replace(r, missing=tuple(as_asked(w, question) for w in missing_words(q, self._said(caches, r))))
                   for r in results]
        first_confidence = 0.0
        if results:
            first = results[0]
            top = int(np.searchsorted(cands.ids, first.passage_id))
            # its document's title counts as said in it, as for BM25 and the phrase bonus
            first_text = self._said(caches, first)
            first_confidence = confidence(q, normalize(first.answer), first_text, float(cands.sentences(top).max()),
                                          cands.dense, cands.sentence_cos, store.idf, cfg)
        answered = first_confidence >= cfg.min_confidence
        t3 = time.perf_counter()
        verdict = NOT_FOUND if not answered else ANSWERED if first_confidence >= cfg.sure_confidence else UNSURE
        return SearchResponse(question, query, answered, results, first_confidence,
                              {"bm25": t1 - t0, "dense": t2 - t1, "fusion": t3 - t2}, verdict,
                              expansions=expansion_pairs(q))

    def _said(self, caches: IndexCaches, r: Result) -> str:
        """What a result's passage says, normalised; its document's title counts as said in it,
        as for BM25 and the phrase bonus."""
        title = self._title(caches, r.citation.source, r.citation.title)
        return f"{title}\n{self._normalized(caches, r.passage_id)[0]}"

    def _closeness(self, caches: IndexCaches, q: Question, cands: Candidates, ranking: Ranking,
                   aspect_vec: np.ndarray | None) -> dict[int, np.ndarray]:
        """The first ``answer_depth`` passages' sentences' closeness to the question's aspect, when
        the question names one of their documents' titles and asks more than that subject."""
        cfg = self.config
        if aspect_vec is None or not cfg.aspect_weight or q.about_document:
            return {}
        store = caches.index.store
        first_few = [int(cands.ids[k]) for k in ranking.order[: cfg.answer_depth]]
        known = self._titles(caches).names
        sources, titles = (labels(store.passages, name, first_few) for name in ("source", "title"))
        named = {t for t in map(partial(self._title, caches), sources, titles) if t in known and t in q.query}
        if named and not all(any(w in t for t in named) for w in q.words):
            return aspect_stage(aspect_vec, first_few, store)
        return {}

    def _prior(self, caches: IndexCaches, q: Question,
               closeness: dict[int, np.ndarray]) -> Callable[[int], np.ndarray]:
        """Each passage's sentences' answer prior (``answer.sentence_prior`` plus the aspect
        closeness), computed once per passage a question looks at."""
        cfg = self.config
        index = caches.index
        priors: dict[int, np.ndarray] = {}

        def prior(pid: int) -> np.ndarray:
            if pid not in priors:  # labels, not passages[pid]: at a million passages decoding one costs
                source, title = (labels(index.store.passages, name, [pid])[0] for name in ("source", "title"))
                priors[pid] = sentence_prior(q, self._normalized(caches, pid)[1], index.tokenizer.entity_tags,
                                             index.store.idf, cfg, self._title(caches, source, title))
                if pid in closeness:
                    priors[pid] = priors[pid] + cfg.aspect_weight * closeness[pid]
            return priors[pid]

        return prior

    def aspect_text(self, query: str) -> str | None:
        """What a cleaned query asks besides the titles of this index's documents that it names."""
        return aspect(query, self._titles(self._caches).named_in(query))

    @staticmethod
    def _titles(caches: IndexCaches) -> Titles:
        if caches.named is None:  # one set per index, built on first use
            caches.named = Titles.of(normalize(t) for t in caches.index.titles.values())
        return caches.named

    @staticmethod
    def _title(caches: IndexCaches, source: str, fallback: str) -> str:
        """A document's normalised title (cached)."""
        cache = caches.titles
        if source not in cache:
            cache[source] = normalize(caches.index.titles.get(source) or fallback or "")
        return cache[source]

    @staticmethod
    def _normalized(caches: IndexCaches, pid: int) -> tuple[str, list[str]]:
        """Normalised passage and sentence texts, cached (the same passages recur across queries)."""
        cache = caches.normalized
        if pid not in cache:
            if len(cache) > NORMALIZED_CACHE_SIZE:
                cache.clear()
            passages = caches.index.passages
            if isinstance(passages, PassageTable):
                cache[pid] = passages.folded(pid)
            else:
                p = passages[pid]
                folded = normalize_all([p.text, *p.sentence_texts()])
                cache[pid] = (folded[0], folded[1:])
        return cache[pid]
