from pathlib import Path

import pytest

from pudong_qa.corpus import CorpusError, heading_rank, load_corpus, parse_document, parse_heading, read_corpus

REPORT = """示例报告标题

前言段落，没有标题。
一、总体情况
总体情况的第一段。
（一）第一小节
小节正文。
(二)第二小节
1、要做好第一件事。这一段的其余内容在这里。
2.第二件事
第二件事的正文。
二、第二部分
第二部分正文。
"""


def test_heading_levels_and_paths():
    doc = parse_document("corpus/a.txt", REPORT)
    assert doc.title == "示例报告标题"
    paths = [(p.number, p.section) for p in doc.paragraphs]
    assert paths == [
        (1, ()),
        (2, ("一、总体情况",)),
        (3, ("一、总体情况", "（一）第一小节")),
        (4, ("一、总体情况", "(二)第二小节", "1、要做好第一件事")),
        (5, ("一、总体情况", "(二)第二小节", "2.第二件事")),
        (6, ("二、第二部分",)),
    ]


@pytest.mark.parametrize("line,rank", [
    ("第一章 总则", 10), ("第3节 方法", 11), ("三、启示", 12), ("（二）拓展职能", 13), ("(二)拓展职能", 13),
    ("1、要从重行政效率", 14), ("2.标题", 14), ("（3）细目", 15), ("## 概述", 2),
    ("1990年4月18日,党中央宣布", None), ("1.5亿元的投资", None), ("十几年来,上海", None), ("一是围绕", None),
])
def test_heading_rank(line, rank):
    assert heading_rank(line) == rank


def test_long_numbered_paragraph_is_body_with_lead_heading():
    line = "3、要用精细化管理推动社会和谐进步。社会管理中的很多问题,不是出在投入的不足上。"
    assert parse_heading(line) == (14, "3、要用精细化管理推动社会和谐进步", False)


def test_paragraph_offsets_are_exact():
    doc = parse_document("corpus/a.txt", REPORT)
    for p in doc.paragraphs:
        text = doc.text[p.start:p.end]
        assert text == text.strip() and "\n" not in text


def test_markdown_title_and_headings():
    doc = parse_document("corpus/b.md", "# 报告\n\n## 背景\n背景正文。\n")
    assert doc.title == "报告"
    assert doc.paragraphs[0].section == ("背景",)


def test_title_falls_back_to_file_name():
    doc = parse_document("corpus/notes.txt", "这是一段很长的正文,它以句号结束。\n")
    assert doc.title == "notes"
    assert doc.paragraphs[0].number == 1


def test_loads_recursively_and_skips_what_it_cannot_read(tmp_path: Path):
    (tmp_path / "corpus" / "sub").mkdir(parents=True)
    (tmp_path / "corpus" / "a.txt").write_text("标题A\n正文。\n", encoding="utf-8")
    (tmp_path / "corpus" / "sub" / "b.md").write_text("# 标题B\n正文。\n", encoding="utf-8")
    (tmp_path / "corpus" / "broken.pdf").write_bytes(b"%PDF")
    (tmp_path / "corpus" / "data.bin").write_bytes(b"\x00")
    reading = read_corpus(tmp_path / "corpus", tmp_path)
    assert [d.source for d in reading.documents] == ["corpus/a.txt", "corpus/sub/b.md"]
    assert [(k.source, k.reason.split(" (")[0]) for k in reading.skipped] == [
        ("corpus/broken.pdf", "not a readable PDF"), ("corpus/data.bin", "unsupported file type")]
    with pytest.raises(CorpusError, match="broken.pdf"):
        load_corpus(tmp_path / "corpus", tmp_path)  # the strict reader stops at the first problem


def test_gbk_file_is_decoded_and_a_binary_file_is_named_in_error(tmp_path: Path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "gbk.txt").write_bytes("浦东新区概况\n浦东新区位于上海东部。".encode("gbk"))
    (doc,) = load_corpus(tmp_path / "corpus", tmp_path)
    assert doc.encoding == "gb18030" and doc.text.endswith("浦东新区位于上海东部。")
    (tmp_path / "corpus" / "bin.txt").write_bytes(b"\x00\x01\x02binary\x00" * 50)
    with pytest.raises(CorpusError, match=r"corpus/bin\.txt: "):
        load_corpus(tmp_path / "corpus", tmp_path)


def test_empty_file_and_empty_folder(tmp_path: Path):
    (tmp_path / "corpus").mkdir()
    with pytest.raises(CorpusError, match=r"no \.bmp/\.docx/.*\.txt/\.webp files to index"):
        load_corpus(tmp_path / "corpus", tmp_path)
    (tmp_path / "corpus" / "empty.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"empty\.txt: the file is empty"):
        load_corpus(tmp_path / "corpus", tmp_path)


def test_project_corpus_has_no_web_chrome():
    root = Path(__file__).resolve().parents[1]
    docs = load_corpus(root / "corpus", root)
    text = docs[0].text
    assert docs[0].title == "镇政府干部到上海浦东挂职的学习报告"
    for chrome in ("现在位置", "我要投稿", "相关推荐", "相关文章"):
        assert chrome not in text
    assert docs[0].paragraphs[-1].section[0] == "三、浦东新区政府管理创新的启示"
