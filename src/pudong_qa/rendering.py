"""Search results as HTML for the chat page, and the source view a citation opens.

A reply has one of three looks, following ``SearchResponse.verdict``:

- answered: the answer's own sentence (``Result.core``) first, strongly marked, then its passage
  with the whole answer (``Result.answer``: that sentence and the neighbours it needs) faintly
  marked (left out when the sentence is the whole passage), then the other passages unmarked;
- unsure: a note that nothing is confirmed, then the passages on dashed cards, unmarked;
- not found: the banner “报告中没有找到可靠的答案”, then the closest passages folded, unmarked.

Every piece of document or user text goes through ``html.escape``, so a document containing
``<script>`` shows as text. Cards name a document by its title and file name, never a server
path; the offsets stay in the copied citation. The classes are styled by ``web/assets/page.css``.

A card carries its plain text (passage and citation) for the copy buttons; a reply carries
``data-copy`` for the whole reply and ``data-log`` (the question and the results shown, as JSON)
for the feedback store.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from html import escape, unescape
from pathlib import PurePosixPath
from urllib.parse import urlencode

from .results import ANSWERED, NO_ANSWER, UNSURE, Citation, Result, SearchResponse, format_citation
from .search.scans import LOW_CONFIDENCE_NOTE, low_confidence

STRONG, FAINT = "pqa-strong", "pqa-faint"  # the answer sentence; the rest of its passage (source view)
TARGET = "pqa-target"  # the element the source view scrolls to
UNSURE_NOTE = "未确认:下面的段落可能相关,但没有确认它回答了这个问题,请对照原文判断。"
QUERY_ECHO_CHARS = 60  # a longer question is echoed shortened in the "检索:" line, whole on demand


@dataclass
class Card:
    """One card: a passage (possibly several merged hits of one paragraph) and its first hit's answer."""

    rank: int
    citation: Citation
    text: str
    answer: str
    answer_span: tuple[int, int]  # absolute offsets of the first hit's answer
    core: tuple[int, int]  # ... and of the sentence in it that answers
    hits: list[int] = field(default_factory=list)  # the ranks merged into this card
    missing: tuple[str, ...] = ()  # the question's words none of its hits contains

    @classmethod
    def of(cls, r: Result) -> Card:
        span = (r.answer_start, r.answer_end)
        return cls(r.rank, r.citation, r.text, r.answer, span, r.core or span, [r.rank], r.missing)

    @property
    def core_text(self) -> str:
        """The answer's own sentence (a slice of ``text``)."""
        return self.text[self.core[0] - self.citation.start:self.core[1] - self.citation.start]

    def touches(self, r: Result) -> bool:
        c = r.citation
        return (c.source == self.citation.source and c.paragraph == self.citation.paragraph
                and c.start <= self.citation.end and self.citation.start <= c.end)

    def merge(self, r: Result) -> None:
        """Take in an overlapping or adjacent hit: the union of both texts (exact slices of one source)."""
        a, b = self.citation, r.citation
        start, end = min(a.start, b.start), max(a.end, b.end)
        text = [""] * (end - start)
        for piece, s in ((r.text, b.start), (self.text, a.start)):
            text[s - start:s - start + len(piece)] = list(piece)
        self.text = "".join(text)
        self.citation = replace(a, start=start, end=end)
        self.hits.append(r.rank)
        self.missing = tuple(w for w in self.missing if w in r.missing)  # the union of texts lacks only these


def merge_results(results: list[Result]) -> list[Card]:
    """Overlapping or adjacent hits from one paragraph become one card (in first-rank order)."""
    cards: list[Card] = []
    for r in results:
        for card in cards:
            if card.touches(r):
                card.merge(r)
                break
        else:
            cards.append(Card.of(r))
    return cards


def marked(text: str, start: int, spans: list[tuple[int, int, str]], target: str | None = None) -> str:
    """Escaped ``text`` (beginning at offset ``start``) with each span ``(a, b, class)`` in a ``<mark>``;
    where spans overlap, the later one in the list wins. The first mark of class ``target`` gets the
    id the source view scrolls to."""
    owner = [""] * len(text)
    for a, b, cls in spans:
        for i in range(max(a - start, 0), min(b - start, len(text))):
            owner[i] = cls
    runs: list[list] = []
    for i, cls in enumerate(owner):
        if runs and runs[-1][2] == cls:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1, cls])
    out = []
    for a, b, cls in runs:
        if not cls:
            out.append(escape(text[a:b]))
            continue
        anchor = f' id="{TARGET}"' if cls == target else ""
        target = None if cls == target else target
        out.append(f'<mark class="{cls}"{anchor}>{escape(text[a:b])}</mark>')
    return "".join(out)


def confidence_label(confidence: float) -> str:
    return "高" if confidence >= 0.8 else "中" if confidence >= 0.5 else "低"


def file_name(source: str) -> str:
    """A document's file name, without the folders it is kept in on the server."""
    return PurePosixPath(source.replace("\\", "/")).name


def citation_text(c: Citation, offsets: bool = False) -> str:
    """《title》 › heading path › 第N段 (the citation people read); with ``offsets``, then the file
    name and the character offsets (the copied citation)."""
    return format_citation(replace(c, source=file_name(c.source), section=c.section.replace(" > ", " › ")),
                           offsets=offsets)


def where_text(c: Citation) -> str:
    """Where in its document a citation points: heading path › 第N页 › 第N段 (no title)."""
    return citation_text(replace(c, title=""))


def doc_key(source: str) -> str:
    """A document's name in links: stable across rebuilds, and no server path in the page."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]


def doc_link(c: Citation, answer: tuple[int, int] | None = None) -> str:
    """The source view of a citation (and its answer sentence, if any), scrolled to the mark."""
    query = {"doc": doc_key(c.source), "start": c.start, "end": c.end}
    if answer:
        query |= {"astart": answer[0], "aend": answer[1]}
    return "/doc?" + urlencode(query) + f"#{TARGET}"


def copy_text(text: str, c: Citation) -> str:
    return f"{text}\n——{citation_text(c, offsets=True)}"


def missing_html(card: Card) -> str:
    """The line under a card naming the question's words its passage does not contain, as web
    search does ("未包含: 负责人"): what a near miss lacks, seen at a glance."""
    if not card.missing:
        return ""
    words = "、".join(card.missing)
    return f'<p class="pqa-missing">未包含:{escape(words)}</p>'


def merged_html(card: Card) -> str:
    """A note on a card that shows several results whose passages overlap or touch."""
    if len(card.hits) < 2:
        return ""
    ranks = "、".join(f"第{n}条" for n in sorted(card.hits))
    return f'<span class="pqa-merged">合并了{ranks}结果 (段落重叠)</span>'


def card_html(card: Card, head: str, kind: str, lead: str = "") -> str:
    """One card. ``kind``: "answer" (the answer's own sentence first, strongly marked, then the
    passage with the answer faintly marked), "related", "unsure" or "closest" (the passage
    unmarked). ``lead`` goes before the passage in what the card's 复制 copies."""
    c = card.citation
    a, b = card.answer_span
    core = card.core
    answer = kind == "answer" and b > a
    copy = escape("\n".join(filter(None, [lead, copy_text(card.text, c)])))
    first = passage = ""
    if answer:
        first = f'<p class="pqa-answer-line"><mark class="{STRONG}">{escape(card.core_text)}</mark></p>'
        if core != (c.start, c.end):  # else the whole passage is already on screen as the answer
            passage = marked(card.text, c.start, [(a, b, FAINT)])
    else:
        passage = escape(card.text)
    passage = f'<p class="pqa-passage">{passage}</p>' if passage else ""
    if low_confidence(c):  # a scanned page OCR was unsure of (scans.py)
        passage += f'<p class="pqa-ocr-note" role="note">{LOW_CONFIDENCE_NOTE}</p>'
    link = doc_link(c, core if answer else None)
    return (
        f'<div class="pqa-card pqa-{kind}">'
        f'<div class="pqa-head"><span class="pqa-label">{head}</span>{merged_html(card)}'
        '<button type="button" class="pqa-copy" data-label="复制" title="复制段落和出处">复制</button></div>'
        f'<span class="pqa-copytext">{copy}</span>{first}{passage}{missing_html(card)}'
        f'<div class="pqa-src"><a class="pqa-cite" href="{escape(link)}" target="_blank" rel="noopener" '
        f'title="在旁边打开原文">{escape(citation_text(c))}</a>'
        f'<span class="pqa-file">{escape(file_name(c.source))}</span></div>'
        "</div>"
    )


def query_html(shown: str, expansions: tuple = ()) -> str:
    """The "检索:" line: what was searched (shortened when long: the whole on demand) and the other
    words searched for what it names ("(gdp ≈ 生产总值)")."""
    also = "".join(f'<span class="pqa-also"> ({escape(w)} ≈ {escape("、".join(o))})</span>' for w, o in expansions)
    if len(shown) <= QUERY_ECHO_CHARS:
        return f'<div class="pqa-query">检索:{escape(shown)}{also}</div>'
    return (f'<details class="pqa-query"><summary>检索:{escape(shown[:QUERY_ECHO_CHARS])}… '
            f'<span class="pqa-more-hint">(共{len(shown)}字,点此展开)</span>{also}</summary>'
            f'<p class="pqa-query-full">{escape(shown)}</p></details>')


def render_response(resp: SearchResponse, searched: str | None = None) -> str:
    """The whole chat answer, in the look of its verdict (see the module's docstring)."""
    shown = searched if searched is not None else resp.query
    cards = merge_results(resp.results)
    verdict = resp.verdict if cards else "not_found"
    parts = [query_html(shown, resp.expansions)]
    plain: list[str] = []
    if verdict == ANSWERED:
        label = confidence_label(resp.confidence)
        for i, card in enumerate(cards):
            head = f"答案 · 置信度 {label}" if i == 0 else f"相关段落 {i + 1}"
            lead = f"答案 (置信度 {label}):{card.core_text}" if i == 0 else ""
            parts.append(card_html(card, escape(head), "answer" if i == 0 else "related", lead))
            plain += [lead] if lead else []
            plain.append(copy_text(card.text, card.citation))
    elif verdict == UNSURE:
        parts.append(f'<div class="pqa-note" role="status">{UNSURE_NOTE}</div>')
        parts += [card_html(card, f"可能相关 {i} · 未确认是否回答", "unsure") for i, card in enumerate(cards, 1)]
        plain += [UNSURE_NOTE] + [copy_text(card.text, card.citation) for card in cards]
    else:
        parts.append(f'<div class="pqa-warn" role="status">{NO_ANSWER}。请换一种问法。</div>')
        if cards:
            parts.append(f'<details class="pqa-more"><summary>最接近的段落 ({len(cards)}) · 不是答案</summary>')
            parts += [card_html(card, f"段落 {i}", "closest") for i, card in enumerate(cards, 1)]
            parts.append("</details>")
        plain.append(NO_ANSWER)
    log = {"question": resp.question, "query": shown, "answered": resp.answered, "verdict": verdict,
           "confidence": round(resp.confidence, 4),
           "results": [{"text": c.text, "citation": citation_text(c.citation, offsets=True)} for c in cards]}
    return (f'<div class="pqa-reply pqa-{verdict}" data-copy="{escape(chr(10).join(plain))}" '
            f'data-log="{escape(json.dumps(log, ensure_ascii=False))}">' + "".join(parts) + "</div>")


_ATTR = {name: re.compile(rf'class="pqa-reply[^"]*" [^>]*?{name}="([^"]*)"', re.S)
         for name in ("data-copy", "data-log")}


def reply_attr(html: str, name: str) -> str | None:
    """The unescaped ``data-copy`` / ``data-log`` attribute of a rendered reply (None if absent)."""
    m = _ATTR[name].search(html or "")
    return unescape(m.group(1)) if m else None


@dataclass(frozen=True)
class SourceView:
    """What the source view shows: a document's text, the cited passage, and its answer sentence."""

    text: str
    citation: Citation
    answer: tuple[int, int] | None = None
    headings: frozenset[int] = frozenset()  # start offsets of lines that are headings, not body text
    figure: str = ""  # a scanned page with the passage outlined (web/scan_view.py), shown above the text


def source_html(view: SourceView, context: int | None = None, heading: str = "h1", tools: str = "") -> str:
    """The source view's body: a header (the title, where the citation points, the file name and
    ``tools``), then the document's lines (all of them, or ``context`` lines either side of the
    cited one) with the passage faintly and the answer sentence strongly marked; the first mark
    carries the id the view scrolls to."""
    text, c = view.text, view.citation
    starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
    lines = [(s, s + len(line)) for s, line in zip(starts, text.split("\n")) if line.strip()]
    at = next((i for i, (s, e) in enumerate(lines) if s <= c.start < e + 1), 0)
    first, last = (0, len(lines)) if context is None else (max(0, at - context), min(len(lines), at + context + 1))
    spans = [(c.start, c.end, FAINT)] + ([(*view.answer, STRONG)] if view.answer else [])
    out = [f'<header class="pqa-src-head"><{heading} class="pqa-doc-title">{escape(c.title or file_name(c.source))}'
           f'</{heading}><p class="where">{escape(where_text(c))}</p>'
           f'<p class="file">文件:{escape(file_name(c.source))}</p>{tools}</header>', *filter(None, [view.figure]),
           '<div class="pqa-src-text" tabindex="0" role="region" aria-label="原文内容">']
    for s, e in lines[first:last]:
        if s < c.end and c.start < e:
            out.append(f'<p class="here">{marked(text[s:e], s, spans, STRONG if view.answer else FAINT)}</p>')
        else:
            cls = "pqa-h" if s in view.headings else "para"
            out.append(f'<p class="{cls}">{escape(text[s:e])}</p>')
    return "\n".join([*out, "</div>"])


VERDICT_CLASSES = {"是": "yes", "未确认": "unsure", "否": "no"}


def batch_table_html(headers: list[str], rows: list[list], caption: str = "批量提问的结果") -> str:
    """The batch table as an HTML table: the same cells as the downloaded table, each cell labelled
    with its column (a phone shows each question as a card of labelled lines)."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = []
    for row in rows:
        cells = []
        for h, v in zip(headers, row):
            cls = f' class="pqa-v-{VERDICT_CLASSES.get(str(v), "error")}"' if h == "是否回答" else ""
            cells.append(f'<td data-label="{escape(h)}"{cls}>{escape(str(v))}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    empty = "" if rows else f'<tr><td colspan="{len(headers)}" class="pqa-empty">上传问题文件后点“批量提问”。</td></tr>'
    return (f'<div class="pqa-batch-wrap" tabindex="0" role="region" aria-label="{escape(caption)}">'
            f'<table class="pqa-batch"><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}{empty}</tbody></table></div>")
