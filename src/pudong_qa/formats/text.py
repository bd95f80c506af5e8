"""Plain text in the encodings Chinese reports really come in: UTF-8 (with or without BOM), UTF-16 with a
BOM (Windows Notepad's "Unicode"), GB18030/GBK (mainland Windows' default) and Big5 (Taiwan, Hong Kong).

Strict UTF-8 is tried first: it is fast and, for real text, never wrong. Only bytes that are not UTF-8 go to
charset-normalizer, limited to the CJK legacy encodings so a short GBK file is not taken for Latin-1.
A file that still cannot be decoded, or looks binary, is refused with a message naming it,
rather than indexed as mojibake.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import charset_normalizer

from ..document import DEFAULT_MAX_FILE_BYTES, Document, parse_document
from ..errors import CorpusError, QuestionFileError
from ._common import read_bytes
from .registry import loader

# Checked in this order: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS = [
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
# Legacy encodings worth guessing for Chinese text. GB18030 is a superset of GBK and GB2312.
_CANDIDATES = ["gb18030", "big5", "cp950", "big5hkscs"]
_MAX_CONTROL_SHARE = 0.01  # more control characters than this and it is not text
# Unicode's control characters (category Cc: C0, DEL and C1) other than tab, newline, carriage
# return, form feed and vertical tab; one regular expression instead of a category lookup per character
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def decode(data: bytes, display: str) -> tuple[str, str]:
    """``(text, encoding)`` of a text file's bytes; CorpusError naming ``display`` if they are not text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _checked(data.decode(encoding).removeprefix("\ufeff"), display), encoding
            except UnicodeDecodeError as exc:
                raise CorpusError(code="bad_bom", subject=display, encoding=encoding, byte=exc.start) from None
    if b"\x00" in data:
        raise CorpusError(code="binary_nul", subject=display)
    try:
        return _checked(data.decode("utf-8"), display), "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data, cp_isolation=_CANDIDATES).best()
    if best is not None:
        encoding = codecs.lookup(best.encoding).name
        try:
            return _checked(data.decode(encoding), display), encoding
        except UnicodeDecodeError:
            pass
    raise CorpusError(code="unknown_encoding", subject=display)


def _checked(text: str, display: str) -> str:
    if "\x00" in text:
        raise CorpusError(code="binary_nul", subject=display)
    controls = len(_CONTROLS.findall(text))
    if controls > max(2, len(text) * _MAX_CONTROL_SHARE):
        raise CorpusError(code="binary_control", subject=display)
    return text


def read_question_text(path: Path) -> str:
    """A batch question file (.txt/.csv/.jsonl) as text, in any encoding ``decode`` knows.

    Raises QuestionFileError (naming the file) when it cannot be read or decoded; size limits are the caller's."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise QuestionFileError(f"{path}: cannot read ({exc.strerror})") from exc
    return decode_question_bytes(data, str(path))


def decode_question_bytes(data: bytes, display: str) -> str:
    """A question file's bytes as text (see ``read_question_text``); QuestionFileError names ``display``."""
    if not data:
        return ""
    if data.count(b"\x00") <= len(data) // 100:  # a stray NUL is one bad line (an error entry), not a bad file
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
    try:
        text, _ = decode(data, display)
    except CorpusError as exc:
        problem = exc.problem
        raise QuestionFileError(code=problem.code, subject=problem.subject, **problem.params) from None
    return text


@loader(".txt", ".md")
def load_text(path: Path, source: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Document:
    """A plain-text or Markdown report in any supported encoding, parsed by ``corpus.parse_document``;
    ``Document.encoding`` says how it was decoded."""
    text, encoding = decode(read_bytes(path, source, max_bytes), source)
    if not text.strip():
        raise CorpusError(code="empty_file", subject=source)
    doc = parse_document(source, text)
    doc.encoding = encoding
    return doc
