"""The format readers (pudong_qa.formats) on small files made by real producers (python-docx, Chromium's
print-to-PDF, GBK/Big5/UTF-16 encoders); see scripts/make_format_fixtures.py. No model is loaded."""

from __future__ import annotations

import re
from pathlib import Path

import docx
import pytest

from pudong_qa import corpus, formats
from pudong_qa.corpus import Document, load_document
from pudong_qa.errors import CorpusError, QuestionFileError

decode, decode_html, read_question_text = formats.decode, formats.decode_html, formats.read_question_text



FIXTURES = Path(__file__).parent / "fixtures" / "formats"
READABLE = ["report.docx", "report_cn_styles.docx", "report_numbered.docx", "report.pdf", "news_gbk.html",
            "report_gbk.txt", "report_big5.txt", "report_utf16.txt"]
CJK_SPACE = re.compile(r"[\u4e00-\u9fff，。、；：（）] +[\u4e00-\u9fff，。、；：（）]")


def load(name: str, folder: Path = FIXTURES) -> Document:
    return load_document(folder / name, name)


def paragraphs(doc: Document) -> list[str]:
    return [doc.text[p.start:p.end] for p in doc.paragraphs]


# ------------------------------------------------------------------ every readable fixture


@pytest.mark.parametrize("name", READABLE)
def test_offsets_are_exact_and_loading_is_deterministic(name):
    doc = load(name)
    assert doc.paragraphs, name
    for number, p in enumerate(doc.paragraphs, 1):
        text = doc.text[p.start:p.end]
        assert p.number == number
        assert text and text == text.strip() and "\n" not in text
    again = load(name)
    assert (again.text, again.title, again.paragraphs) == (doc.text, doc.title, doc.paragraphs)
    assert again.sha256 == doc.sha256


def test_the_readers_are_registered_by_suffix():
    assert {".txt", ".md", ".docx", ".pdf", ".html", ".htm"} <= set(corpus.LOADERS)
    assert ".csv" not in corpus.LOADERS
    assert corpus.LOADERS[".txt"] is formats.load_text


# ------------------------------------------------------------------ Word


def test_docx_with_heading_styles_and_a_table():
    doc = load("report.docx")
    assert doc.title == "临江区2023年公共服务工作报告"
    assert doc.headings[:2] == [("一、基本情况", "（一）服务网络"), ("一、基本情况", "（二）数字服务")]
    assert ("二、存在问题", "（二）队伍能力有待提高") in doc.headings
    assert ("三、下一步工作",) in doc.headings
    paras = paragraphs(doc)
    assert paras[0].startswith("全区建成街道便民服务中心9个")
    rows = [(p.section, doc.text[p.start:p.end]) for p in doc.paragraphs if " | " in doc.text[p.start:p.end]]
    assert rows == [(("一、基本情况", "（二）数字服务"), "指标 | 2022年 | 2023年"),
                    (("一、基本情况", "（二）数字服务"), "便民服务中心（个） | 7 | 9"),
                    (("一、基本情况", "（二）数字服务"), "网办事项占比 | 76% | 83%")]
    assert "内部资料" not in doc.text and "请勿外传" not in doc.text  # header and footer left out
    assert all(p.page is None for p in doc.paragraphs)


def test_docx_with_chinese_heading_style_names():
    doc = load("report_cn_styles.docx")
    assert doc.title == "临江区社区服务站建设情况说明"  # no core title: the first short paragraph
    assert doc.headings == [("一、建设进展",), ("二、运行管理", "（一）人员配备")]
    assert paragraphs(doc)[1] == "每个服务站配备专职工作人员不少于三名，实行错时延时服务。"


def test_docx_without_heading_styles_falls_back_to_numbering():
    doc = load("report_numbered.docx")
    assert doc.title == "关于优化政务服务窗口的实施意见"
    assert doc.headings == [("一、总体要求",), ("一、总体要求", "（一）工作目标", "1、压缩办理时限"), ("二、保障措施",)]
    # a numbered lead sentence heads its paragraph and stays in its text
    assert paragraphs(doc)[1] == "1、压缩办理时限。一般事项办理时限压缩到法定时限的一半以内。"


def test_docx_title_falls_back_to_the_file_stem(tmp_path):
    document = docx.Document()
    document.add_paragraph("各街道要按照要求，于本月底前报送年度工作总结。")
    document.save(tmp_path / "通知.docx")
    doc = load("通知.docx", tmp_path)
    assert doc.title == "通知"
    assert paragraphs(doc) == ["各街道要按照要求，于本月底前报送年度工作总结。"]


def test_corrupt_docx_is_refused_naming_the_file():
    with pytest.raises(CorpusError, match=r"^corrupt\.docx: not a readable Word file \("):
        load("corrupt.docx")


def test_password_protected_docx_is_refused(tmp_path):
    (tmp_path / "locked.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024))
    with pytest.raises(CorpusError, match=r"^locked\.docx: not a readable Word file \(password-protected"):
        load("locked.docx", tmp_path)


def test_docx_table_of_contents_is_left_out(tmp_path):
    document = docx.Document()
    document.styles.add_style("toc 1", 1)
    document.add_paragraph("窗口改革实施意见", style="Title")
    document.add_paragraph("一、总体要求\t1", style="toc 1")
    document.add_heading("一、总体要求", level=1)
    document.add_paragraph("全面推行综合窗口改革。")
    document.save(tmp_path / "toc.docx")
    doc = load("toc.docx", tmp_path)
    assert doc.text == "窗口改革实施意见\n一、总体要求\n全面推行综合窗口改革。"
    assert doc.headings == [("一、总体要求",)]


def test_docx_without_text_is_refused(tmp_path):
    docx.Document().save(tmp_path / "blank.docx")
    with pytest.raises(CorpusError, match=r"^blank\.docx: no text"):
        load("blank.docx", tmp_path)


# ------------------------------------------------------------------ PDF


def test_pdf_text_headings_and_pages():
    doc = load("report.pdf")
    assert doc.title == "临江区2023年公共服务工作报告"
    assert doc.headings[0] == ("一、基本情况", "（一）服务网络")
    assert ("二、存在问题", "（二）队伍能力有待提高") in doc.headings
    assert ("三、下一步工作",) in doc.headings
    paras = paragraphs(doc)
    # wrapped lines are joined back without spaces: the first paragraph is whole
    assert paras[0] == "全区建成街道便民服务中心9个、社区服务站86个，群众办理高频事项步行距离平均缩短到十五分钟以内。"
    assert not CJK_SPACE.search(doc.text)
    # the paragraph that runs over the page break is one paragraph, on the page where it starts
    straddling = next(p for p in doc.paragraphs if "老旧小区改造同步推进" in doc.text[p.start:p.end])
    assert straddling.page == 1
    assert doc.text[straddling.start:straddling.end].endswith("力争三年内完成全部站点的提升改造。")
    assert {p.page for p in doc.paragraphs} == {1, 2}
    assert doc.paragraphs[-1].page == 2
    assert paras[-1] == "力争到2025年底实现社区养老服务站全覆盖，新增普惠托育托位600个。"
    # the running header and the folios are gone
    assert "内部资料" not in doc.text and "页" not in doc.text.replace("页面", "")


def test_pdf_without_text_layer_is_refused():
    from pudong_qa.formats.ocr import OcrOptions, ocr_context

    with ocr_context(OcrOptions(enabled=False)), \
            pytest.raises(CorpusError, match=r"^scanned\.pdf: no text layer \(scanned\?\)"):
        load("scanned.pdf")  # with OCR off (PUDONG_QA_OCR=0); tests/test_ocr.py reads scans with it on


def test_password_protected_pdf_is_refused():
    with pytest.raises(CorpusError, match=r"^encrypted\.pdf: the PDF is password-protected"):
        load("encrypted.pdf")


def test_pdf_restricted_without_a_password_opens(tmp_path):
    """Many official PDFs are AES-encrypted with an owner password only: no password is needed to read them."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(FIXTURES / "report.pdf"))
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    with (tmp_path / "restricted.pdf").open("wb") as f:
        writer.write(f)
    assert paragraphs(load("restricted.pdf", tmp_path)) == paragraphs(load("report.pdf"))


def test_corrupt_pdf_is_refused(tmp_path):
    data = (FIXTURES / "report.pdf").read_bytes()
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusError, match=r"^cut\.pdf: not a readable PDF"):
        load("cut.pdf", tmp_path)


def test_pdf_radicals_and_spaced_out_lines_are_repaired():
    from pudong_qa.formats.page_text import RADICALS, close_up

    assert "⼀、基本情况，⼯作⻔户".translate(RADICALS) == "一、基本情况，工作门户"
    assert close_up("建 成 便 民 服 务 中 心 8 6 个 ，") == "建成便民服务中心86个，"
    assert close_up("临江区人民政府办公室 内部资料") == "临江区人民政府办公室 内部资料"


# ------------------------------------------------------------------ web pages


def test_html_keeps_the_article_only():
    doc = load("news_gbk.html")
    assert doc.encoding == "gb18030"  # from <meta http-equiv="Content-Type" content="…charset=gb2312">
    assert doc.title == "临江区新增十二处社区养老服务站"
    assert doc.headings == [("助餐服务走进家门口",), ("专业护理延伸到社区",)]
    paras = paragraphs(doc)
    assert paras[0].startswith("记者从区民政局获悉") and doc.paragraphs[0].section == ()
    assert paras[-1] == "下一步，临江区将继续推进养老服务设施建设，力争年底前实现社区养老服务全覆盖。"
    for furniture in ["首页", "政务公开", "当前位置", "我要投稿", "打印本页", "分享到", "相关文章",
                      "养老服务工作推进会", "主办单位", "备案号", "网站地图", "浏览次数"]:
        assert furniture not in doc.text, furniture


def test_html_in_utf8_reads_the_same(tmp_path):
    page = (FIXTURES / "news_gbk.html").read_bytes().decode("gbk").replace("charset=gb2312", "charset=utf-8")
    (tmp_path / "news.htm").write_text(page, encoding="utf-8")
    utf8, gbk = load("news.htm", tmp_path), load("news_gbk.html")
    assert (utf8.text, utf8.title, utf8.paragraphs) == (gbk.text, gbk.title, gbk.paragraphs)
    assert utf8.encoding == "utf-8"


def test_html_charset_label_is_honoured_and_a_wrong_one_is_survived():
    page = "<html><head><meta charset=\"big5\"><title>公告</title></head><body><p>服務時間調整。</p></body></html>"
    assert decode_html(page.encode("big5"), "x.html") == (page, "cp950")
    assert decode_html(page.replace("big5", "utf-16").encode(), "x.html")[1] == "utf-8"
    wrong = page.replace("big5", "utf-8").encode("gb18030")  # says UTF-8, is GB18030
    assert decode_html(wrong, "x.html")[0] == page.replace("big5", "utf-8")


def test_html_without_an_article_is_refused(tmp_path):
    (tmp_path / "blank.html").write_text("<html><head><title>空</title></head><body><nav>首页</nav></body></html>",
                                         encoding="utf-8")
    with pytest.raises(CorpusError, match=r"^blank\.html: no text"):
        load("blank.html", tmp_path)


# ------------------------------------------------------------------ text encodings


@pytest.mark.parametrize(("name", "encoding"), [("report_gbk.txt", "gb18030"), ("report_utf16.txt", "utf-16")])
def test_legacy_and_utf16_text(name, encoding):
    doc = load(name)
    assert doc.encoding == encoding
    assert doc.title == "临江区2023年公共服务工作报告"
    assert doc.headings == [("一、基本情况",), ("二、存在问题",), ("三、下一步工作",)]
    assert paragraphs(doc)[0].startswith("全区建成街道便民服务中心9个")


def test_big5_text():
    doc = load("report_big5.txt")
    assert doc.encoding == "big5"
    assert doc.title == "臨江區社區服務報告"
    assert doc.headings == [("一、服務網絡",), ("二、下一步工作",)]


@pytest.mark.parametrize(("data", "encoding"), [
    ("一、总体要求\n".encode(), "utf-8"),
    (b"\xef\xbb\xbf" + "一、总体要求\n".encode(), "utf-8-sig"),
    ("一、总体要求\n".encode("utf-16-le").join([b"\xff\xfe", b""]), "utf-16"),
    ("一、总体要求\n".encode("utf-16"), "utf-16"),
])
def test_decode_utf_forms(data, encoding):
    assert decode(data, "f.txt") == ("一、总体要求\n", encoding)


@pytest.mark.parametrize("data", [b"abc\x00def", bytes(range(1, 256)) * 4])
def test_binary_is_refused(data):
    with pytest.raises(CorpusError, match=r"^f\.bin: "):
        decode(data, "f.bin")


def test_control_characters_are_counted_as_unicode_defines_them():
    text = "报告正文，第一段。\t制表\f换页\v\r\n" * 40  # whitespace controls are text
    assert decode(text.encode(), "f.txt") == (text, "utf-8")
    for control in ("\x01", "\x1b", "\x7f", "\x85", "\x9f"):  # C0, DEL, C1 (UTF-8 encodes C1 as two bytes)
        noisy = (control * 3 + "正文") * 10
        with pytest.raises(CorpusError, match="mostly control characters"):
            decode(noisy.encode(), "f.txt")
    assert decode(("\x01" + "正文" * 200).encode(), "f.txt")[1] == "utf-8"  # a stray one is not binary


def test_empty_and_oversized_text_files(tmp_path):
    with pytest.raises(CorpusError, match=r"^empty\.txt: the file is empty$"):
        load("empty.txt")
    with pytest.raises(CorpusError, match=r"^report_gbk\.txt: 0\.0 MiB is over the .* MiB limit; split it, or raise"):
        load_document(FIXTURES / "report_gbk.txt", "report_gbk.txt", max_bytes=100)


def test_question_files_in_any_encoding(tmp_path):
    text = "question\n南部老城区服务站有哪些问题？\n"
    for encoding in ["utf-8", "utf-8-sig", "utf-16", "gbk"]:
        path = tmp_path / f"q-{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        assert read_question_text(path) == text
    (tmp_path / "q.jsonl").write_bytes('{"question": "服務時間是什麼？"}\n'.encode("big5"))
    assert read_question_text(tmp_path / "q.jsonl") == '{"question": "服務時間是什麼？"}\n'
    (tmp_path / "q.txt").write_bytes(b"\x00\x01binary")
    with pytest.raises(QuestionFileError, match="q.txt: contains NUL bytes"):
        read_question_text(tmp_path / "q.txt")
