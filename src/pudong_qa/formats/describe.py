"""What a file that cannot be used looks like, and why a reader refused it, in Chinese words for the page.

The readers' messages (``CorpusError``) stay in English for the command line and the build log;
``reason_zh`` gives the same reason to a Chinese reader, and ``describe_file`` names what an
upload really is (a PDF renamed .txt, an Excel sheet renamed .csv) from its first bytes.
"""

from __future__ import annotations

import re

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


# A reader's English reason → the same reason for a Chinese reader; first match wins.
_REASONS = [
    (r"unsupported file type", "不支持这种文件类型;请用 .txt .md .docx .pdf .html,或扫描图片 .png .jpg .tif"),
    (r"([\d.]+) MiB is over the ([\d.]+) MiB limit", "文件有 {0} MB,超过了 {1} MB 的上限"),
    (r"the file is empty|(?:^|: )no text$", "文件是空的,没有文字"),
    (r"password-protected, or an old \.doc", "Word 文件有密码保护,或是改名为 .docx 的旧版 .doc;请另存为无密码的 .docx"),
    (r"not a readable Word file", "文件已损坏或不是 Word 文档 (.docx),无法读取"),
    (r"PDF is password-protected", "PDF 有密码保护;请保存一份无密码的副本"),
    (r"no text layer", "PDF 没有文字层 (可能是扫描件);请先做文字识别 (OCR)"),
    (r"not a readable PDF", "文件已损坏或不是 PDF,无法读取"),
    (r"page (\d+): almost no text was recognised", "第 {0} 页几乎没有识别出文字 (空白页,或扫描得太淡)"),
    (r"no text was recognised", "没有识别出文字 (扫描件是空白的,或太模糊)"),
    (r"not a readable image", "图片已损坏或不是图片,无法读取"),
    (r"(?:image|page) is too large", "图片或页面过大,无法识别;请以 300 dpi 以下重新扫描"),
    (r"unusable size", "图片的尺寸不像文档页面,无法识别"),
    (r"pages? is over the (\d+)-page limit", "页数超过 {0} 页的上限;请拆分后再添加"),
    (r"OCR is not installed", "文字识别 (OCR) 组件没有安装"),
    (r"OCR is turned off", "文字识别 (OCR) 已关闭,图片无法读取"),
    (r"no article found", "网页里没有找到正文"),
    (r"no body text", "只有标题,没有正文段落"),
    (r"cannot tell its text encoding|despite its byte-order mark",
     "无法识别文本编码 (不是 UTF-8、GBK 或 Big5);请另存为 UTF-8"),
    (r"NUL bytes|control characters", "看起来是二进制文件,不是文本"),
    (r"cannot read", "无法读取文件"),
]


def reason_zh(reason: str) -> str:
    """A reader's reason (with or without the leading ``source: ``) in Chinese."""
    for pattern, zh in _REASONS:
        m = re.search(pattern, reason)
        if m:
            return zh.format(*m.groups())
    return "无法读取此文件"
