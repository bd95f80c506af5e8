"""Every sentence a person reads about a problem, by code, in English and Chinese.

Errors and refusals travel as a code and its parameters (``errors.Problem``); the sentence is
made only where it is shown: the command line and logs in English, the page in Chinese, the API
in the language the client asks for (``Accept-Language``). A code missing here fails loudly in
the tests (``tests/test_messages.py``), never silently at run time.
"""

from __future__ import annotations

LANGUAGES = ("zh", "en")

# code: (English, Chinese); ``{name}`` fields are the problem's parameters.
MESSAGES: dict[str, tuple[str, str]] = {
    # a file that cannot be read (corpus files and uploads)
    "unsupported_type": ("unsupported file type; use one of {suffixes}",
                         "不支持这种文件类型;请用 {suffixes}"),
    "too_big": ("{size_mb:.1f} MiB is over the {limit_mb:g} MiB limit; split it, or raise PUDONG_QA_MAX_FILE_MB",
                "文件有 {size_mb:.1f} MB,超过了 {limit_mb:g} MB 的上限"),
    "unreadable": ("cannot read ({reason})", "无法读取文件 ({reason})"),
    "empty_file": ("the file is empty", "文件是空的,没有文字"),
    "no_text": ("no text", "文件里没有文字"),
    "no_article": ("no text (no article found in the page)", "网页里没有找到正文"),
    "no_body": ("no body text (only a title or headings)", "只有标题,没有正文段落"),
    "docx_protected": ("not a readable Word file (password-protected, or an old .doc saved under a .docx name); "
                       "save it again as an unprotected .docx",
                       "Word 文件有密码保护,或是改名为 .docx 的旧版 .doc;请另存为无密码的 .docx"),
    "docx_not_zip": ("not a readable Word file (not a zip archive: cut short, or not a .docx)",
                     "文件已损坏或不是 Word 文档 (.docx),无法读取"),
    "docx_broken": ("not a readable Word file ({reason})", "文件已损坏或不是 Word 文档 (.docx),无法读取"),
    "pdf_protected": ("the PDF is password-protected; save an unprotected copy",
                      "PDF 有密码保护;请保存一份无密码的副本"),
    "pdf_broken": ("not a readable PDF ({reason})", "文件已损坏或不是 PDF,无法读取"),
    "pdf_no_text_layer": ("no text layer (scanned?); run OCR on it first",
                          "PDF 没有文字层 (可能是扫描件);请先做文字识别 (OCR)"),
    "bad_bom": ("not valid {encoding} despite its byte-order mark (byte {byte})",
                "无法识别文本编码 (不是 UTF-8、GBK 或 Big5);请另存为 UTF-8"),
    "unknown_encoding": ("cannot tell its text encoding (not UTF-8, UTF-16, GBK/GB18030 or Big5); "
                         "convert it to UTF-8, e.g. iconv -f GBK -t UTF-8",
                         "无法识别文本编码 (不是 UTF-8、GBK 或 Big5);请另存为 UTF-8"),
    "binary_nul": ("contains NUL bytes; is it a binary file?", "看起来是二进制文件,不是文本"),
    "binary_control": ("mostly control characters; is it a binary file?", "看起来是二进制文件,不是文本"),
    "corpus_missing": ("corpus folder not found", "找不到语料文件夹"),
    "corpus_empty": ("no {suffixes} files to index", "语料文件夹里没有可索引的 {suffixes} 文件"),
    "symlink_in_corpus": ("a link of that name is in the corpus folder; not overwritten",
                          "语料文件夹里已有同名的链接,未覆盖"),
    "not_a_document": ("not a document in {corpus}", "不是语料文件夹中的文档"),
    "document_exists": ("a different document of that name is already indexed as {sources} (replace it explicitly)",
                        "已有同名文档 ({sources}),内容不同;如要替换,请确认替换"),
    "not_recycled": ("nothing of that name in the recycle folder {folder}", "回收站里没有这个文档"),
    "recycle_empty": ("nothing of that name in the recycle folder {folder} (it is empty)", "回收站是空的"),
    "restore_blocked": ("something other than a document is at that place in the corpus folder",
                        "语料文件夹中原位置上有别的东西 (不是文档),无法恢复"),
    # why an index is out of date
    "no_index": ("no index at {path}", "还没有索引"),
    "setting_changed": ("{key} changed", "设置 {key} 有变化"),
    "store_changed": ("store changed (now {uri})", "存储位置有变化"),
    "new_document": ("new document {source}", "新文档 {source}"),
    "removed_document": ("removed document {source}", "已删除的文档 {source}"),
    "changed_document": ("changed document {source}", "有改动的文档 {source}"),
    "damaged_file": ("damaged file {file}", "索引文件损坏"),
    # a question that cannot be asked
    "empty_question": ("empty question", "空问题"),
    "no_words": ("no words in the question (only punctuation, symbols or control characters)",
                 "问题里没有文字 (只有标点或符号)"),
    "empty_line": ("empty line", "空行"),
    "not_json": ("not valid JSON", "不是有效的 JSON"),
    "no_question_field": ("no 'question' string field", "没有“问题”字段"),
    "missing_question_cell": ("missing question cell", "缺少问题这一格"),
    "broken_csv": ("broken CSV ({reason})", "CSV 格式有误"),
    # a whole question file that cannot be used
    "question_file_type": ("use a .txt, .csv or .jsonl file (got {suffix})",
                           "请上传 .txt、.csv 或 .jsonl 文件 (收到 {suffix})"),
    "no_such_file": ("no such file", "文件不存在"),
    "not_a_file": ("not a regular file", "不是普通文件"),
    "question_file_too_big": ("{size_mb:.1f} MiB is over the {limit_mb:.0f} MiB limit",
                              "文件有 {size_mb:.1f} MB,超过了 {limit_mb:.0f} MB 的上限"),
    "no_question_column": ("the CSV needs a 'question' column (found: {found})", "CSV 里没有“问题”列"),
    "not_question_text": ("it looks like {kind}, not question text", "它看起来是{kind},不是问题文本"),
}


def say(code: str, params: dict | None = None, lang: str = "en") -> str:
    """The sentence for ``code`` in ``lang`` (``zh`` or ``en``), its fields filled from ``params``."""
    en, zh = MESSAGES[code]
    template = zh if lang == "zh" else en
    return template.format(**(params or {}))


def language(accept: str | None) -> str:
    """``zh`` or ``en`` from an ``Accept-Language`` header: Chinese unless English comes first."""
    for part in (accept or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "zh"
