"""Search results as HTML for the chat page, and the source view a citation opens.

A reply has one of three looks, following ``SearchResponse.verdict``:

- answered: the answer's own sentence (``Result.core``) first, strongly marked, then its passage
  with the whole answer (``Result.answer``: that sentence and the neighbours it needs) faintly
  marked (left out when the sentence is the whole passage), then the other passages unmarked;
- unsure: a note that nothing is confirmed, then the passages on dashed cards, unmarked;
- not found: the banner “报告中没有找到可靠的答案”, then the closest passages folded, unmarked.

The markup is in ``templates/`` (Jinja2, one environment escaping every value), so a document
containing ``<script>`` shows as text; this module decides what to show. Cards name a document by
its title and file name, never a server path; the offsets stay in the copied citation. The
classes are styled by ``web/assets/page.css``.

A card carries its plain text (passage and citation) for the copy buttons, a reply ``data-copy``
for the whole reply. What a reply showed, for the feedback store, is data beside it:
``shown_record``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from functools import cache
from html import unescape
from pathlib import PurePosixPath
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from .results import ANSWERED, NO_ANSWER, NOT_FOUND, UNSURE, Citation, Result, SearchResponse, format_citation
from .search.scans import LOW_CONFIDENCE_NOTE, low_confidence

STRONG, FAINT = "pqa-strong", "pqa-faint"  # the answer sentence; the rest of its passage (source view)
TARGET = "pqa-target"  # the element the source view scrolls to
UNSURE_NOTE = "未确认:下面的段落可能相关,但没有确认它回答了这个问题,请对照原文判断。"
QUERY_ECHO_CHARS = 60  # a longer question is echoed shortened in the "检索:" line, whole on demand
VERDICT_CLASSES = {ANSWERED: "yes", UNSURE: "unsure", NOT_FOUND: "no"}  # the batch table's cells; else "error"


class _Loader(PackageLoader):
    """The package's ``templates/``. A fragment (inserted into the chat or a Gradio HTML block) is
    written over several lines for reading: its line breaks and the indentation after them are
    dropped when it is loaded, so a reply has no blank line (which would end Markdown's HTML block
    in the chat) and no space between elements. Whole pages (``*_page.html``) keep theirs."""

    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        return (source if template.endswith("_page.html") else re.sub(r"\n\s*", "", source)), filename, uptodate


@cache
def templates() -> Environment:
    """The one template environment: every value is escaped unless it is ``Markup``."""
    return Environment(loader=_Loader("pudong_qa", "templates"), autoescape=True, undefined=StrictUndefined)


def render(template: str, /, **values) -> str:
    """``templates/TEMPLATE`` filled with ``values``: plain text (a ``str``, never ``Markup``, which
    would escape what is added to it); wrap it in ``Markup`` to put it into another template."""
    return templates().get_template(template).render(**values)


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


def mark_runs(text: str, start: int, spans: list[tuple[int, int, str]],
              target: str | None = None) -> list[tuple[str, str, str]]:
    """``text`` (beginning at offset ``start``) as runs ``(text, class, id)`` for ``marks.html``: each
    span ``(a, b, class)`` a marked run; where spans overlap, the later one in the list wins. The
    first run of class ``target`` gets the id the source view scrolls to."""
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
        anchor = TARGET if cls and cls == target else ""
        target = None if anchor else target
        out.append((text[a:b], cls, anchor))
    return out


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


def missing_words(card: Card) -> str:
    """The question's words the card's passage does not contain, for the line under it (as web
    search does, "未包含: 负责人"): what a near miss lacks, seen at a glance."""
    return "、".join(card.missing)


def merged_ranks(card: Card) -> str:
    """The results a card shows when their passages overlap or touch ("第1条、第3条"), else ""."""
    return "、".join(f"第{n}条" for n in sorted(card.hits)) if len(card.hits) > 1 else ""


def card_view(card: Card, head: str, kind: str, lead: str = "") -> dict:
    """What one card shows. ``kind``: "answer" (the answer's own sentence first, strongly marked,
    then the passage with the answer faintly marked), "related", "unsure" or "closest" (the passage
    unmarked). ``lead`` goes before the passage in what the card's 复制 copies."""
    c = card.citation
    a, b = card.answer_span
    answer = kind == "answer" and b > a
    passage = [(card.text, "", "")]
    if answer:  # the passage, unless the answer sentence is the whole of it (already on screen)
        passage = mark_runs(card.text, c.start, [(a, b, FAINT)]) if card.core != (c.start, c.end) else []
    return {"kind": kind, "head": head, "merged": merged_ranks(card),
            "copied": "\n".join(filter(None, [lead, copy_text(card.text, c)])),
            "answer": answer, "answer_line": card.core_text if answer else "", "passage": [r for r in passage if r[0]],
            "ocr_note": LOW_CONFIDENCE_NOTE if low_confidence(c) else "",  # a scanned page OCR was unsure of
            "missing": missing_words(card), "link": doc_link(c, card.core if answer else None),
            "where": citation_text(c), "file": file_name(c.source)}


def card_html(card: Card, head: str, kind: str, lead: str = "") -> str:
    """One card as HTML (``card_view``)."""
    return render("card.html", card=card_view(card, head, kind, lead), strong=STRONG)


def query_view(shown: str, expansions: tuple = ()) -> dict:
    """The "检索:" line: what was searched (shortened when long: the whole on demand) and the other
    words searched for what it names ("(gdp ≈ 生产总值)")."""
    long = len(shown) > QUERY_ECHO_CHARS
    return {"short": shown[:QUERY_ECHO_CHARS] if long else shown, "full": shown if long else "",
            "length": len(shown), "also": [(w, "、".join(o)) for w, o in expansions]}


def reply_verdict(resp: SearchResponse) -> str:
    """The look of a reply: the response's verdict, or not_found when nothing is left to show."""
    return resp.verdict if resp.results else NOT_FOUND


def render_response(resp: SearchResponse, searched: str | None = None) -> str:
    """The whole chat answer, in the look of its verdict (see the module's docstring)."""
    shown = searched if searched is not None else resp.query
    cards = merge_results(resp.results)
    verdict = reply_verdict(resp)
    views: list[dict] = []
    plain: list[str] = []
    if verdict == ANSWERED:
        label = confidence_label(resp.confidence)
        for i, card in enumerate(cards):
            head = f"答案 · 置信度 {label}" if i == 0 else f"相关段落 {i + 1}"
            lead = f"答案 (置信度 {label}):{card.core_text}" if i == 0 else ""
            views.append(card_view(card, head, "answer" if i == 0 else "related", lead))
            plain += [lead] if lead else []
            plain.append(copy_text(card.text, card.citation))
    elif verdict == UNSURE:
        views = [card_view(card, f"可能相关 {i} · 未确认是否回答", "unsure") for i, card in enumerate(cards, 1)]
        plain += [UNSURE_NOTE] + [copy_text(card.text, card.citation) for card in cards]
    else:
        views = [card_view(card, f"段落 {i}", "closest") for i, card in enumerate(cards, 1)]
        plain.append(NO_ANSWER)
    return render("reply.html", verdict=verdict, query=query_view(shown, resp.expansions), cards=views,
                  copy="\n".join(plain), strong=STRONG, unsure_note=UNSURE_NOTE, no_answer=NO_ANSWER)


def shown_record(resp: SearchResponse, searched: str | None = None) -> dict:
    """What a reply showed, as the feedback store keeps it: the question, what was searched, the
    verdict and the results (merged as on the cards, cited with file name and offsets)."""
    return {"question": resp.question, "query": searched if searched is not None else resp.query,
            "answered": resp.answered, "verdict": reply_verdict(resp), "confidence": round(resp.confidence, 4),
            "results": [{"text": c.text, "citation": citation_text(c.citation, offsets=True)}
                        for c in merge_results(resp.results)]}


_ATTR = {name: re.compile(rf'class="pqa-reply[^"]*" [^>]*?{name}="([^"]*)"', re.S) for name in ("data-copy",)}


def reply_attr(html: str, name: str) -> str | None:
    """The unescaped ``data-copy`` attribute of a rendered reply (None if absent)."""
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
    shown = []
    for s, e in lines[first:last]:
        if s < c.end and c.start < e:
            shown.append(("here", mark_runs(text[s:e], s, spans, STRONG if view.answer else FAINT)))
        else:
            shown.append(("pqa-h" if s in view.headings else "para", [(text[s:e], "", "")]))
    return render("source.html", heading=heading, title=c.title or file_name(c.source), where=where_text(c),
                  file=file_name(c.source), tools=Markup(tools), figure=Markup(view.figure), lines=shown)


def batch_table_html(headers: list[str], rows: list[list], caption: str = "批量提问的结果",
                     verdicts: list[str] | None = None) -> str:
    """The batch table as an HTML table: the same cells as the downloaded table, each cell labelled
    with its column (a phone shows each question as a card of labelled lines); ``verdicts`` (each
    row's ``results.VERDICTS`` code, or "error") colour the 是否回答 column."""
    verdicts = verdicts or [""] * len(rows)
    shown = [([(h, str(v)) for h, v in zip(headers, row)], VERDICT_CLASSES.get(code, "error"))
             for row, code in zip(rows, verdicts)]
    return render("batch_table.html", headers=headers, rows=shown, caption=caption, verdict_column="是否回答")
