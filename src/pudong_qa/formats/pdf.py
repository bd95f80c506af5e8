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

import math
import re
import struct
import unicodedata
import zlib
from collections import Counter
from pathlib import Path

from ..document import DEFAULT_MAX_FILE_BYTES, Document, parse_heading
from ..errors import CorpusError
from ._common import (
    CLOSERS,
    SENTENCE_END,
    DocumentBuilder,
    clean_text,
    is_cjk,
    join_lines,
    looks_like_title,
    read_bytes,
)
from .registry import loader

EDGE_LINES = 3  # lines at each end of a page's text that may be a running header or footer
RUNNING_SHARE = 0.6  # a line repeated on at least this share of pages (and at least 2) is running
FULL_LINE = 0.75  # a line this close to the page's usual full width is wrapped, not ended
_PAGE_NUMBER = re.compile(
    r"^(?:第\s*\d+\s*页(?:\s*[,，/]?\s*共\s*\d+\s*页)?|[-–—]?\s*\d+\s*[-–—]?|\d+\s*(?:/|of)\s*\d+"
    r"|page\s*\d+(?:\s*of\s*\d+)?)$",
    re.IGNORECASE,
)
_CJK_CLASS = r"[\u2e80-\u9fff\uff00-\uffef]"
_SPACED_CJK = re.compile(rf"(?<={_CJK_CLASS}) (?=\S)|(?<=\S) (?={_CJK_CLASS})")
_SPACED_DIGITS = re.compile(r"(?<=\d) (?=\d)")
_ALL_SPACED = re.compile(r"\S(?: \S)+")
# Fonts such as Noto CJK / Source Han draw 一 and the radical ⼀ with one glyph, and their ToUnicode map
# may name the radical: "⼀、基本情况" would then be no heading and "⼯作" no word. Map the Kangxi radicals
# (NFKC knows them) and the CJK radicals supplement (from the shared glyphs in Noto Sans/Serif CJK's cmap)
# back to the ideographs.
_RADICALS = str.maketrans(
    {chr(cp): unicodedata.normalize("NFKC", chr(cp)) for cp in range(0x2F00, 0x2FD6)}
    | dict(zip(
        "⺂⺃⺅⺉⺎⺏⺐⺒⺓⺔⺕⺖⺘⺙⺛⺞⺟⺠⺡⺣⺤⺦⺨⺫⺭⺯⺰⺱⺲⺹⺺⺾⺿⻁⻂⻃⻄⻅"
        "⻆⻈⻉⻋⻌⻍⻎⻐⻑⻒⻓⻔⻖⻘⻙⻚⻛⻜⻝⻟⻠⻢⻣⻤⻥⻦⻧⻨⻩⻪⻫⻬⻭⻮⻯⻰⻱⻲"
        "⻳",
        "乛乚亻刂兀尣尢巳幺彑彐忄扌攵旡歺母民氵灬爫丬犭罒礻糹纟罓罒耂肀艹艹虎衤覀西见"
        "角讠贝车辶辶辶钅長镸长门阝青韦页风飞食飠饣马骨鬼鱼鸟卤麦黄黾斉齐歯齿竜龙龜亀"
        "龟",
    ))
)
_JUNK_TITLE = re.compile(r"^(?:microsoft word\s*-|untitled)|\.(?:docx?|html?|pdf|txt)$", re.IGNORECASE)


def _close_up(line: str) -> str:
    """Close up a line whose characters are spaced out one by one (letter-spaced or justified CJK)."""
    cjk = sum(1 for ch in line if is_cjk(ch))
    if cjk and _ALL_SPACED.fullmatch(line):
        return line.replace(" ", "")
    if cjk >= 4 and 2 * len(_SPACED_CJK.findall(line)) >= cjk:
        return _SPACED_DIGITS.sub("", _SPACED_CJK.sub("", line))
    return line


def _width(line: str) -> float:
    return sum(1.0 if is_cjk(ch) else 0.5 for ch in line)


def _running_key(line: str) -> str:
    return re.sub(r"[\d\s]+", "", line)


def _drop_running(pages: list[list[str]]) -> list[list[str]]:
    """Leave out page numbers and the header/footer lines repeated on most pages."""
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({_running_key(line) for line in lines[:EDGE_LINES] + lines[-EDGE_LINES:]})
    need = max(2, math.ceil(len(pages) * RUNNING_SHARE))
    running = {key for key, n in counts.items() if key and n >= need}
    kept = []
    for lines in pages:
        edge = set(range(min(EDGE_LINES, len(lines)))) | set(range(max(0, len(lines) - EDGE_LINES), len(lines)))
        kept.append([line for i, line in enumerate(lines)
                     if i not in edge or not (_PAGE_NUMBER.match(line) or _running_key(line) in running)])
    return kept


def _ends_sentence(line: str) -> bool:
    return line.rstrip(CLOSERS)[-1:] in SENTENCE_END


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
    pages = [[line for line in (_close_up(clean_text(raw.translate(_RADICALS))) for raw in text.splitlines()) if line]
             for text in texts]
    pages = _drop_running(pages)
    widths = sorted(_width(line) for lines in pages for line in lines)
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
                if looks_like_title(line) and _width(line) < FULL_LINE * full:
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
            if _ends_sentence(line) or _width(line) < FULL_LINE * full:
                flush()
    flush()
    title = None if _JUNK_TITLE.search(meta_title) or not meta_title.strip() else meta_title
    return out.build(title=out.title or title)
