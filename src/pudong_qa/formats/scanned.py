"""Scanned documents: pictures (.png .jpg .tif .bmp .webp) and PDF pages without a text layer, read by OCR.

A picture is a document of one page (a multi-page TIFF, of several). A PDF page is read by OCR when its
text layer has almost nothing on it but it carries an image (a scan); its other pages keep their text
layer (``pdf.py`` hands a PDF here when it has any such page). Every page is checked before it is
decoded (pixels, PDF page size), so a decompression bomb or an absurd page is refused by name, and a page
that cannot be read or yields almost no text is named in the build's skipped list with its number,
without losing the rest of the document. Recognised pages come from and go to the OCR cache of the
current ``ocr_context`` (``ocr_cache.py``), keyed by the file's SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..document import DEFAULT_MAX_FILE_BYTES, Document
from ..errors import CorpusError, Problem
from ..progress import Step
from ._common import clean_text, read_bytes
from .ocr import current, options_record, recognise
from .ocr_cache import OcrPage
from .ocr_layout import Line, build_document, ocr_page_lines, paragraphs, text_page_lines
from .page_text import FULL_LINE, JUNK_TITLE, RADICALS, close_up, drop_running, ends_sentence, line_width
from .registry import loader

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
MAX_PIXELS = 60_000_000  # a page image above this is refused: A4 at 600 dpi is 35 M, a phone photo 12-50 M
MAX_SIDE_RATIO = 20  # a "page" 20 times longer than wide is not a page
MIN_SIDE = 32  # pixels: nothing smaller can hold a line of text
MAX_PAGE_POINTS = 14_400  # PDF's own limit on a page side (200 inches)
MAX_PAGES = 500  # pages of one scanned file
MIN_TEXT_CHARS = 20  # a PDF page with less text than this in its text layer, and an image, is a scan
MIN_PAGE_CHARS = 10  # a recognised page with fewer characters is named in the skipped list

Render = Callable[[], Any]  # → a PIL image of one page


def _check_size(source: str, width: int, height: int, what: str) -> None:
    if width * height > MAX_PIXELS:
        raise CorpusError(code="image_too_large", subject=source, what=what, width=width, height=height,
                          limit=MAX_PIXELS // 10**6)
    if min(width, height) < MIN_SIDE or max(width, height) > MAX_SIDE_RATIO * min(width, height):
        raise CorpusError(code="image_bad_size", subject=source, what=what, width=width, height=height)


def _image_frames(data: bytes, source: str) -> list[tuple[int, Render]]:
    """The pages of a picture file, each checked for size before it is decoded."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        count = getattr(image, "n_frames", 1)
    except Image.DecompressionBombError:
        raise CorpusError(code="image_bomb", subject=source) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CorpusError(code="image_broken", subject=source, reason=str(exc) or type(exc).__name__) from None
    if count > MAX_PAGES:
        raise CorpusError(code="too_many_pages", subject=source, count=count, limit=MAX_PAGES)

    def frame(i: int) -> Render:
        def render():
            try:
                image.seek(i)
                _check_size(source, *image.size, "the image")
                return ImageOps.exif_transpose(image.convert("RGB"))
            except Image.DecompressionBombError:
                raise CorpusError(code="image_bomb", subject=source) from None
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise CorpusError(code="image_broken", subject=source, reason=str(exc) or type(exc).__name__) from None
        return render

    _check_size(source, *image.size, "the image")
    return [(i + 1, frame(i)) for i in range(count)]


def recognise_pages(source: str, sha: str, frames: list[tuple[int, Render]]) -> list[OcrPage]:
    """Every page recognised (or taken from the cache), in order; unreadable and near-empty pages are
    named in the context's skipped list; the context's progress hears ``Step("ocr", done, total)``."""
    import numpy as np

    ctx = current()
    options = options_record(ctx.options)
    cached = ctx.cache.pages(sha, options) if ctx.cache else {}
    ctx.used.add(sha)
    pages: list[OcrPage] = []
    if ctx.progress:
        ctx.progress(Step("ocr", 0, len(frames)))
    for done, (number, render) in enumerate(frames, 1):
        page = cached.get(number)
        if page is None:
            try:
                image = render()
            except CorpusError as exc:
                why = {"page": number, "problem": exc.problem.as_param()}
                ctx.skipped.append((source, Problem("page_failed", why)))
                continue
            lines = recognise(np.asarray(image.convert("RGB")), ctx.options)
            page = OcrPage(number, image.width, image.height, lines)
            ctx.calls += 1
            if ctx.cache:
                ctx.cache.save_image(sha, number, image)
                cached[number] = page
                ctx.cache.save(sha, options, cached)
        if sum(len(clean_text(ln.text)) for ln in page.lines) < MIN_PAGE_CHARS:
            ctx.skipped.append((source, Problem("page_no_text", {"page": number})))
        pages.append(page)
        if ctx.progress:
            ctx.progress(Step("ocr", done, len(frames)))
    return pages


def _page_records(pages: list[OcrPage]) -> list[dict[str, Any]]:
    return [{"page": p.number, "width": p.width, "height": p.height} for p in pages]


def _document(source: str, sha: str, lines: list[Line], pages: list[OcrPage], title: str | None = None) -> Document:
    if not any(ln.text for ln in lines):
        raise CorpusError(code="no_text_recognised", subject=source)
    doc = build_document(source, paragraphs(lines), _page_records(pages), title)
    if doc.layout is not None:
        doc.layout["sha256"] = sha
    return doc


@loader(*IMAGE_SUFFIXES)
def load_image(path: Path, source: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Document:
    """A picture of a page (or a multi-page TIFF), read by OCR; paragraphs carry their page."""
    if not current().options.enabled:
        raise CorpusError(code="ocr_off", subject=source)
    data = read_bytes(path, source, max_bytes)
    sha = hashlib.sha256(data).hexdigest()
    pages = recognise_pages(source, sha, _image_frames(data, source))
    by_page = ocr_page_lines(pages)
    return _document(source, sha, [ln for p in pages for ln in by_page[p.number]], pages)


def scanned_pages(path: Path, texts: list[str]) -> list[int]:
    """The pages (1-based) of a PDF to read by OCR: almost no text layer, but an image. [] when OCR is off."""
    thin = [n for n, text in enumerate(texts, 1) if len("".join(text.split())) < MIN_TEXT_CHARS]
    if not thin or not current().options.enabled:
        return []
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError:
        return []
    try:
        return [n for n in thin
                if any(True for _ in pdf[n - 1].get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3))]
    finally:
        pdf.close()


def _pdf_frames(pdf: Any, source: str, numbers: list[int], dpi: int) -> list[tuple[int, Render]]:
    def frame(n: int) -> Render:
        def render():
            page = pdf[n - 1]
            width, height = page.get_size()
            if max(width, height) > MAX_PAGE_POINTS:
                raise CorpusError(code="page_too_large", subject=source, width=width, height=height)
            scale = min(dpi / 72, math.sqrt(MAX_PIXELS / max(1.0, width * height)))
            return page.render(scale=scale).to_pil()
        return render
    return [(n, frame(n)) for n in numbers]


def load_scanned_pdf(path: Path, source: str, texts: list[str], scanned: list[int], meta_title: str) -> Document:
    """A PDF with scanned pages: those read by OCR, the others from their text layer, in page order
    (refused as before when it has no text layer and OCR is off or finds no image to read)."""
    import pypdfium2 as pdfium

    if not scanned:
        raise CorpusError(code="pdf_no_text_layer", subject=source)
    if len(scanned) > MAX_PAGES:
        raise CorpusError(code="too_many_pages", subject=source, count=len(scanned), limit=MAX_PAGES)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise CorpusError(code="pdf_broken", subject=source, reason=str(exc)) from None
    try:
        pages = recognise_pages(source, sha, _pdf_frames(pdf, source, scanned, current().options.dpi))
    finally:
        pdf.close()
    by_page = ocr_page_lines(pages)
    text_pages = [n for n in range(1, len(texts) + 1) if n not in set(scanned)]
    cleaned = drop_running([[line for line in (close_up(clean_text(raw.translate(RADICALS)))
                                                for raw in texts[n - 1].splitlines()) if line] for n in text_pages])
    widths = sorted(line_width(line) for lines in cleaned for line in lines)
    full = widths[int(0.9 * (len(widths) - 1))] if widths else 0
    by_page |= {n: text_page_lines(n, lines, [ends_sentence(x) or line_width(x) < FULL_LINE * full for x in lines])
                for n, lines in zip(text_pages, cleaned)}
    lines = [ln for n in sorted(by_page) for ln in by_page[n]]
    title = None if JUNK_TITLE.search(meta_title) or not meta_title.strip() else meta_title
    return _document(source, sha, lines, pages, title)
