"""Follow-up questions: carry the topic of the previous turn into a short or pronoun-led one.

After “管办评 是什么”, the follow-up “它最早在哪所学校试点?” is searched as
“管办评 最早在哪所学校试点?”. The rule is deliberately simple and visible: the chat page
shows the query it actually searched.
"""

from __future__ import annotations

import re

from ..tokenize import Tokenizer, normalize
from .query import content_segments

# Words that point back to the previous turn when they open a question.
_PRONOUN_LEAD = re.compile(
    r"^(?:它们|它|他们|他|她们|她|这些|那些|这个|那个|这种|那种|这项|该项|这里|那里|其|该|此|这|那|"
    r"(?:it|they|this|that|these|those)\b)", re.IGNORECASE)
_TRAILING_NE = re.compile(r"呢[?？!！。\s]*$")
MAX_CARRIED = 2  # topic words carried over from the previous question (whole terms: a term may hold more)
SHORT_QUESTION = 6  # characters; a question this short with 呢 or no topic of its own is a follow-up


def _content_words(text: str, tokenizer: Tokenizer) -> list[str]:
    return list(dict.fromkeys(tokenizer.content_words(normalize(text))))


def is_follow_up(question: str, tokenizer: Tokenizer) -> bool:
    """Pronoun-led (“它…”, “这个…”), or short and elliptical (“人口呢?”, “为什么?”)."""
    q = normalize(question).strip()
    if not q:
        return False
    if _PRONOUN_LEAD.match(q):
        return True
    compact = re.sub(r"[\W_]+", "", q)
    return len(compact) <= SHORT_QUESTION and bool(_TRAILING_NE.search(q) or not _content_words(q, tokenizer))


def contextualize(question: str, previous: list[str], tokenizer: Tokenizer) -> str:
    """The query to search for ``question`` given the earlier user questions (oldest first).

    Earlier questions are resolved the same way first, so a chain of follow-ups keeps the
    original topic.
    """
    if not previous or not is_follow_up(question, tokenizer):
        return question.strip()
    before = contextualize(previous[-1], previous[:-1], tokenizer)
    topic = topic_terms(before, tokenizer)
    if not topic:
        return question.strip()
    rest = _PRONOUN_LEAD.sub("", normalize(question).strip(), count=1).strip()
    return f"{' '.join(topic)} {rest}".strip()


def topic_terms(question: str, tokenizer: Tokenizer) -> list[str]:
    """The topic of a question as whole terms: its runs of adjacent content words (“浦东新区有几个功能区域”
    → 浦东新区, 功能区域), taken in order until MAX_CARRIED words are covered; a run is never cut,
    so a term the dictionary splits (功能 + 区域) is carried whole."""
    terms, words = [], 0
    for run in content_segments(normalize(question), tokenizer):
        if words >= MAX_CARRIED:
            break
        terms.append(run)
        words += max(1, len(_content_words(run, tokenizer)))
    return terms
