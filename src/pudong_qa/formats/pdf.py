"""PDF reports, read with pypdf: text per page, wrapped lines joined back into paragraphs.

Why pypdf rather than pdfminer.six (measured on tests/fixtures/formats/report.pdf, printed by Chromium,
and on variants of it printed by scripts/make_format_fixtures.py's HTML with extra CSS; "ratio" is the
difflib similarity of the extracted body to the source text, "gaps" the spaces found between two CJK
characters, 4 of which are real):

    layout                    pypdf                       pdfminer.six
    plain (the fixture)       ratio 1.000, 4 gaps, 0.06s  ratio 1.000, 4 gaps, 0.11s
    letter-spacing 1.5pt      ratio 1.000, 476 gaps       ratio 1.000, 476 gaps
    two text columns          ratio 1.000, 2 gaps         ratio 0.576, 13 gaps (columns interleaved, 同 时 ， 要)
    Noto CJK as Type 3 fonts  ratio 0.898, 0.76s          ratio 0.898, 1.01s, a FontBBox warning per glyph
    (the 0.898: both return Kangxi radicals such as ⼀ ⼯ for 一 工 with Noto CJK; both that and the
    letter-spaced lines are repaired below; those two variants then give exactly the fixture's paragraphs)

Both get every character of a simple page; pdfminer's layout analysis reorders multi-column pages and
spaces out justified CJK lines, while pypdf keeps the producer's content order, is about twice as fast and
quiet. What pypdf lacks is line positions, so running headers and footers are found by what they are
rather than where: lines at either edge of a page's text (pypdf returns them first or last) that repeat,
digits aside, on most pages, plus bare page numbers (第 3 页, - 3 -, 3/10).

A line ends its paragraph when it ends a sentence (。！？；： …) or falls clearly short of the page's
full line width, so a heading is never glued to the text under it; otherwise the next line (even on the
next page) continues it, joined without a space between CJK characters. A line whose characters are all
spaced out (letter-spaced or justified text) is closed up. Numbered lines (一、 （一） 1、) are headings.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from ..document import DEFAULT_MAX_FILE_BYTES, Document, parse_heading
from ..errors import CorpusError
from ._common import (
    DocumentBuilder,
    clean_text,
    join_lines,
    looks_like_title,
    read_bytes,
)
from .page_text import FULL_LINE, JUNK_TITLE, RADICALS, close_up, drop_running, ends_sentence, line_width
from .registry import loader


def _page_texts(path: Path, source: str, max_bytes: int) -> tuple[list[str], str]:
    """Each page's extracted text, and the metadata title (or "")."""
    from pypdf import PdfReader  # imported on first use: it takes half a second
    from pypdf.errors import FileNotDecryptedError, PyPdfError

    read_bytes(path, source, max_bytes)
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorpusError(code="pdf_protected", subject=source)
        texts = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or ""
    except CorpusError:
        raise
    except FileNotDecryptedError:
        raise CorpusError(code="pdf_protected", subject=source) from None
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, struct.error, zlib.error,
            RecursionError) as exc:
        raise CorpusError(code="pdf_broken", subject=source, reason=str(exc) or type(exc).__name__) from None
    return texts, str(title)


@loader(".pdf")
def load_pdf(path: Path, source: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Document:
    """A PDF with a text layer: paragraphs carry their (first) page; running headers and folios left out."""
    texts, meta_title = _page_texts(path, source, max_bytes)
    from .scanned import load_scanned_pdf, scanned_pages  # OCR for pages without a text layer (scanned.py)

    scanned = scanned_pages(path, texts)
    if scanned or not any(text.strip() for text in texts):
        return load_scanned_pdf(path, source, texts, scanned, meta_title)
    pages = [[line for line in (close_up(clean_text(raw.translate(RADICALS))) for raw in text.splitlines()) if line]
             for text in texts]
    pages = drop_running(pages)
    widths = sorted(line_width(line) for lines in pages for line in lines)
    if not widths:
        raise CorpusError(code="no_text", subject=source)
    full = widths[int(0.9 * (len(widths) - 1))]

    out = DocumentBuilder(source)
    first = True
    buffer: list[str] = []
    buffer_page = 1

    def flush() -> None:
        if buffer:
            out.numbered_line(join_lines(buffer), buffer_page)
            buffer.clear()

    for number, lines in enumerate(pages, 1):
        for line in lines:
            if first:
                first = False
                if looks_like_title(line) and line_width(line) < FULL_LINE * full:
                    out.title_line(line)
                    continue
            heading = parse_heading(line)
            if heading is not None and heading[2]:
                flush()
                out.heading(heading[0], heading[1])
                continue
            if not buffer:
                buffer_page = number
            buffer.append(line)
            if ends_sentence(line) or line_width(line) < FULL_LINE * full:
                flush()
    flush()
    title = None if JUNK_TITLE.search(meta_title) or not meta_title.strip() else meta_title
    return out.build(title=out.title or title)
