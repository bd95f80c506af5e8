"""Search results as HTML cards for the chat page, and the source view a citation opens.

Every piece of document or user text goes through ``html.escape``, so a document containing
``<script>`` shows as text. Colours come in explicit light and dark pairs (Gradio puts ``.dark``
on the page in dark mode), each pair checked for WCAG AA contrast by the browser test.

A card carries ``data-copy``: the passage and a citation line as plain text, which the page's
copy buttons put on the clipboard instead of HTML. A reply carries ``data-copy`` for the whole
reply and ``data-log`` (the question and the results shown, as JSON) for the feedback store.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html import escape, unescape
from urllib.parse import urlencode

from .results import NO_ANSWER, Citation, Result, SearchResponse, format_citation

LIGHT = {"text": "#111827", "muted": "#374151", "card": "#ffffff", "border": "#d1d5db", "mark": "#fde68a",
         "mark_text": "#111827", "warn": "#fef3c7", "warn_text": "#78350f", "warn_edge": "#b45309", "link": "#1d4ed8"}
DARK = {"text": "#f3f4f6", "muted": "#d1d5db", "card": "#1f2937", "border": "#4b5563", "mark": "#854d0e",
        "mark_text": "#fefce8", "warn": "#451a03", "warn_text": "#fde68a", "warn_edge": "#f59e0b", "link": "#93c5fd"}


def _rules(c: dict, scope: str) -> str:
    """One rule per selector (Gradio scopes custom CSS and only rewrites a leading ``.dark``)."""
    rules = {
        ".pqa-reply": f"color: {c['text']};",
        ".pqa-query": f"color: {c['muted']};",
        ".pqa-off": f"color: {c['muted']};",
        ".pqa-head": f"color: {c['muted']};",
        ".pqa-warn": f"background: {c['warn']}; color: {c['warn_text']}; border-left: 4px solid {c['warn_edge']};",
        ".pqa-card": f"background: {c['card']}; color: {c['text']}; border: 1px solid {c['border']};",
        ".pqa-card mark": f"background: {c['mark']}; color: {c['mark_text']};",
        ".pqa-card a.pqa-cite": f"color: {c['link']} !important;",
        ".pqa-more summary": f"color: {c['muted']};",
        ".pqa-copy": f"color: {c['muted']}; background: {c['card']}; border: 1px solid {c['border']};",
    }
    return "".join(f"{scope} {sel} {{ {body} }}\n".lstrip() for sel, body in rules.items())


CSS = _rules(LIGHT, "") + _rules(DARK, ".dark") + """
.pqa-reply { line-height: 1.7; }
#chatbot .prose { opacity: 1 !important; }
.pqa-copytext { display: none; }
.pqa-query { font-size: 0.85em; margin-bottom: 6px; }
.pqa-warn { padding: 8px 12px; margin: 6px 0; font-weight: 600; border-radius: 4px; }
.pqa-card { border-radius: 8px; padding: 8px 12px; margin: 8px 0; }
.pqa-card.pqa-low { border-style: dashed; }
.pqa-head { font-size: 0.85em; margin-bottom: 4px; display: flex; gap: 8px; align-items: center; }
.pqa-head .pqa-copy { margin-left: auto; }
.pqa-copy { font-size: 0.85em; border-radius: 4px; padding: 0 8px; cursor: pointer; }
.pqa-passage { margin: 4px 0; overflow-wrap: anywhere; }
.pqa-passage mark { padding: 0 2px; }
.pqa-cite { font-size: 0.9em; text-decoration: underline; overflow-wrap: anywhere; }
.pqa-off { font-size: 0.75em; margin-left: 6px; }
.pqa-more summary { cursor: pointer; font-weight: 600; margin: 6px 0; }
"""


@dataclass
class Card:
    """One card: a passage (possibly several merged hits of one paragraph) and its answer spans."""

    rank: int
    citation: Citation
    text: str
    answers: list[tuple[int, int]] = field(default_factory=list)  # absolute offsets in the source

    @classmethod
    def of(cls, r: Result) -> Card:
        return cls(r.rank, r.citation, r.text, [(r.answer_start, r.answer_end)])

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
        self.citation = Citation(a.source, a.title, a.section, a.paragraph, start, end, a.page)
        self.answers.append((r.answer_start, r.answer_end))


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


def highlight(text: str, start: int, spans: list[tuple[int, int]]) -> str:
    """Escaped ``text`` (beginning at offset ``start``) with each answer span in ``<mark>``."""
    merged: list[list[int]] = []
    for a, b in sorted((max(a - start, 0), min(b - start, len(text))) for a, b in spans):
        if a >= b:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out, pos = [], 0
    for a, b in merged:
        out += [escape(text[pos:a]), "<mark>", escape(text[a:b]), "</mark>"]
        pos = b
    out.append(escape(text[pos:]))
    return "".join(out)


def confidence_label(confidence: float) -> str:
    return "高" if confidence >= 0.8 else "中" if confidence >= 0.5 else "低"


def doc_link(c: Citation) -> str:
    return "/doc?" + urlencode({"source": c.source, "start": c.start, "end": c.end})


def copy_text(text: str, c: Citation) -> str:
    return f"{text}\n——{format_citation(c, offsets=False)}"


def card_html(card: Card, head: str, marks: bool, low: bool = False) -> str:
    c = card.citation
    passage = highlight(card.text, c.start, card.answers) if marks else escape(card.text)
    copy = escape(copy_text(card.text, c))
    return (
        f'<div class="pqa-card{" pqa-low" if low else ""}" data-copy="{copy}">'
        f'<div class="pqa-head"><span>{head}</span>'
        f'<button type="button" class="pqa-copy" title="复制段落和出处">复制</button></div>'
        f'<span class="pqa-copytext">{copy}</span>'
        f'<p class="pqa-passage">{passage}</p>'
        f'<a class="pqa-cite" href="{escape(doc_link(c))}" target="_blank" rel="noopener" '
        f'title="打开原文 open the source">{escape(format_citation(c, offsets=False))}</a>'
        f'<span class="pqa-off">{escape(c.source)} [{c.start}–{c.end}]</span>'
        "</div>"
    )


def render_response(resp: SearchResponse, searched: str | None = None) -> str:
    """The whole chat answer. Answered: the cards, the first labelled by the confidence.
    Not answered: the no-answer banner first, then the nearest passages folded, without highlights."""
    shown = searched if searched is not None else resp.query
    cards = merge_results(resp.results)
    parts = [f'<div class="pqa-query">检索 searched: {escape(shown)}</div>']
    plain: list[str] = []
    if not cards:
        parts.append(f'<div class="pqa-warn" role="status">{NO_ANSWER}。请换一种问法。</div>')
        plain.append(NO_ANSWER)
    elif not resp.answered:
        parts.append(f'<div class="pqa-warn" role="status">{NO_ANSWER}。请换一种问法。</div>')
        parts.append(f'<details class="pqa-more"><summary>可能相关的段落 ({len(cards)}) · 未确认是答案</summary>')
        parts += [card_html(card, f"段落 {i}", marks=False, low=True) for i, card in enumerate(cards, 1)]
        parts.append("</details>")
        plain.append(NO_ANSWER)
    else:
        label = confidence_label(resp.confidence)
        for i, card in enumerate(cards):
            head = f"答案 · 置信度 {label}" if i == 0 else f"相关段落 {i + 1}"
            parts.append(card_html(card, escape(head), marks=True))
            plain.append(copy_text(card.text, card.citation))
    log = {"question": resp.question, "query": shown, "answered": resp.answered,
           "confidence": round(resp.confidence, 4),
           "results": [{"text": c.text, "citation": format_citation(c.citation)} for c in cards]}
    return (f'<div class="pqa-reply" data-copy="{escape(chr(10).join(plain))}" '
            f'data-log="{escape(json.dumps(log, ensure_ascii=False))}">' + "".join(parts) + "</div>")


_ATTR = {name: re.compile(rf'class="pqa-reply" [^>]*?{name}="([^"]*)"', re.S) for name in ("data-copy", "data-log")}


def reply_attr(html: str, name: str) -> str | None:
    """The unescaped ``data-copy`` / ``data-log`` attribute of a rendered reply (None if absent)."""
    m = _ATTR[name].search(html or "")
    return unescape(m.group(1)) if m else None


def source_html(text: str, c: Citation, context: int = 2) -> str:
    """The source view's body: the heading path first, then the cited paragraph with the passage
    marked, between up to ``context`` paragraphs on either side (paragraphs are text lines)."""
    starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
    paras = [(s, s + len(line)) for s, line in zip(starts, text.split("\n")) if line.strip()]
    at = next((i for i, (s, e) in enumerate(paras) if s <= c.start < e + 1), 0)
    out = [f'<h1>{escape(c.title or c.source)}</h1>',
           f'<p class="where">{escape(format_citation(c, offsets=False))}</p>',
           f'<p class="off">{escape(c.source)} [{c.start}–{c.end}]</p>']
    for i in range(max(0, at - context), min(len(paras), at + context + 1)):
        s, e = paras[i]
        body = highlight(text[s:e], s, [(c.start, c.end)]) if i == at else escape(text[s:e])
        attrs = 'class="here" id="here"' if i == at else 'class="para"'
        out.append(f"<p {attrs}>{body}</p>")
    return "\n".join(out)


def source_page(text: str, c: Citation) -> str:
    """A complete page for ``/doc``: readable in light and dark."""
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(c.title or c.source)} · 原文</title>
<style>
body {{ font-family: system-ui, "Noto Sans CJK SC", sans-serif; max-width: 46em; margin: 0 auto; padding: 16px;
  line-height: 1.8; background: #ffffff; color: #111827; }}
h1 {{ font-size: 1.3em; }} .where {{ font-weight: 600; }} .off {{ font-size: 0.8em; color: #4b5563; }}
.para {{ color: #374151; }} .here {{ border-left: 4px solid #b45309; padding-left: 10px; }}
mark {{ background: #fde68a; color: #111827; }}
@media (prefers-color-scheme: dark) {{
  body {{ background: #111827; color: #f3f4f6; }} .off {{ color: #d1d5db; }} .para {{ color: #e5e7eb; }}
  mark {{ background: #854d0e; color: #fefce8; }} .here {{ border-color: #f59e0b; }} }}
</style></head><body>
{source_html(text, c)}
</body></html>"""
