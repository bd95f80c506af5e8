"""Hybrid search: BM25 (jieba) + dense (e5) over passages, sentence-level answers, citations.

The one retrieval API; the CLI and the chat page only render what ``Searcher.search``
returns. A question goes through named stages, each taking and returning plain data:

    analyze (query.py) → lexical_stage → candidate_stage → rank_stage → aspect_stage → answer_stage
    → result_stage → confidence (answer.py)

Storage is reached only through the ``Store`` interface (store.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .answer import answer_span, confidence, sentence_prior, word_coverage
from .chunking import Passage
from .index import Index
from .passages import PassageTable, labels, passages_of
from .query import MAX_QUERY_CHARS, Question, Titles, analyze, aspect, clean_query, defines, question_problem
from .ranking import Fusion, SearchConfig, maxnorm, phrase_score, rangenorm, title_score
from .results import Citation, Result, SearchResponse
from .store import Store
from .tokenize import normalize, normalize_all

NORMALIZED_CACHE_SIZE = 50_000  # passages whose normalised text is kept between questions
QUERY_BATCH = 64

__all__ = ["MAX_QUERY_CHARS", "Citation", "Result", "SearchConfig", "SearchResponse", "Searcher", "clean_query",
           "question_problem"]


# ---------------------------------------------------------------- stages


def lexical_stage(store: Store, tokens: Sequence[str], sentence_share: float) -> tuple[np.ndarray, np.ndarray]:
    """(per-passage lexical score in [0, 1], raw BM25 of every sentence): a passage scores by
    itself and by its best single sentence, so one sentence that matches well is not diluted."""
    raw = store.lexical_scores(list(tokens))
    best_sentence = np.zeros(len(store.passages), dtype=np.float32)
    np.maximum.at(best_sentence, store.sentence_owner, raw.sentences)
    combined = maxnorm(raw.passages)  # in place from here: at a million passages copies cost
    combined *= 1 - sentence_share
    best_sentence = maxnorm(best_sentence)
    best_sentence *= sentence_share
    combined += best_sentence
    return combined, raw.sentences


@dataclass(frozen=True)
class Candidates:
    """The passages worth reranking, with their dense scores and their sentences' cosines."""

    ids: np.ndarray  # passage ids, ascending
    dense: np.ndarray  # passage cosine, per candidate
    sentence_cos: np.ndarray  # the candidates' sentences' cosines, concatenated
    bounds: np.ndarray  # candidate k's sentences are sentence_cos[bounds[k]:bounds[k+1]]

    def sentences(self, k: int) -> np.ndarray:
        return self.sentence_cos[self.bounds[k] : self.bounds[k + 1]]

    @property
    def best_sentence(self) -> np.ndarray:
        if not len(self.sentence_cos):
            return np.zeros(len(self.ids))
        return np.maximum.reduceat(self.sentence_cos, self.bounds[:-1])


def _top(x: np.ndarray, k: int) -> np.ndarray:
    return np.argpartition(-x, k)[:k] if len(x) > k else np.arange(len(x))


def sentence_rows(store: Store, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sentence rows of passages ``ids``, one passage after another, and where each passage's
    rows start: passage k's are rows[bounds[k]:bounds[k+1]]."""
    starts, ends = store.sentence_offsets[ids], store.sentence_offsets[ids + 1]
    rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
    return rows, np.concatenate([[0], np.cumsum(ends - starts)])


def candidate_stage(store: Store, lexical: np.ndarray, qvec: np.ndarray, n: int) -> Candidates:
    """The best ``n`` passages of each retriever, and dense scores for them and their sentences."""
    ids = np.union1d(_top(lexical, n), store.nearest(qvec, n)).astype(np.int64)
    dense = store.passage_vectors(ids) @ qvec
    rows, bounds = sentence_rows(store, ids)
    return Candidates(ids, dense, store.sentence_vectors(rows) @ qvec, bounds)


@dataclass(frozen=True)
class Ranking:
    order: np.ndarray  # candidate positions, best first
    fused: np.ndarray  # fused score per candidate position
    defines: dict[int, list[bool]]  # passage id → which of its sentences define the asked term


def rank_stage(question: Question, lexical: np.ndarray, cands: Candidates, passages: Sequence[Passage],
               normalized: Callable[[int], tuple[str, list[str]]], fusion: Fusion, sentence_share: float,
               use_lexical: bool,
               document_words: Callable[[str], frozenset[str]] | None = None,
               idf: Callable[[str], float] | None = None,
               title_of: Callable[[str, str], str] | None = None) -> Ranking:
    """Fuse lexical and dense scores of the candidates and add the question's bonuses.
    ``title_of(source, passage title)`` gives a document's normalised title (the passage's own
    title, normalised, if omitted)."""
    ids = cands.ids
    if title_of is None:
        def title_of(source: str, title: str) -> str:
            return normalize(title)
    dense = (1 - sentence_share) * cands.dense + sentence_share * cands.best_sentence
    sources = labels(passages, "source", ids)
    names: dict[str, str] = {}  # each candidate document's normalised title, looked up once
    for src, title in zip(sources, labels(passages, "title", ids)):
        if src not in names:
            names[src] = title_of(src, title)
    phrase = definition = preamble = None
    if question.segments:
        # the document's title counts as said in each of its passages (as for BM25,
        # index.lexical_context): else the passage repeating the subject outranks the one that answers
        phrase = np.array([phrase_score(question.segments, f"{names[src]}\n{normalized(int(i))[0]}")
                           for src, i in zip(sources, ids)])
    found: dict[int, list[bool]] = {}
    if question.subject:
        found = {int(i): [defines(question.subject, s) for s in normalized(int(i))[1]] for i in ids}
        definition = np.array([any(found[int(i)]) for i in ids])
    if question.about_document:  # "why did the author write this report": the preamble says
        preamble = np.array([not section for section in labels(passages, "section", ids)])
    title = document = None
    if fusion.title_weight and len(set(sources)) > 1:  # one document: the title tells nothing apart
        title = np.array([title_score(question.query, names[src]) for src in sources])
    if fusion.document_weight and document_words and idf and question.words and len(set(sources)) > 1:
        weights = {w: idf(w) for w in question.words}
        total = sum(weights.values()) or 1.0
        share = {src: sum(wt for w, wt in weights.items() if w in document_words(src)) / total
                 for src in set(sources)}
        document = np.array([share[src] for src in sources])
    coverage = None
    if fusion.coverage_weight and idf and question.words:
        cov = []
        for src, i in zip(sources, ids):
            words = [w for w in question.words if w not in names[src]]
            cov.append(word_coverage(words, [idf(w) for w in words], normalized(int(i))[0]) if words else 0.0)
        coverage = np.array(cov)
    fused = fusion(lexical[ids], dense, use_lexical, phrase, definition, preamble, title, document, coverage)
    return Ranking(np.argsort(-fused, kind="stable"), fused, found)


def answer_stage(ranking: Ranking, cands: Candidates, prior: Callable[[int], np.ndarray], weight: float,
                 depth: int) -> Ranking:
    """Reorder the first ``depth`` passages by how well their best sentence answers (the asked-for
    kind of thing and the question's words together), as a reader would check the few best."""
    if not weight or len(ranking.order) < 2:
        return ranking
    top = ranking.order[:depth]
    fused = ranking.fused.copy()
    for k in top:
        p = prior(int(cands.ids[k]))
        fused[k] += weight * (float(p.max()) if len(p) else 0.0)
    order = np.concatenate([top[np.argsort(-fused[top], kind="stable")], ranking.order[depth:]])
    return Ranking(order, fused, ranking.defines)


def aspect_stage(vec: np.ndarray, ids: Sequence[int], store: Store) -> dict[int, np.ndarray]:
    """Each passage's sentences' closeness to what the question asks besides the article it names
    (``vec``: query.aspect, embedded), range-normalised over these passages' sentences."""
    ids = np.asarray(ids, dtype=np.int64)
    rows, bounds = sentence_rows(store, ids)
    cos = rangenorm(store.sentence_vectors(rows) @ vec)
    return {int(pid): cos[bounds[k] : bounds[k + 1]] for k, pid in enumerate(ids)}


def overlaps(p: Passage, c: Citation, share: float) -> bool:
    """A passage mostly inside one already shown adds nothing (overlapping windows)."""
    if c.source != p.source:
        return False
    return min(c.end, p.end) - max(c.start, p.start) > share * (p.end - p.start)


def result_stage(ranking: Ranking, cands: Candidates, sentence_lex: np.ndarray, store: Store,
                 titles: dict[str, str], cfg: SearchConfig, top_k: int,
                 prior: Callable[[int], np.ndarray] | None = None) -> list[Result]:
    """The first ``top_k`` distinct passages, each with its answer sentence(s) and citation."""
    results: list[Result] = []
    for k in ranking.order:
        pid = int(cands.ids[k])
        p = store.passages[pid]
        if any(overlaps(p, r.citation, cfg.overlap_share) for r in results):
            continue
        shown = [(r.citation.start, r.citation.end) for r in results if r.citation.source == p.source]
        lo, hi = int(store.sentence_offsets[pid]), int(store.sentence_offsets[pid + 1])
        span = answer_span(p, cands.sentences(int(k)), sentence_lex[lo:hi], cfg, ranking.defines.get(pid), shown,
                           prior(pid) if prior else None)
        if span is None:
            continue  # everything in it is already on screen
        a_start, a_end = span
        results.append(Result(
            rank=len(results) + 1, score=float(ranking.fused[k]), text=p.text,
            answer=p.text[a_start - p.start : a_end - p.start], answer_start=a_start, answer_end=a_end,
            citation=Citation(p.source, titles.get(p.source, p.title), p.section, p.paragraph, p.start, p.end, p.page),
            passage_id=p.id,
        ))
        if len(results) == top_k:
            break
    return results


# ---------------------------------------------------------------- the searcher


@dataclass(frozen=True)
class Lexical:
    """A question's lexical stage, computed on ``index`` (possibly while its vector was made)."""

    index: Index
    scores: np.ndarray  # per passage, in [0, 1]
    sentences: np.ndarray  # raw BM25 per sentence row
    seconds: float


@dataclass
class _State:
    index: Index
    normalized: dict[int, tuple[str, list[str]]]  # pid -> normalised passage and sentence texts
    documents: dict[str, frozenset[str]] | None = None  # source -> the document's words
    titles: dict[str, str] = field(default_factory=dict)  # source -> normalised title
    named: Titles | None = None  # every document's normalised title, to find those a question names


def _warm_model(settings, progress: bool):
    """The model, loaded and run once (the question session is made on first use)."""
    from .embedding import load_model

    model = load_model(settings.model, settings.cache_dir, settings.backend, progress)
    warm_up = getattr(model, "warm_up", None)
    if warm_up:
        warm_up()
    return model


class Searcher:
    """Holds the index and model (loaded once); ``search`` is safe to call from several threads."""

    def __init__(self, index: Index, model, config: SearchConfig | None = None) -> None:
        self.model = model
        self.config = config or SearchConfig()
        self.fusion = Fusion.from_config(self.config)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self.swap_index(index)

    def swap_index(self, index: Index) -> None:
        """Replace the index in one assignment, so concurrent searches see old or new, never a mix."""
        self._state = _State(index, {})

    @property
    def index(self) -> Index:
        return self._state.index

    @classmethod
    def open(cls, settings, log=print, progress: bool = False, rebuild: bool = True) -> Searcher:
        """Load the model once, rebuild the index first if it is missing or stale, load it."""
        from .index import build_index, load_index, stale_reasons, verify_files

        with ThreadPoolExecutor(max_workers=1) as pool:  # the model loads while we check the index
            loading = pool.submit(_warm_model, settings, progress)
            reasons = stale_reasons(settings) or [f"damaged file {f}" for f in verify_files(settings.index)]
            if not reasons:
                index = load_index(settings.index, verify=False)
                index.tokenizer.warm_up()
            model = loading.result()
        if reasons and rebuild:
            log(f"Index needs rebuilding ({'; '.join(reasons[:3])}); building …")
            report = build_index(settings, model=model, progress=progress, log=log)
            log(f"Built {report.passages} passages from {report.documents} documents in {report.seconds:.1f} s")
            index = load_index(settings.index)
        elif reasons:
            index = load_index(settings.index)
        return cls(index, model)

    def search(self, question: str, top_k: int = 5) -> SearchResponse:
        return self.search_many([question], top_k)[0]

    def search_many(self, questions: list[str], top_k: int = 5, batch_size: int = QUERY_BATCH,
                    on_progress: Callable[[int], None] | None = None) -> list[SearchResponse]:
        """Answer many questions; embeds the next chunk while searching this one (the model
        runs outside the GIL), so batches keep both cores busy."""
        queries = [clean_query(q) for q in questions]
        chunks = [list(range(k, min(k + batch_size, len(queries)))) for k in range(0, len(queries), batch_size)]

        def embed(chunk: list[int]) -> tuple[np.ndarray | None, dict[int, np.ndarray], float]:
            """The questions' vectors, and those of what they ask besides the titles they name
            (in the same batch: after the ranking one more call would cost a batch its speed)."""
            texts = [queries[i] for i in chunk if queries[i]]
            aspects = {i: a for i in chunk if queries[i] and (a := self.aspect_text(queries[i]))}
            t = time.perf_counter()
            vecs = self.model.encode_queries(texts + list(aspects.values()), batch_size=batch_size) if texts else None
            seconds = (time.perf_counter() - t) / max(len(texts), 1)
            if vecs is None:
                return None, {}, seconds
            return vecs[: len(texts)], dict(zip(aspects, vecs[len(texts) :])), seconds

        def analyse(chunk: list[int], index: Index) -> dict[int, Question]:
            return {i: analyze(questions[i], queries[i], index.tokenizer) for i in chunk if queries[i]}

        def answer(chunk: list[int], vecs: np.ndarray | None, aspect_vecs: dict[int, np.ndarray], t_embed: float,
                   analysed: dict[int, Question] | None = None, lexical: dict[int, Lexical] | None = None) -> None:
            vec_rows = iter(vecs if vecs is not None else [])
            index = self._state.index
            if analysed is None:
                analysed = analyse(chunk, index)
            if vecs is not None and len(analysed) > 1:
                index.store.prefetch([q.tokens for q in analysed.values()], vecs, self.config.candidates)
            for i in chunk:
                if not queries[i]:
                    out.append(SearchResponse(questions[i], queries[i], False, []))
                    continue
                resp = self.search_vector(questions[i], queries[i], next(vec_rows), top_k, analysed[i],
                                          (lexical or {}).get(i), aspect_vecs.get(i))
                resp.timings["embed"] = t_embed
                out.append(resp)
            if on_progress:
                on_progress(len(chunk))

        out: list[SearchResponse] = []
        if len(questions) == 1:  # one question (the chat page): BM25 runs while the model embeds
            pending = self._embedding_thread().submit(embed, chunks[0])
            index = self._state.index
            analysed = analyse(chunks[0], index)
            lexical = {i: self._lexical(index, q) for i, q in analysed.items()}  # before waiting for the vector
            answer(chunks[0], *pending.result(), analysed, lexical)
            return out
        if len(chunks) <= 1:  # a few questions: the store may fetch them together (prefetch)
            for chunk in chunks:
                answer(chunk, *embed(chunk))
            return out
        pool = self._embedding_thread()
        pending = pool.submit(embed, chunks[0])
        for n, chunk in enumerate(chunks):
            embedded = pending.result()
            if n + 1 < len(chunks):
                pending = pool.submit(embed, chunks[n + 1])
            answer(chunk, *embedded)
        return out

    def _embedding_thread(self) -> ThreadPoolExecutor:
        """Threads that embed questions while this one searches (ONNX Runtime releases the GIL):
        a single question's BM25, or a batch's previous chunk."""
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pudong-qa-embed")
        return self._pool

    def _lexical(self, index: Index, q: Question) -> Lexical:
        t = time.perf_counter()
        scores, sentences = lexical_stage(index.store, q.tokens, self.config.sentence_share)
        return Lexical(index, scores, sentences, time.perf_counter() - t)

    def search_vector(self, question: str, query: str, qvec: np.ndarray, top_k: int,
                      analysed: Question | None = None, early: Lexical | None = None,
                      aspect_vec: np.ndarray | None = None) -> SearchResponse:
        """Run the stages for one cleaned query whose vector (and analysis, and lexical scores,
        and the vector of what it asks besides the titles it names, ``aspect_text``) is already known."""
        cfg = self.config
        state = self._state
        index = state.index
        store = index.store

        def normalized(pid: int) -> tuple[str, list[str]]:
            return self._normalized(state, pid)

        q = analysed or analyze(question, query, index.tokenizer)
        if early is None or early.index is not index:  # not computed yet, or on an index since swapped
            early = self._lexical(index, q)
        lexical, sentence_lex = early.scores, early.sentences
        t1 = time.perf_counter()
        t0 = t1 - early.seconds
        cands = candidate_stage(store, lexical, qvec, cfg.candidates)
        t2 = time.perf_counter()
        def title_of(source: str, title: str) -> str:
            return self._title(state, source, title)

        ranking = rank_stage(q, lexical, cands, store.passages, normalized, self.fusion, cfg.sentence_share,
                             use_lexical=bool(lexical.max() > 0),
                             document_words=lambda src: self._document_words(state, src), idf=store.idf,
                             title_of=title_of)

        closeness: dict[int, np.ndarray] = {}  # to the question's aspect, for the first answer_depth passages
        if aspect_vec is not None and cfg.aspect_weight and not q.about_document:
            first_few = [int(cands.ids[k]) for k in ranking.order[: cfg.answer_depth]]
            # the titles of these documents that the question names (as aspect_text found them)
            known = self._titles(state).names
            columns = (labels(store.passages, name, first_few) for name in ("source", "title"))
            named = {t for t in map(title_of, *columns) if t in known and t in q.query}
            if named and not all(any(w in t for t in named) for w in q.words):  # it asks more than the subject
                closeness = aspect_stage(aspect_vec, first_few, store)
        priors: dict[int, np.ndarray] = {}

        def prior(pid: int) -> np.ndarray:
            if pid not in priors:  # labels, not passages[pid]: at a million passages decoding one costs
                source, title = (labels(store.passages, name, [pid])[0] for name in ("source", "title"))
                priors[pid] = sentence_prior(q, normalized(pid)[1], index.tokenizer.entity_tags, store.idf, cfg,
                                             title_of(source, title))
                if pid in closeness:
                    priors[pid] = priors[pid] + cfg.aspect_weight * closeness[pid]
            return priors[pid]

        if not q.about_document:  # the preamble answers those, whatever words it shares
            ranking = answer_stage(ranking, cands, prior, cfg.answer_weight, cfg.answer_depth)
        results = result_stage(ranking, cands, sentence_lex, store, index.titles, cfg, top_k, prior)
        sure = 0.0
        if results:
            top = int(np.searchsorted(cands.ids, results[0].passage_id))
            first = results[0]  # its document's title counts as said in it, as for BM25 and the phrase bonus
            said = f"{title_of(first.citation.source, first.citation.title)}\n{normalized(first.passage_id)[0]}"
            sure = confidence(q, normalize(first.answer), said,
                              float(cands.sentences(top).max()), cands.dense, cands.sentence_cos, store.idf, cfg,
                              index.tokenizer.entity_tags)
        t3 = time.perf_counter()
        return SearchResponse(question, query, sure >= cfg.min_confidence, results, sure,
                              {"bm25": t1 - t0, "dense": t2 - t1, "fusion": t3 - t2})

    def aspect_text(self, query: str) -> str | None:
        """What a cleaned query asks besides the titles of this index's documents that it names."""
        return aspect(query, self._titles(self._state).named_in(query))

    def _titles(self, state: _State) -> Titles:
        if state.named is None:  # one set per index, built on first use
            state.named = Titles.of(normalize(t) for t in state.index.titles.values())
        return state.named

    @staticmethod
    def _title(state: _State, source: str, fallback: str) -> str:
        """A document's normalised title (cached)."""
        cache = state.titles
        if source not in cache:
            cache[source] = normalize(state.index.titles.get(source) or fallback or "")
        return cache[source]

    @staticmethod
    def _document_words(state: _State, source: str) -> frozenset[str]:
        """The content words of a whole document (all its passages), cached per index."""
        cache = state.documents
        if cache is None:
            cache = state.documents = {}
        if source not in cache:
            tok = state.index.tokenizer
            text = "\n".join(normalize(p.text) for p in passages_of(state.index.passages, source))
            cache[source] = frozenset(tok.tokens(text, normalized=True))
        return cache[source]

    @staticmethod
    def _normalized(state: _State, pid: int) -> tuple[str, list[str]]:
        """Normalised passage and sentence texts, cached (the same passages recur across queries)."""
        cache = state.normalized
        if pid not in cache:
            if len(cache) > NORMALIZED_CACHE_SIZE:
                cache.clear()
            passages = state.index.passages
            if isinstance(passages, PassageTable):
                cache[pid] = passages.folded(pid)
            else:
                p = passages[pid]
                folded = normalize_all([p.text, *p.sentence_texts()])
                cache[pid] = (folded[0], folded[1:])
        return cache[pid]
