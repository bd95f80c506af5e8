"""How the retrievers' scores and the bonuses add up to one ranking.

``SearchConfig`` holds every weight and threshold (measured on the dev set, see
docs/retrieval.md); ``Fusion`` is the one place they are combined, as pyserini keeps hybrid
fusion one short method.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

PHRASE_CACHE_SIZE = 4096  # query segments whose substrings are kept


@dataclass(frozen=True)
class SearchConfig:
    """Fusion weights and thresholds; measured on the dev set (see docs/retrieval.md)."""

    lexical_weight: float = 0.35  # share of BM25 vs dense in the fused score
    sentence_share: float = 0.6  # share of the best single sentence vs the whole passage
    phrase_weight: float = 0.3  # bonus for contiguous query phrases found verbatim
    candidates: int = 100  # per retriever, before reranking
    lead_chars: int = 40  # an answer sentence shorter than this is extended by the next one
    answer_chars: int = 160  # ... but the answer never grows beyond this
    answer_lexical: float = 0.5  # share of term matching (vs dense) when picking the answer sentence
    kind_weight: float = 0.3  # answer sentence: bonus when it holds the asked-for kind (date, number, name)
    answer_coverage: float = 1.0  # answer sentence: bonus x IDF-weighted share of the question's words in it
    neighbour_share: float = 0.0  # a neighbouring sentence scoring this close to the best joins the answer
    overlap_share: float = 0.5  # a passage this much inside one already shown is left out
    definition_weight: float = 0.2  # "X 是什么": bonus for a sentence that defines X ("X…是…", "即X")
    preamble_weight: float = 0.3  # questions about the document itself favour the text before the first heading
    title_weight: float = 0.1  # many documents: bonus x share of the document's title the question names
    answer_weight: float = 0.3  # the first answer_depth passages: bonus x their best sentence's answer prior
    answer_depth: int = 10  # (the asked-for kind + the question's non-title words, answer.sentence_prior)
    aspect_weight: float = 0.8  # ... + this x the sentence's closeness to what is asked besides the title (aspect)
    min_confidence: float = 0.4  # below this the first result does not answer
    sure_confidence: float = 0.5  # an answer below this is shown as not confirmed
    coverage_share: float = 0.5  # confidence = this share of word coverage + the rest of sentence closeness
    cosine_floor: float = 0.80  # e5 sentence cosine that counts as no evidence at all ...
    cosine_span: float = 0.12  # ... and how far above it counts as full evidence
    mismatch_cap: float = 0.2  # confidence ceiling when the answer lacks what the question asks for
    count_check: bool = True  # "how many X (unit)": the answer itself must count X in that unit, else capped
    measure_check: bool = True  # ... unless the answer states an amount in the unit asked (多少厘米 / "20厘米")
    role_check: bool = True  # "who is the X": a first passage that never names X is capped
    year_check: bool = True  # a first passage that never names a year the question names is capped
    attribute_check: bool = True  # a first passage lacking the thing asked after 的 is never a confident answer:
    attribute_cap: float = 0.45  # its confidence is at most this (between min_ and sure_confidence: unsure)
    synonym_weight: float = 0.5  # BM25 of a question's expansions (synonyms.py), against 1 for its own words
    margin_floor: float = 0.045  # non-Chinese questions: how much the best match must stand out
    margin_span: float = 0.025


def maxnorm(x: np.ndarray) -> np.ndarray:
    top = float(x.max()) if x.size else 0.0
    return x / top if top > 0 else np.zeros_like(x)


def rangenorm(x: np.ndarray) -> np.ndarray:
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def clip01(x: float) -> float:
    return min(max(x, 0.0), 1.0)


@lru_cache(maxsize=PHRASE_CACHE_SIZE)
def _substrings(seg: str) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """A segment's substrings of two or more characters, grouped by length, longest first."""
    return tuple((n, tuple({seg[i : i + n] for i in range(len(seg) - n + 1)})) for n in range(len(seg), 1, -1))


def phrase_score(segments: tuple[str, ...] | list[str], text: str) -> float:
    """Share of the query's content found as contiguous phrases (longest match per segment)."""
    got = total = 0
    for seg in segments:
        total += len(seg) ** 2
        for length, pieces in _substrings(seg):
            if any(map(text.__contains__, pieces)):
                got += length**2
                break
    return got / total if total else 0.0


@lru_cache(maxsize=PHRASE_CACHE_SIZE)
def title_score(query: str, title: str) -> float:
    """Share of a (normalised) title found as one contiguous run in the query: the title of an
    article is usually the subject a question about it names ("北京大学" in "北京大学建于哪一年")."""
    title = "".join(title.split())
    best = 0  # the longest run of the title inside the query: from each start, grow while it matches
    for i in range(len(title) - 1):
        n = max(best + 1, 2)
        while i + n <= len(title) and title[i : i + n] in query:
            best, n = n, n + 1
    return best / len(title) if best else 0.0


@dataclass(frozen=True)
class Fusion:
    """Lexical and dense scores of the candidates, plus the bonuses, as one fused score."""

    lexical_weight: float
    phrase_weight: float
    definition_weight: float
    preamble_weight: float
    title_weight: float = 0.0

    @classmethod
    def from_config(cls, cfg: SearchConfig) -> Fusion:
        return cls(cfg.lexical_weight, cfg.phrase_weight, cfg.definition_weight, cfg.preamble_weight,
                   cfg.title_weight)

    def __call__(self, lexical: np.ndarray, dense: np.ndarray, use_lexical: bool = True,
                 phrase: np.ndarray | None = None, defines: np.ndarray | None = None,
                 preamble: np.ndarray | None = None, title: np.ndarray | None = None) -> np.ndarray:
        """``lexical`` is max-normalised BM25, ``dense`` raw cosine (range-normalised here);
        each bonus is a per-candidate array in [0, 1], or None when the question has none."""
        w = self.lexical_weight if use_lexical else 0.0
        fused = w * lexical + (1 - w) * rangenorm(dense)
        for weight, bonus in ((self.phrase_weight, phrase), (self.definition_weight, defines),
                              (self.preamble_weight, preamble), (self.title_weight, title)):
            if bonus is not None:
                fused = fused + weight * bonus
        return fused
