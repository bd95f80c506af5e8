import csv
import io
import json
from pathlib import Path

import pytest

from pudong_qa.batch import QuestionFileError, parse_questions, read_question_file


def test_txt_lines_keep_order_and_flag_empty_lines():
    items = parse_questions("第一个问题\n\n  \n第二个问题\n", ".txt")
    assert [(i.line, i.question, i.error) for i in items] == [
        (1, "第一个问题", None), (2, "", "empty question"), (3, "  ", "empty question"), (4, "第二个问题", None)]


def test_csv_needs_question_column_and_keeps_rows():
    items = parse_questions("id,Question\n1,问题一\n2,\n", ".csv")
    assert [(i.line, i.question, i.error) for i in items] == [(2, "问题一", None), (3, "", "empty question")]
    with pytest.raises(QuestionFileError, match="'question' column"):
        parse_questions("id,text\n1,问题\n", ".csv")


def test_jsonl_broken_lines_get_errors():
    text = '{"question": "问题一"}\nnot json\n{"q": 1}\n{"question": "问题二", "id": "x"}\n'
    items = parse_questions(text, ".jsonl")
    assert [i.error for i in items] == [None, "not valid JSON", "no 'question' string field", None]
    assert items[3].question == "问题二"


def test_unusable_files(tmp_path: Path):
    with pytest.raises(QuestionFileError, match="no such file"):
        read_question_file(tmp_path / "missing.txt")
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(QuestionFileError, match="not a regular file"):
        read_question_file(tmp_path / "dir.txt")
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02binary\x00" * 50)
    with pytest.raises(QuestionFileError, match="bin.txt"):
        read_question_file(tmp_path / "bin.txt")
    (tmp_path / "q.pdf").write_bytes(b"%PDF")
    with pytest.raises(QuestionFileError, match=r"\.txt, \.csv or \.jsonl"):
        read_question_file(tmp_path / "q.pdf")
    (tmp_path / "big.txt").write_text("问题\n" * 100, encoding="utf-8")
    with pytest.raises(QuestionFileError, match="limit"):
        read_question_file(tmp_path / "big.txt", max_bytes=100)


def test_csv_output_has_one_row_per_result():
    from pudong_qa.batch import BatchItem, write_csv

    rec = {"question": "q", "answered": True, "results": [
        {"rank": 1, "score": 0.9, "text": "t", "answer": "t",
         "citation": {"source": "corpus/a.txt", "section": "s", "paragraph": 1, "start": 0, "end": 1}}]}
    out = io.StringIO()
    write_csv([BatchItem(1, "q"), BatchItem(2, "", "empty question")],
              [rec, {"question": "", "answered": False, "results": [], "error": "empty question"}], out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["line"], r["rank"], r["error"]) for r in rows] == [("1", "1", ""), ("2", "", "empty question")]
    assert json.loads(json.dumps(rows))  # plain strings only


def test_question_files_from_chinese_windows_are_decoded(tmp_path: Path):
    """GBK (Excel on Chinese Windows), Big5 and UTF-16 question files read like UTF-8 ones."""
    for name, encoding in (("gbk.csv", "gbk"), ("big5.txt", "big5"), ("utf16.txt", "utf-16"), ("bom.txt", "utf-8-sig")):
        text = "question\n浦东新区下辖多少个街道\n市民中心有什么作用\n" if name.endswith(".csv") else \
            "浦东新区下辖多少个街道\n市民中心有什么作用\n"
        if encoding == "big5":
            text = text.replace("浦东新区下辖多少个街道", "浦東新區下轄多少個街道")
        (tmp_path / name).write_bytes(text.encode(encoding))
        items = read_question_file(tmp_path / name)
        assert [it.question for it in items][-1] == "市民中心有什么作用", name
