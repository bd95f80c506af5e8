"""The text of printed pages, shared by the PDF reader and OCR (``pdf.py``, ``scanned.py``,
``ocr_layout.py``): running headers, footers and page numbers; radicals a CJK font's map names
instead of the ideographs; letter-spaced lines closed up; a line's width and whether it ends a sentence."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter

from ._common import CLOSERS, SENTENCE_END, is_cjk

EDGE_LINES = 3  # lines at each end of a page's text that may be a running header or footer
RUNNING_SHARE = 0.6  # a line repeated on at least this share of pages (and at least 2) is running
FULL_LINE = 0.75  # a line this close to the page's usual full width is wrapped, not ended
PAGE_NUMBER = re.compile(
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
RADICALS = str.maketrans(
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
JUNK_TITLE = re.compile(r"^(?:microsoft word\s*-|untitled)|\.(?:docx?|html?|pdf|txt)$", re.IGNORECASE)


def close_up(line: str) -> str:
    """Close up a line whose characters are spaced out one by one (letter-spaced or justified CJK)."""
    cjk = sum(1 for ch in line if is_cjk(ch))
    if cjk and _ALL_SPACED.fullmatch(line):
        return line.replace(" ", "")
    if cjk >= 4 and 2 * len(_SPACED_CJK.findall(line)) >= cjk:
        return _SPACED_DIGITS.sub("", _SPACED_CJK.sub("", line))
    return line


def line_width(line: str) -> float:
    return sum(1.0 if is_cjk(ch) else 0.5 for ch in line)


def running_key(line: str) -> str:
    return re.sub(r"[\d\s]+", "", line)


def drop_running(pages: list[list[str]]) -> list[list[str]]:
    """Leave out page numbers and the header/footer lines repeated on most pages."""
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({running_key(line) for line in lines[:EDGE_LINES] + lines[-EDGE_LINES:]})
    need = max(2, math.ceil(len(pages) * RUNNING_SHARE))
    running = {key for key, n in counts.items() if key and n >= need}
    kept = []
    for lines in pages:
        edge = set(range(min(EDGE_LINES, len(lines)))) | set(range(max(0, len(lines) - EDGE_LINES), len(lines)))
        kept.append([line for i, line in enumerate(lines)
                     if i not in edge or not (PAGE_NUMBER.match(line) or running_key(line) in running)])
    return kept


def ends_sentence(line: str) -> bool:
    return line.rstrip(CLOSERS)[-1:] in SENTENCE_END
