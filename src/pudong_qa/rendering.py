"""Search results as HTML cards for the chat page. Every piece of document or user text
goes through ``html.escape``, so a document containing ``<script>`` shows as text."""

from __future__ import annotations

from html import escape

from .search import Result, SearchResponse

NO_ANSWER = "报告中没有找到可靠的答案"

CSS = """
.pqa-query { color: #6b7280; font-size: 0.85em; margin-bottom: 6px; }
.pqa-warn { background: #fef3c7; border-left: 4px solid #d97706; padding: 6px 10px; margin: 6px 0; }
.pqa-card { border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 12px; margin: 8px 0; }
.pqa-card.pqa-low { opacity: 0.8; border-style: dashed; }
.pqa-head { font-size: 0.85em; color: #374151; margin-bottom: 4px; }
.pqa-passage { line-height: 1.7; margin: 4px 0; }
.pqa-passage mark { background: #fde68a; padding: 0 2px; }
.pqa-cite { font-size: 0.8em; color: #4b5563; }
"""


def relevance_label(score: float, confident: bool) -> str:
    if not confident:
        return "低 low"
    return "高 high" if score >= 0.75 else "中 medium"


def citation_text(r: Result) -> str:
    c = r.citation
    parts = [f"《{c.title}》"] + ([c.section] if c.section else []) + [f"第{c.paragraph}段"]
    return " › ".join(parts) + f" · {c.source} [{c.start}–{c.end}]"


def result_card(r: Result, confident: bool) -> str:
    """One result: the passage with its answer highlighted, the citation, a relevance label."""
    a, b = r.answer_start - r.citation.start, r.answer_end - r.citation.start
    passage = f"{escape(r.text[:a])}<mark>{escape(r.text[a:b])}</mark>{escape(r.text[b:])}"
    low = "" if confident else " pqa-low"
    return (
        f'<div class="pqa-card{low}">'
        f'<div class="pqa-head">#{r.rank} · 相关度 {escape(relevance_label(r.score, confident))}'
        f" ({r.score:.2f})</div>"
        f'<p class="pqa-passage">{passage}</p>'
        f'<div class="pqa-cite">{escape(citation_text(r))}</div>'
        "</div>"
    )


def render_response(resp: SearchResponse, searched: str | None = None) -> str:
    """The whole chat answer: the query searched, a no-answer notice if needed, the cards."""
    shown = searched if searched is not None else resp.query
    parts = [f'<div class="pqa-query">检索 searched: {escape(shown)}</div>']
    if not resp.results:
        parts.append(f'<div class="pqa-warn">{NO_ANSWER}。请换一种问法。</div>')
        return "".join(parts)
    if not resp.answered:
        parts.append(f'<div class="pqa-warn">{NO_ANSWER}。以下是最接近的段落(低置信度):</div>')
    for i, r in enumerate(resp.results):
        parts.append(result_card(r, resp.answered and (i == 0 or r.score >= 0.5)))
    return "".join(parts)
