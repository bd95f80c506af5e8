"""Which sentences of a passage answer, and how sure we are that the first result does.

Pure functions over plain arrays, so each can be tested without a model or an index.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..chunking import Passage
from .query import Question, asks, counts, mentions_number, mentions_time, names_year, states
from .ranking import SearchConfig, clip01, maxnorm, rangenorm
from .synonyms import present

LEAD_CONTINUES = ":："  # a sentence ending like this introduces the ones after it


def holds_kind(kind: str | None, sentence: str, tags) -> bool:
    """Does a (normalised) sentence hold the kind of thing the question asks for?
    ``tags`` gives the sentence's name tags (Tokenizer.entity_tags), asked only for persons/places."""
    if kind == "time":
        return mentions_time(sentence)
    if kind == "number":
        return mentions_number(sentence)
    if kind == "person":
        return "nr" in tags(sentence)
    if kind == "place":
        return bool({"ns", "nt"} & tags(sentence))
    return False


def word_coverage(words: list[str], weights: list[float], text: str,
                  others: dict[str, tuple[str, ...]] | None = None) -> float:
    """IDF-weighted share of ``words`` found in ``text`` (or one of their ``others``: synonyms);
    a word not found whole counts by the share of its character pairs found (paraphrases keep
    parts of compounds: 授粉者/授粉)."""
    total = sum(weights) or 1.0
    got = 0.0
    for w, wt in zip(words, weights):
        if present(w, text, others or {}):
            got += wt
        elif len(w) > 2:
            pairs = [w[i:i + 2] for i in range(len(w) - 1)]
            got += wt * sum(pair in text for pair in pairs) / len(pairs)
    return got / total


def sentence_prior(question: Question, sentences: list[str], tags, idf, cfg: SearchConfig,
                   title: str = "") -> np.ndarray:
    """Per-sentence bonus for the answer choice: the sentence holds the asked-for kind of thing
    (a date for "when", a number for "how many", a name for "who"/"where"), and it holds the
    question's words (IDF-weighted share). Factoid questions often restate a sentence that does
    not itself hold the answer; the sentence that does is its neighbour with the date or name.
    Words of the document's (normalised) ``title`` are left out of the share: an article's
    subject is in nearly every one of its sentences, so it says nothing about which one answers."""
    out = np.zeros(len(sentences))
    if question.kind and cfg.kind_weight:
        out += cfg.kind_weight * np.array([holds_kind(question.kind, s, tags) for s in sentences], dtype=float)
    words = [w for w in question.words if w not in title]
    if words and cfg.answer_coverage:
        weights = [idf(w) for w in words]
        out += cfg.answer_coverage * np.array([word_coverage(words, weights, s, question.others) for s in sentences])
    return out


def sentence_scores(sent_cos: np.ndarray, sent_lex: np.ndarray, cfg: SearchConfig,
                    defines: list[bool] | None = None, prior: np.ndarray | None = None) -> np.ndarray:
    """How well each sentence of a passage answers: its closeness and its term match, plus the
    definition bonus and the answer prior."""
    d = rangenorm(sent_cos) if len(sent_cos) > 1 else np.ones(1)
    score = (1 - cfg.answer_lexical) * d + cfg.answer_lexical * maxnorm(sent_lex)
    if defines:
        score = score + cfg.definition_weight * np.array(defines, dtype=float)
    if prior is not None:
        score = score + prior
    return score


class AnswerSpan(NamedTuple):
    """Absolute offsets of an answer, and of its ``core``: the best sentence alone (with the
    sentences a short lead needs), which the page marks; the neighbours around it are context."""

    start: int
    end: int
    core: tuple[int, int]


def _with_lead(p: Passage, spans: list[tuple[int, int]], start: int, end: int, cfg: SearchConfig) -> int:
    """The end of ``start:end`` once a short or colon-ended lead has taken the sentences after it."""
    nxt = int(np.searchsorted([sp[0] for sp in spans], end))
    while nxt < len(spans) and (end - start < cfg.lead_chars or p.text[end - 1 - p.start] in LEAD_CONTINUES):
        if spans[nxt][1] - start > cfg.answer_chars:
            break
        end = spans[nxt][1]
        nxt += 1
    return end


def answer_span(p: Passage, sent_cos: np.ndarray, sent_lex: np.ndarray, cfg: SearchConfig,
                defines: list[bool] | None = None,
                shown: list[tuple[int, int]] = (), prior: np.ndarray | None = None) -> AnswerSpan | None:
    """The best sentence with its context, or None if every sentence is already shown.

    A short lead sentence ("四是加强行政效能建设。") is extended by the sentences that elaborate
    it, since reports state a topic and then the facts; a neighbour that scores nearly as well
    joins the answer too.
    """
    score = sentence_scores(sent_cos, sent_lex, cfg, defines, prior)
    spans = p.sentences
    seen = np.array([any(a <= s and e <= b for a, b in shown) for s, e in spans])
    if seen.all():
        return None
    score = np.where(seen, -np.inf, score)  # never repeat an answer a higher result shows
    best = int(np.argmax(score))
    start, end = spans[best]
    core = (start, _with_lead(p, spans, start, end, cfg))
    # the better neighbour first: a question's words and its answer often sit in adjacent sentences
    for k in sorted((best - 1, best + 1), key=lambda k: -score[k] if 0 <= k < len(spans) else np.inf):
        if 0 <= k < len(spans) and not seen[k] and score[k] >= cfg.neighbour_share * score[best]:
            s, e = min(start, spans[k][0]), max(end, spans[k][1])
            if e - s <= cfg.answer_chars:
                start, end = s, e
    end = _with_lead(p, spans, start, end, cfg)
    return AnswerSpan(start, end, (core[0], min(core[1], end)))


def confidence(question: Question, answer: str, top_text: str, best_sentence: float, dense: np.ndarray,
               sentence_cos: np.ndarray, idf, cfg: SearchConfig) -> float:
    """How sure we are that the first result answers, in [0, 1].

    Chinese questions: the IDF-weighted share of the question's content words found in the
    first passage (``top_text``, normalised), plus how close its best sentence is (e5 cosines
    of related Chinese text sit around 0.80-0.95); an answer lacking what is asked is capped
    (``evidence``).
    Other languages have no lexical overlap with the report, so only the dense match counts:
    how far the best passage (``dense``: every candidate's cosine) and sentence stand out.
    """
    if not question.chinese:
        stand_out = float(dense.max() - dense.mean()) + float(sentence_cos.max() - sentence_cos.mean())
        return clip01((stand_out - cfg.margin_floor) / cfg.margin_span)
    coverage, capped = evidence(question, answer, top_text, idf, cfg)
    score = combine(coverage, best_sentence, capped, cfg)
    if cfg.attribute_check and lacks_attribute(question, top_text):
        score = min(score, cfg.attribute_cap)  # never a confident answer; still shown as may-answer
    return score


def evidence(question: Question, answer: str, top_text: str, idf, cfg: SearchConfig) -> tuple[float, bool]:
    """(IDF-weighted share of the question's words in the first passage, whether the answer
    lacks what the question asks for: a "how many X" whose X is absent, a "when" without a date,
    a "how many X (unit)" whose answer counts nothing in that unit — neither "how many" when the
    answer states an amount in the unit of measure asked —, a "who is the X" whose passage never
    names X, a year the question names that the passage does not)."""
    words = question.words
    weights = [idf(w) for w in words]
    coverage = word_coverage(list(words), weights, top_text, question.others) if words else 0.0
    stated = bool(cfg.measure_check and question.measure and states(answer, question.measure))
    capped = bool(question.quantity and not stated
                  and word_coverage([question.quantity], [1.0], top_text, question.others) < 0.5)
    capped |= question.asks_when and not mentions_time(answer)
    capped |= bool(cfg.count_check and question.unit and not stated and not (
        counts(answer, question.unit) and (not question.quantity or question.quantity in answer)))
    if cfg.role_check and question.role:
        capped |= word_coverage([question.role], [1.0], top_text, question.others) < 0.5  # "镇长是谁": no 镇长
    if cfg.year_check and question.years:
        capped |= not all(names_year(top_text, y) for y in question.years)  # "2010年的生产总值": the report has 2006
    return coverage, capped


def missing_words(question: Question, text: str) -> tuple[str, ...]:
    """The question's content words that ``text`` (normalised) does not contain, nor any other word
    for them, nor half their character pairs (人均收入 / 人均可支配收入, as the confidence counts
    them): what a reader sees the passage lacks ("未包含: 负责人")."""
    return tuple(w for w in question.words
                 if not asks(w) and word_coverage([w], [1.0], text, question.others) < 0.5)


def lacks_attribute(question: Question, text: str) -> bool:
    """Does ``text`` (the first passage, normalised) lack the thing asked after 的
    (``Question.attribute``)? Then it is about the subject but does not state what is asked."""
    attribute = question.attribute
    return bool(attribute) and word_coverage([attribute], [1.0], text, question.others) < 0.5


def combine(coverage: float, best_sentence: float, capped: bool, cfg: SearchConfig) -> float:
    """The Chinese-question confidence from its parts (calibrated by benchmarks/calibrate.py)."""
    closeness = clip01((best_sentence - cfg.cosine_floor) / cfg.cosine_span)
    score = cfg.coverage_share * coverage + (1 - cfg.coverage_share) * closeness
    return min(score, cfg.mismatch_cap) if capped else score
