"""The stages a question goes through, each taking and returning plain data:

    lexical_stage → candidate_stage → rank_stage → aspect_stage → answer_stage → result_stage

(then ``answer.confidence``). Storage is reached only through the ``Store`` interface; the
``Searcher`` (searcher.py) holds the index and the model and runs them in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..chunking import Passage
from ..passages import labels
from ..results import Citation, Result
from ..stores import Store, top_indices
from ..tokenize import normalize
from .answer import answer_span
from .query import Question, defines
from .ranking import Fusion, SearchConfig, maxnorm, phrase_score, rangenorm, title_score


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


def sentence_rows(store: Store, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sentence rows of passages ``ids``, one passage after another, and where each passage's
    rows start: passage k's are rows[bounds[k]:bounds[k+1]]."""
    starts, ends = store.sentence_offsets[ids], store.sentence_offsets[ids + 1]
    rows = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
    return rows, np.concatenate([[0], np.cumsum(ends - starts)])


def candidate_stage(store: Store, lexical: np.ndarray, qvec: np.ndarray, n: int) -> Candidates:
    """The best ``n`` passages of each retriever, and dense scores for them and their sentences."""
    ids = np.union1d(top_indices(lexical, n), store.nearest(qvec, n)).astype(np.int64)
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
               use_lexical: bool, title_of: Callable[[str, str], str] | None = None) -> Ranking:
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
        # indexing.texts.lexical_context): else the passage repeating the subject outranks the one that answers
        phrase = np.array([phrase_score(question.segments, f"{names[src]}\n{normalized(int(i))[0]}")
                           for src, i in zip(sources, ids)])
    found: dict[int, list[bool]] = {}
    if question.subject:
        found = {int(i): [defines(question.subject, s) for s in normalized(int(i))[1]] for i in ids}
        definition = np.array([any(found[int(i)]) for i in ids])
    if question.about_document:  # "why did the author write this report": the preamble says
        preamble = np.array([not section for section in labels(passages, "section", ids)])
    title = None
    if fusion.title_weight and len(set(sources)) > 1:  # one document: the title tells nothing apart
        title = np.array([title_score(question.query, names[src]) for src in sources])
    fused = fusion(lexical[ids], dense, use_lexical, phrase, definition, preamble, title)
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
        results.append(Result(
            rank=len(results) + 1, score=float(ranking.fused[k]), text=p.text,
            answer=p.text[span.start - p.start : span.end - p.start], answer_start=span.start, answer_end=span.end,
            citation=Citation(p.source, titles.get(p.source, p.title), p.section, p.paragraph, p.start, p.end, p.page),
            passage_id=p.id, core=span.core,
        ))
        if len(results) == top_k:
            break
    return results

