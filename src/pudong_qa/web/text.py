"""Small text helpers of the page: message content as text, Markdown escaping, times, table widths."""

from __future__ import annotations

from datetime import datetime
from html import escape


def as_text(content) -> str:
    """Message content as plain text (Gradio may hand over a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(as_text(c) for c in content)
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


def previous_questions(history: list[dict] | None) -> list[str]:
    return [as_text(m.get("content")) for m in history or [] if m.get("role") == "user"]


def md(text: str) -> str:
    """Text shown inside Markdown: HTML-escaped, table pipes and backticks neutralised."""
    return escape(str(text)).replace("|", "\\|").replace("`", "'")


def local_time(iso: str) -> str:
    """An ISO timestamp as a ``<time>`` that page.js shows in the browser's own time zone
    ("2026-11-27 23:38:57"); until it does (or without scripts), the server's time with its offset."""
    try:
        t = datetime.fromisoformat(iso).astimezone()
    except (TypeError, ValueError):
        return str(iso)
    offset = t.strftime("%z")
    shown = t.strftime("%Y-%m-%d %H:%M:%S") + f" (UTC{offset[:3]}:{offset[3:]})"
    return f'<time class="pqa-time" datetime="{t.isoformat()}">{shown}</time>'
