"""A scanned page in the source view: the page image with the cited passage's lines outlined.

The boxes are absolutely positioned over the ``<img>`` in percent of the page, so they stay on the
lines at any width (a phone, the panel beside the chat, the whole-page ``/doc`` view). The image is
served by ``/doc?doc=KEY&page=N&image=1`` from the OCR cache, for indexed documents only
(``ChatPage.page_image``); the recognised text stays below it, selectable and copyable.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from ..formats.ocr_cache import OcrCache, cache_folder
from ..rendering import render
from ..search.scans import PassageOnPage
from ..settings import Settings

PAD = 0.004  # boxes are drawn this share of the page outside the recognised line, so no stroke hides text


def page_image_path(settings: Settings, layout: dict, page: int) -> Path | None:
    """The stored picture of one page of a scanned document, if the OCR cache still has it."""
    sha = str(layout.get("sha256", ""))
    if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha) or page < 1:
        return None
    path = OcrCache(cache_folder(settings.cache_dir, settings.index)).image_path(sha, int(page))
    return path if path.is_file() else None


def scan_figure(key: str, where: PassageOnPage) -> str:
    """The page image with one outline per line of the passage (percent coordinates)."""
    src = "/doc?" + urlencode({"doc": key, "page": where.page, "image": 1})
    boxes = [(f"{max(0.0, x0 - PAD) * 100:.2f}", f"{max(0.0, y0 - PAD) * 100:.2f}",
              f"{(x1 - x0 + 2 * PAD) * 100:.2f}", f"{(y1 - y0 + 2 * PAD) * 100:.2f}") for x0, y0, x1, y1 in where.boxes]
    return render("scan_figure.html", src=src, page=where.page, boxes=boxes)
