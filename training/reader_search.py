"""The product's search with a reader deciding the first result, its answer sentence and the
verdict: how ``reader_policy.py record`` and ``chat_latency.py`` measured the reader through search.

``ReadingSearcher`` is the package's ``Searcher`` with ``search_vector`` redone: the same stages,
then the reader reads the best ``sentences`` sentences (by retrieval's own sentence scores) of the
first result, and of the next ``depth - 1`` only when the first reads below ``answered``; the
result that reads best, less ``rank_penalty`` per rank, goes first with its best-read sentence as
the answer; the verdict is answered / unsure / not_found by the policy's thresholds. The stage
calls are the package's search as of round 3 (docs/retrieval.md, "The reader"): if search's
stages change, change them here too before measuring again.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from pudong_qa.chunking import Passage
from pudong_qa.results import ANSWERED, NOT_FOUND, UNSURE, Result, SearchResponse
from pudong_qa.search.answer import answer_span, confidence, sentence_scores
from pudong_qa.search.query import Question, analyze
from pudong_qa.search.searcher import Index, LexicalResult, Searcher
from pudong_qa.search.stages import Candidates, Ranking, answer_stage, candidate_stage, rank_stage, result_stage
from pudong_qa.stores import Store
from pudong_qa.tokenize import normalize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reader_onnx import Candidate, Reader


@dataclass(frozen=True)
class Reading:
    """What the read step needs of a question's retrieval."""

    question: str
    store: Store
    results: list[Result]
    cands: Candidates
    ranking: Ranking
    sentence_lex: np.ndarray
    prior: Callable[[int], np.ndarray]


def read_stage(best: list[float], rank_penalty: float) -> int:
    """Which of the read results goes first: the best read, less ``rank_penalty`` per rank below
    the first (retrieval's order still counts), the higher one on a tie."""
    return max(range(len(best)), key=lambda k: (best[k] - rank_penalty * k, -k))


class ReadingSearcher(Searcher):
    """A ``Searcher`` whose reader decides whether, and with which result and sentence, it answers."""

    def __init__(self, index: Index, model, reader: Reader, config=None) -> None:
        super().__init__(index, model, config)
        self.reader = reader

    def search_vector(self, question: str, query: str, qvec: np.ndarray, top_k: int,
                      analysed: Question | None = None, lexical: LexicalResult | None = None,
                      aspect_vec: np.ndarray | None = None) -> SearchResponse:
        cfg = self.config
        caches = self._caches
        index = caches.index
        store = index.store
        q = analysed or analyze(question, query, index.tokenizer)
        if lexical is None or lexical.index is not index:
            lexical = self._lexical(index, q)
        t1 = time.perf_counter()
        t0 = t1 - lexical.seconds
        cands = candidate_stage(store, lexical.scores, qvec, cfg.candidates)
        t2 = time.perf_counter()
        ranking = rank_stage(q, lexical.scores, cands, store.passages, lambda pid: self._normalized(caches, pid),
                             self.fusion, cfg.sentence_share, use_lexical=bool(lexical.scores.max() > 0),
                             title_of=lambda src, title: self._title(caches, src, title))
        prior = self._prior(caches, q, self._closeness(caches, q, cands, ranking, aspect_vec))
        if not q.about_document:
            ranking = answer_stage(ranking, cands, prior, cfg.answer_weight, cfg.answer_depth)
        depth = max(top_k, self.reader.policy.depth)
        results = result_stage(ranking, cands, lexical.sentences, store, index.titles, cfg, depth, prior)
        first_confidence = 0.0
        if results:
            first = results[0]
            top = int(np.searchsorted(cands.ids, first.passage_id))
            first_text = (f"{self._title(caches, first.citation.source, first.citation.title)}\n"
                          f"{self._normalized(caches, first.passage_id)[0]}")
            first_confidence = confidence(q, normalize(first.answer), first_text, float(cands.sentences(top).max()),
                                          cands.dense, cands.sentence_cos, store.idf, cfg)
        reading = Reading(question, store, results, cands, ranking, lexical.sentences, prior)
        results, score, verdict = self._read(reading, top_k, first_confidence >= cfg.min_confidence)
        t3 = time.perf_counter()
        return SearchResponse(question, query, verdict == ANSWERED, results, score,
                              {"bm25": t1 - t0, "dense": t2 - t1, "fusion": t3 - t2}, verdict)

    def _read(self, r: Reading, top_k: int, evidence: bool) -> tuple[list[Result], float, str]:
        """The reader reads the first results' best sentences (the first result alone when it
        clearly answers, else the first ``depth``), puts the one that reads best first (less a
        penalty per rank), marks its best-read sentence as the answer, and says whether it answers
        (``evidence``: whether the word evidence alone would have answered)."""
        policy = self.reader.policy
        if not r.results:
            return [], 0.0, NOT_FOUND
        read = [self._read_result(r, 0)]
        if read[0][1].max(initial=0.0) < policy.answered:
            read += [self._read_result(r, k) for k in range(1, min(policy.depth, len(r.results)))]
        best = [float(probs.max(initial=0.0)) for _, probs in read]
        first = read_stage(best, policy.rank_penalty)
        rows, probs = read[first]
        lead = self._answer_at(r, first, int(rows[int(np.argmax(probs))]))
        results = [lead, *(x for k, x in enumerate(r.results) if k != first)][:top_k]
        results = [replace(x, rank=n) for n, x in enumerate(results, 1)]
        score = best[first]
        verdict = ANSWERED if score >= policy.answered else UNSURE if score >= policy.unsure else NOT_FOUND
        if verdict == ANSWERED and policy.with_confidence and not evidence:
            verdict = UNSURE  # the reader confirms it, the word evidence does not
        return results, score, verdict

    def _sentences(self, r: Reading, k: int) -> tuple[Passage, tuple]:
        """Result ``k``'s passage and what scores its sentences: their cosines and BM25, which of
        them define the asked term, their answer prior (``answer.sentence_scores``' inputs)."""
        pid = r.results[k].passage_id
        lo, hi = int(r.store.sentence_offsets[pid]), int(r.store.sentence_offsets[pid + 1])
        cos = r.cands.sentences(int(np.searchsorted(r.cands.ids, pid)))
        return r.store.passages[pid], (cos, r.sentence_lex[lo:hi], r.ranking.defines.get(pid), r.prior(pid))

    def _read_result(self, r: Reading, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(sentence positions read, their P(answers)) for result ``k``: its best few sentences."""
        p, (cos, lex, defines, prior) = self._sentences(r, k)
        scores = sentence_scores(cos, lex, self.config, defines, prior)
        rows = np.argsort(-scores, kind="stable")[: self.reader.policy.sentences]
        texts = p.sentence_texts()
        title = r.results[k].citation.title
        candidates = [Candidate(title, texts[j - 1] if j else "", texts[j]) for j in rows]
        return rows, self.reader.score([r.question] * len(candidates), candidates)

    def _answer_at(self, r: Reading, k: int, row: int) -> Result:
        """Result ``k`` with its answer moved to sentence ``row`` (extended as answers are)."""
        p, (cos, lex, defines, prior) = self._sentences(r, k)
        scores = sentence_scores(cos, lex, self.config, defines, prior)
        lift = np.zeros(len(scores))
        lift[row] = scores.max() - scores.min() + 1.0  # the read sentence wins; the usual extension follows
        start, end, core = answer_span(p, cos, lex, self.config, defines, (), prior + lift)
        return replace(r.results[k], answer=p.text[start - p.start : end - p.start], answer_start=start,
                       answer_end=end, core=core)
