"""Where a cited passage of a scanned page sits, and how sure OCR was of it.

A scanned document's layout (``Document.layout``, kept in the index's documents file) lists every
recognised line: its character offsets in the text, its page, its box in page pixels and the model's
confidence. A citation's ``[start, end)`` picks its lines; their boxes (as shares of the page, so they
scale with the picture on a phone) outline the passage on the page image, and the lowest of their
confidences says whether the passage should be checked against the page. Search itself never sees
layouts: ``with_scans`` adds them to a finished response.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..results import Citation, SearchResponse

LOW_CONFIDENCE = 0.85  # a passage with a line read below this (PP-OCR's own score) asks to be checked
LOW_CONFIDENCE_NOTE = "识别置信度较低,请核对原文页面"

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 as shares (0-1) of the page's width and height


@dataclass(frozen=True)
class PassageOnPage:
    page: int
    boxes: tuple[Box, ...]
    confidence: float  # the lowest line confidence in the passage


def locate(layout: Mapping[str, Any], start: int, end: int) -> PassageOnPage | None:
    """The page of the passage's first recognised line, the boxes of its lines on that page and its
    lowest confidence; None when no recognised line overlaps ``[start, end)``."""
    rows = [r for r in layout.get("lines", []) if r[0] < end and start < r[1]]
    if not rows:
        return None
    page = rows[0][2]
    size = next(((p["width"], p["height"]) for p in layout.get("pages", []) if p["page"] == page), None)
    if not size or not size[0] or not size[1]:
        return None
    w, h = size
    boxes = tuple((round(r[3] / w, 4), round(r[4] / h, 4), round(r[5] / w, 4), round(r[6] / h, 4))
                  for r in rows if r[2] == page)
    return PassageOnPage(page, boxes, min(r[7] for r in rows))


def cite(c: Citation, layout: Mapping[str, Any] | None) -> Citation:
    """The citation with its boxes and OCR confidence when its document was scanned, else unchanged."""
    where = locate(layout, c.start, c.end) if layout else None
    if where is None:
        return c
    return replace(c, page=c.page or where.page, boxes=where.boxes, confidence=round(where.confidence, 3))


def with_scans(resp: SearchResponse, layouts: Mapping[str, Mapping[str, Any]]) -> SearchResponse:
    """The response with every citation into a scanned document carrying its boxes and confidence."""
    if not layouts or not any(r.citation.source in layouts for r in resp.results):
        return resp
    results = [replace(r, citation=cite(r.citation, layouts.get(r.citation.source))) for r in resp.results]
    return replace(resp, results=results)


def low_confidence(c: Citation) -> bool:
    return c.confidence is not None and c.confidence < LOW_CONFIDENCE


_LAYOUTS: dict[Path, tuple[float, dict[str, dict]]] = {}
_LOCK = threading.Lock()


def layouts(index_dir: Path) -> dict[str, dict]:
    """The layouts of an index's scanned documents, by source (read once per version of its documents file)."""
    path = Path(index_dir) / "documents.json"
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return {}
    with _LOCK:
        known = _LAYOUTS.get(path)
        if known and known[0] == stamp:
            return known[1]
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    found = {r["source"]: r["layout"] for r in records if r.get("layout")}
    with _LOCK:
        _LAYOUTS[path] = (stamp, found)
    return found
