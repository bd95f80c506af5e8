"""What a file that cannot be used really is, from its first bytes, in Chinese words for the page
(a PDF renamed .txt, an Excel sheet renamed .csv); why a reader refused a file is its error's code
(``messages.py``)."""

from __future__ import annotations

_MAGIC = [(b"PK\x03\x04", "ZIP 压缩包或 Office 文件 (.xlsx/.docx)"), (b"%PDF", "PDF 文件"),
          (b"\x89PNG", "PNG 图片"), (b"\xff\xd8\xff", "JPEG 图片"),
          (b"\xd0\xcf\x11\xe0", "旧版 Office 文件 (.xls/.doc)"), (b"\x1f\x8b", "gzip 压缩文件")]


def describe_file(data: bytes) -> str:
    """What a file's first bytes look like, in a few words (for an error message)."""
    for sig, what in _MAGIC:
        if data.startswith(sig):
            return what
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 编码的文本"
    if b"\x00" in data[:4096]:
        return "二进制文件"
    return _text_kind(data)


def binary_kind(data: bytes) -> str | None:
    """What a binary file is (PDF, Office, image …), or None if it may be text."""
    what = describe_file(data)
    return None if what == _text_kind(data) or what.endswith("文本") else what


def _text_kind(data: bytes) -> str:
    for enc, what in (("utf-8", "UTF-8 文本"), ("gb18030", "GBK/GB18030 编码的中文文本"),
                      ("big5", "Big5 编码的繁体中文文本")):
        try:
            data.decode(enc)
            return what
        except UnicodeDecodeError:
            continue
    return "无法识别编码的文本"
