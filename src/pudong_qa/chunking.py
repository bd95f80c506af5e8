"""Heading-aware sentence chunking with exact character offsets.

Passages never cross a paragraph and never exceed ``max_chars``; every passage and
every sentence inside it is a slice of the source text (``text[start:end]``), so a
citation can always be checked against the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .document import Document

DEFAULT_MAX_CHARS = 300
SECTION_SEPARATOR = " > "

# A sentence ends at 。！？；!?; (or a '.' before space/CJK/end), plus any closing quotes.
_SENTENCE = re.compile(
    r"[^。！？!?；;\n]*?(?:[。！？!?；;]+|\.(?=\s|$|[\u3000-\u9fff])|\n|$)[”’」』\"'）)】》]*"
)
_COMMA = "，,、：:"


@dataclass(frozen=True)
class Passage:
    id: int
    source: str
    title: str
    section: str  # heading path joined with " > "; "" before the first heading
    paragraph: int
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]  # absolute offsets of each sentence
    page: int | None = None  # 1-based page of a paged format (PDF)

    def sentence_texts(self) -> list[str]:
        return [self.text[s - self.start : e - self.start] for s, e in self.sentences]


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans inside ``text[start:end]``, trimmed of surrounding whitespace."""
    end = len(text) if end is None else end
    spans = []
    for m in _SENTENCE.finditer(text, start, end):
        s, e = m.span()
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e))
    return spans


def _cut_long(text: str, span: tuple[int, int], max_chars: int) -> list[tuple[int, int]]:
    """Cut an over-long sentence after the last comma that keeps a piece within the limit."""
    s, e = span
    pieces = []
    while e - s > max_chars:
        window = text[s : s + max_chars]
        cut = max(window.rfind(c) for c in _COMMA)
        cut = s + cut + 1 if cut > 0 else s + max_chars
        pieces.append((s, cut))
        s = cut
        while s < e and text[s].isspace():
            s += 1
    if e > s:
        pieces.append((s, e))
    return pieces


def pack_sentences(spans: list[tuple[int, int]], max_chars: int) -> list[list[tuple[int, int]]]:
    """Greedily group consecutive sentence spans into runs of at most ``max_chars`` characters."""
    groups: list[list[tuple[int, int]]] = []
    for span in spans:
        if groups and span[1] - groups[-1][0][0] <= max_chars:
            groups[-1].append(span)
        else:
            groups.append([span])
    return groups


WINDOW_STEP = 0.5


def sliding_windows(spans: list[tuple[int, int]], max_chars: int,
                    step: float | None = None) -> list[list[tuple[int, int]]]:
    """Windows of whole sentences (at most ``max_chars``) that overlap by about half, so an
    answer that straddles a boundary between two packed passages is whole in a third."""
    step = WINDOW_STEP if step is None else step
    windows: list[list[tuple[int, int]]] = []
    start = 0
    while start < len(spans):
        end = start + 1
        while end < len(spans) and spans[end][1] - spans[start][0] <= max_chars:
            end += 1
        windows.append(spans[start:end])
        if end == len(spans):
            break
        middle = spans[start][0] + step * (spans[end - 1][1] - spans[start][0])
        start = max(start + 1, next(i for i in range(start, end) if spans[i][1] > middle))
    return windows


def chunk_document(doc: Document, max_chars: int = DEFAULT_MAX_CHARS, first_id: int = 0,
                   overlap: bool = False) -> list[Passage]:
    """Split each paragraph into sentences and pack them into passages of at most ``max_chars``."""
    passages: list[Passage] = []
    text = doc.text
    for para in doc.paragraphs:
        sents = [piece for span in split_sentences(text, para.start, para.end)
                 for piece in _cut_long(text, span, max_chars)]
        groups = sliding_windows(sents, max_chars) if overlap else pack_sentences(sents, max_chars)
        for group in groups:
            s, e = group[0][0], group[-1][1]
            passages.append(Passage(
                id=first_id + len(passages), source=doc.source, title=doc.title,
                section=SECTION_SEPARATOR.join(para.section), paragraph=para.number,
                start=s, end=e, text=text[s:e], sentences=tuple(group), page=para.page,
            ))
    return passages


def chunk_corpus(docs: list[Document], max_chars: int = DEFAULT_MAX_CHARS, overlap: bool = False) -> list[Passage]:
    passages: list[Passage] = []
    for doc in docs:
        passages.extend(chunk_document(doc, max_chars, first_id=len(passages), overlap=overlap))
    return passages
