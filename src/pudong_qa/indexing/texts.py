"""What of a passage gets embedded and what BM25 indexes: the passage with its context."""

from __future__ import annotations

from collections.abc import Sequence

from ..chunking import Passage


def _with_context(context: str, text: str) -> str:
    return f"{context}\n{text}" if context else text


def indexed_text(p: Passage) -> str:
    """What gets embedded: passage text with its heading path for context (never cited)."""
    return _with_context(" ".join(x for x in (p.title, p.section.replace(" > ", " ")) if x), p.text)


def lexical_context(p: Passage) -> str:
    """What BM25 indexes before a passage's own words, and before each of its sentences': the
    document's title and the innermost heading. An article names its subject in the title but
    in its text often once ("本鱼", "其", or not at all), so without it the passage or sentence
    that repeats the subject outranks the one holding the asked-for fact."""
    last = p.section.rsplit(" > ", 1)[-1]
    return " ".join(x for x in (p.title, last) if x)


def lexical_text(p: Passage) -> str:
    """What BM25 indexes of a passage: its context (``lexical_context``) and its text."""
    return _with_context(lexical_context(p), p.text)


def sentence_lexical_texts(p: Passage) -> list[str]:
    """What BM25 indexes of each sentence of a passage: the passage's context and the sentence."""
    context = lexical_context(p)
    return [_with_context(context, s) for s in p.sentence_texts()]


def token_texts(passages: Sequence[Passage]) -> list[str]:
    """Every text BM25 tokenizes, in the order its tokens are stored: each passage's lexical
    text, then every sentence's."""
    return [lexical_text(p) for p in passages] + [s for p in passages for s in sentence_lexical_texts(p)]


def embedded_texts(passages: Sequence[Passage]) -> list[str]:
    """Every text a build embeds, in the order its vectors are stored: each passage's indexed
    text, then every sentence (one pass: a stored table decodes each passage once)."""
    texts: list[str] = []
    sentences: list[str] = []
    for p in passages:
        texts.append(indexed_text(p))
        sentences.extend(p.sentence_texts())
    return texts + sentences
