"""Which sentences of a passage answer, and how sure we are that the first result does.

Pure functions over plain arrays, so each can be tested without a model or an index.
"""

from __future__ import annotations

import numpy as np

from .chunking import Passage
from .query import Question, mentions_time
from .ranking import SearchConfig, clip01, maxnorm, rangenorm

LEAD_CONTINUES = ":："  # a sentence ending like this introduces the ones after it


def answer_span(p: Passage, sent_cos: np.ndarray, sent_lex: np.ndarray, cfg: SearchConfig,
                defines: list[bool] | None = None,
                shown: list[tuple[int, int]] = ()) -> tuple[int, int] | None:
    """Absolute offsets of the best sentence, or None if every sentence is already shown.

    A short lead sentence ("四是加强行政效能建设。") is extended by the sentences that elaborate
    it, since reports state a topic and then the facts; a neighbour that scores nearly as well
    joins the answer too.
    """
    d = rangenorm(sent_cos) if len(sent_cos) > 1 else np.ones(1)
    score = (1 - cfg.answer_lexical) * d + cfg.answer_lexical * maxnorm(sent_lex)
    if defines:
        score = score + cfg.definition_weight * np.array(defines, dtype=float)
    spans = p.sentences
    seen = np.array([any(a <= s and e <= b for a, b in shown) for s, e in spans])
    if seen.all():
        return None
    score = np.where(seen, -np.inf, score)  # never repeat an answer a higher result shows
    best = int(np.argmax(score))
    start, end = spans[best]
    for k in (best - 1, best + 1):
        if 0 <= k < len(spans) and not seen[k] and score[k] >= cfg.neighbour_share * score[best]:
            s, e = min(start, spans[k][0]), max(end, spans[k][1])
            if e - s <= cfg.answer_chars:
                start, end = s, e
    nxt = int(np.searchsorted([sp[0] for sp in spans], end))
    while nxt < len(spans) and (end - start < cfg.lead_chars or p.text[end - 1 - p.start] in LEAD_CONTINUES):
        if spans[nxt][1] - start > cfg.answer_chars:
            break
        end = spans[nxt][1]
        nxt += 1
    return start, end


def confidence(question: Question, answer: str, top_text: str, best_sentence: float, dense: np.ndarray,
               sentence_cos: np.ndarray, idf, cfg: SearchConfig) -> float:
    """How sure we are that the first result answers, in [0, 1].

    Chinese questions: the IDF-weighted share of the question's content words found in the
    first passage (``top_text``, normalised), plus how close its best sentence is (e5 cosines
    of related Chinese text sit around 0.80-0.95); a "how many X" question whose X is absent,
    or a "when" question whose answer holds no date, is capped.
    Other languages have no lexical overlap with the report, so only the dense match counts:
    how far the best passage (``dense``: every candidate's cosine) and sentence stand out.
    """
    if not question.chinese:
        stand_out = float(dense.max() - dense.mean()) + float(sentence_cos.max() - sentence_cos.mean())
        return clip01((stand_out - cfg.margin_floor) / cfg.margin_span)
    words = question.words
    weights = [idf(w) for w in words]
    coverage = sum(wt for w, wt in zip(words, weights) if w in top_text) / sum(weights) if words else 0.0
    closeness = clip01((best_sentence - cfg.cosine_floor) / cfg.cosine_span)
    score = cfg.coverage_share * coverage + (1 - cfg.coverage_share) * closeness
    if question.quantity and question.quantity not in top_text:
        score = min(score, cfg.mismatch_cap)
    if question.asks_when and not mentions_time(answer):
        score = min(score, cfg.mismatch_cap)
    return score
