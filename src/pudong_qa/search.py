"""Hybrid search: BM25 (jieba) + dense (e5) over passages, sentence-level answers, citations.

The one retrieval API; the CLI and the chat page only render what ``Searcher.search``
returns.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np

from .chunking import Passage
from .index import Index
from .tokenize import normalize

MAX_QUERY_CHARS = 512  # longer questions are answered from this prefix


@dataclass(frozen=True)
class Citation:
    source: str
    title: str
    section: str
    paragraph: int
    start: int
    end: int


@dataclass(frozen=True)
class Result:
    rank: int
    score: float
    text: str
    answer: str
    answer_start: int  # absolute offsets of the answer in the source
    answer_end: int
    citation: Citation
    passage_id: int

    def to_dict(self) -> dict:
        c = self.citation
        return {
            "rank": self.rank,
            "score": round(self.score, 4),
            "text": self.text,
            "answer": self.answer,
            "citation": {"source": c.source, "title": c.title, "section": c.section,
                         "paragraph": c.paragraph, "start": c.start, "end": c.end},
        }


@dataclass
class SearchResponse:
    question: str
    query: str  # what was actually searched, after normalisation
    answered: bool
    results: list[Result]
    confidence: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"question": self.question, "answered": self.answered,
                "results": [r.to_dict() for r in self.results]}


_SPACE = re.compile(r"\s+")


def clean_query(question: str) -> str:
    """Normalise a raw question: width/script/case folding, no control chars, bounded length."""
    q = "".join(ch if ch.isprintable() else " " for ch in question[: MAX_QUERY_CHARS * 2])
    q = _SPACE.sub(" ", normalize(q)).strip()
    return q[:MAX_QUERY_CHARS]


class Searcher:
    """Holds the index and model (loaded once); ``search`` is safe to call from several threads."""

    def __init__(self, index: Index, model, bm25_weight: float = 0.5) -> None:
        self.index = index
        self.model = model
        self.bm25_weight = bm25_weight
        self._vectors = self._flat_vectors(index)

    @staticmethod
    def _flat_vectors(index: Index) -> np.ndarray | None:
        try:
            return index.vectors.reconstruct_n(0, index.vectors.ntotal)
        except RuntimeError:
            return None

    @classmethod
    def open(cls, settings, log=print, progress: bool = False, rebuild: bool = True) -> Searcher:
        """Load the model once, rebuild the index first if it is missing or stale, load it."""
        from .embedding import load_model
        from .index import build_index, load_index, stale_reasons, verify_files

        model = load_model(settings.model, progress=progress)
        reasons = stale_reasons(settings) or [f"damaged file {f}" for f in verify_files(settings.index)]
        if reasons and rebuild:
            log(f"Index needs rebuilding ({'; '.join(reasons[:3])}); building …")
            report = build_index(settings, model=model, progress=progress, log=log)
            log(f"Built {report.passages} passages from {report.documents} documents in {report.seconds:.1f} s")
        return cls(load_index(settings.index), model)

    # -- public -----------------------------------------------------------------

    def search(self, question: str, top_k: int = 5) -> SearchResponse:
        return self.search_many([question], top_k)[0]

    def search_many(self, questions: list[str], top_k: int = 5, batch_size: int = 64) -> list[SearchResponse]:
        from .embedding import encode_queries

        queries = [clean_query(q) for q in questions]
        t0 = time.perf_counter()
        nonempty = [q for q in queries if q]
        qvecs = encode_queries(self.model, nonempty, batch_size=batch_size) if nonempty else None
        t_embed = (time.perf_counter() - t0) / max(len(nonempty), 1)
        out, j = [], 0
        for question, query in zip(questions, queries):
            if not query:
                out.append(SearchResponse(question, query, False, []))
                continue
            resp = self._search_one(question, query, qvecs[j], top_k)
            resp.timings["embed"] = t_embed
            out.append(resp)
            j += 1
        return out

    # -- internals --------------------------------------------------------------

    def _bm25_scores(self, tokens: list[str]) -> np.ndarray:
        n = len(self.index.passages)
        if not tokens:
            return np.zeros(n, dtype=np.float32)
        ids = self.index.bm25.get_tokens_ids(tokens)
        if not ids:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self.index.bm25.get_scores_from_ids(ids), dtype=np.float32)

    def _dense_scores(self, qvec: np.ndarray) -> np.ndarray:
        if self._vectors is not None:
            return self._vectors @ qvec
        n = self.index.vectors.ntotal
        scores, ids = self.index.vectors.search(qvec[None, :], n)
        out = np.zeros(n, dtype=np.float32)
        out[ids[0]] = scores[0]
        return out

    def _search_one(self, question: str, query: str, qvec: np.ndarray, top_k: int) -> SearchResponse:
        t0 = time.perf_counter()
        tokens = self.index.tokenizer.tokens(query, normalized=True)
        bm25 = self._bm25_scores(tokens)
        t1 = time.perf_counter()
        dense = self._dense_scores(qvec)
        t2 = time.perf_counter()
        fused = self._fuse(bm25, dense)
        order = np.argsort(-fused)[:top_k]
        results = []
        for rank, i in enumerate(order, 1):
            p = self.index.passages[int(i)]
            a_start, a_end = self._answer_span(p, int(i), qvec, tokens)
            results.append(Result(
                rank=rank, score=float(fused[i]), text=p.text,
                answer=p.text[a_start - p.start : a_end - p.start], answer_start=a_start, answer_end=a_end,
                citation=Citation(p.source, p.title, p.section, p.paragraph, p.start, p.end),
                passage_id=p.id,
            ))
        confidence = self._confidence(tokens, order, bm25, dense)
        t3 = time.perf_counter()
        return SearchResponse(
            question, query, confidence >= 0.5, results, confidence,
            {"bm25": t1 - t0, "dense": t2 - t1, "fusion": t3 - t2},
        )

    def _fuse(self, bm25: np.ndarray, dense: np.ndarray) -> np.ndarray:
        b = bm25 / bm25.max() if bm25.max() > 0 else bm25
        lo, hi = float(dense.min()), float(dense.max())
        d = (dense - lo) / (hi - lo) if hi > lo else np.zeros_like(dense)
        w = self.bm25_weight if bm25.max() > 0 else 0.0
        return w * b + (1 - w) * d

    def _answer_span(self, p: Passage, pid: int, qvec: np.ndarray, tokens: list[str]) -> tuple[int, int]:
        lo, hi = self.index.sentence_offsets[pid], self.index.sentence_offsets[pid + 1]
        sims = self.index.sentence_vectors[lo:hi] @ qvec
        sents = p.sentence_texts()
        norm_sents = [normalize(s) for s in sents]
        lex = np.array([sum(t in s for t in tokens) / max(len(tokens), 1) for s in norm_sents])
        best = int(np.argmax(sims + 0.1 * lex))
        return p.sentences[best]

    def _confidence(self, tokens, order, bm25, dense) -> float:
        if len(order) == 0:
            return 0.0
        top = int(order[0])
        text = normalize(self.index.passages[top].text)
        coverage = sum(t in text for t in tokens) / len(tokens) if tokens else 0.0
        cos = float(dense[top])
        return 0.5 * coverage + 0.5 * min(max((cos - 0.75) / 0.15, 0.0), 1.0)
