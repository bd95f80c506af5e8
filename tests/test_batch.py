import csv
import io
import json
from pathlib import Path

import pytest

from pudong_qa.batch import QuestionFileError, parse_questions, read_question_file


def test_txt_lines_keep_order_and_flag_empty_lines():
    items = parse_questions("第一个问题\n\n  \n第二个问题\n", ".txt")
    assert [(i.line, i.question, i.error and i.error.code) for i in items] == [
        (1, "第一个问题", None), (2, "", "empty_question"), (3, "  ", "empty_question"), (4, "第二个问题", None)]


def test_csv_needs_question_column_and_keeps_rows():
    items = parse_questions("id,Question\n1,问题一\n2,\n", ".csv")
    assert [(i.line, i.question, i.error and i.error.code) for i in items] == [
        (2, "问题一", None), (3, "", "empty_question")]
    with pytest.raises(QuestionFileError, match="'question' column"):
        parse_questions("id,text\n1,问题\n", ".csv")


def test_the_pages_own_answer_table_can_be_asked_again():
    from pudong_qa.batch import TABLE_COLUMNS, extra_columns

    text = ",".join(TABLE_COLUMNS + ["编号"]) + "\n一个问题,是,旧答案,负责人,旧段落,《报告》 › 第1段,2,A1\n"
    items = parse_questions(text, ".csv")
    assert [(i.question, i.extra) for i in items] == [("一个问题", (("编号", "A1"),))]
    assert extra_columns(items) == ["编号"]  # the old answers are answered afresh, not kept as columns
    jsonl = parse_questions('{"问题": "问题一"}\n', ".jsonl")
    assert [(i.question, i.error) for i in jsonl] == [("问题一", None)]


def test_jsonl_broken_lines_get_errors():
    text = '{"question": "问题一"}\nnot json\n{"q": 1}\n{"question": "问题二", "id": "x"}\n'
    items = parse_questions(text, ".jsonl")
    assert [i.error and str(i.error) for i in items] == [None, "not valid JSON", "no 'question' string field", None]
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


# ---------------------------------------------------------------- files for people (the page's downloads)


def _resp(question, verdict, confidence=0.9, source="/srv/qa/corpus/report.txt"):
    from pudong_qa.results import ANSWERED, Citation, Result, SearchResponse

    cite = Citation(source, "报告", "一、概况 > (一)区域", 3, 100, 110)
    # the answer is the whole passage (two sentences); the answer's own sentence (core) is the second
    results = [Result(r, 1.0 / r, f"第{r}段原文。答句{r}。", f"第{r}段原文。答句{r}。", 100, 110, cite, r, (106, 110),
                      ("负责人",) if r == 1 else ()) for r in (1, 2)]
    return SearchResponse(question, question, verdict == ANSWERED, results, confidence, verdict=verdict)


def _items():
    return parse_questions("id,question,note\nA1,有答案,甲\n,,\nA2,可能相关,乙\nA3,找不到,丙\nA4,???,丁\n"
                           "A5,低置信度,戊\n", ".csv")


def test_csv_rows_keep_their_own_columns_and_blank_rows_are_marked():
    items = _items()
    assert [(i.line, i.blank) for i in items][:2] == [(2, False), (3, True)]
    assert items[0].extra == (("id", "A1"), ("note", "甲"))


def test_table_is_one_row_per_question_in_three_words():
    from pudong_qa.batch import table
    from pudong_qa.results import ANSWERED, NOT_FOUND, UNSURE

    items = _items()
    responses = [_resp("有答案", ANSWERED), None, _resp("可能相关", UNSURE, 0.45), _resp("找不到", NOT_FOUND, 0.2),
                 None, _resp("未确认的答案", UNSURE, 0.45)]
    headers, rows = table(items, responses)
    assert headers == ["问题", "是否回答", "答案", "未包含", "段落", "出处", "行", "id", "note"]
    assert [r[1] for r in rows] == ["是", "未确认", "否", "无法提问: 问题里没有文字 (只有标点或符号)", "未确认"]
    # the answer sentence alone (as the chat marks it), what its passage lacks, the passage, where (no server path)
    assert rows[0][2:7] == ["答句1。", "负责人", "第1段原文。答句1。", "《报告》 › 一、概况 › (一)区域 › 第3段", 2]
    assert rows[2][2:6] == ["", "", "", ""] and [r[7] for r in rows] == ["A1", "A2", "A3", "A4", "A5"]


def test_people_files_are_the_table_the_ranked_results_and_the_contract(tmp_path):
    from pudong_qa.batch import write_people_files
    from pudong_qa.results import ANSWERED, NOT_FOUND

    items = parse_questions("question\n有答案\n\n找不到\n", ".csv")
    table, ranked, jsonl = write_people_files(tmp_path, "qs", items, [_resp("有答案", ANSWERED), None,
                                                                      _resp("找不到", NOT_FOUND, 0.2)])
    assert table.name.startswith("qs-答案-") and ranked.name.startswith("qs-全部结果-")
    assert jsonl.name.startswith("qs-结果数据-") and jsonl.suffix == ".jsonl"
    assert table.read_bytes().startswith(b"\xef\xbb\xbf") and ranked.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(table.read_text(encoding="utf-8-sig").splitlines()))
    assert rows == [["问题", "是否回答", "答案", "未包含", "段落", "出处", "行"],
                    ["有答案", "是", "答句1。", "负责人", "第1段原文。答句1。",
                     "《报告》 › 一、概况 › (一)区域 › 第3段", "2"],
                    ["找不到", "否", "", "", "", "", "4"]]
    ranks = list(csv.DictReader(ranked.read_text(encoding="utf-8-sig").splitlines()))
    assert [(r["问题"], r["名次"], r["文件"], r["起"]) for r in ranks] == [
        ("有答案", "1", "report.txt", "100"), ("有答案", "2", "report.txt", "100"),
        ("找不到", "1", "report.txt", "100"), ("找不到", "2", "report.txt", "100")]
    assert [r["答案句"] for r in ranks] == ["答句1。", "答句2。", "", ""]  # not answered: no answer sentence
    assert [r["未包含"] for r in ranks] == ["负责人", "", "负责人", ""]
    entries = [json.loads(x) for x in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [e["answered"] for e in entries] == [True, False, False] and entries[1]["error"] == "missing question cell"
    assert [e["verdict"] for e in entries] == [ANSWERED, NOT_FOUND, NOT_FOUND]  # an unusable line too
    assert entries[0]["results"][0]["citation"]["source"] == "/srv/qa/corpus/report.txt"  # the contract, unchanged
    first = entries[0]["results"][0]
    assert entries[0]["verdict"] == ANSWERED and first["sentence"] == "答句1。" and first["missing"] == ["负责人"]
    assert first["answer"] == "第1段原文。答句1。"  # the contract's answer (sentence@1) stays whole


def test_the_table_carries_verdict_codes_and_words_are_made_when_shown():
    """Rows keep their words (是 / 未确认 / 否, as the CSV has them); the verdict code beside them
    decides the cell's look, never the word."""
    from pudong_qa.batch import BatchItem, table, verdict_code
    from pudong_qa.errors import Problem
    from pudong_qa.rendering import batch_table_html
    from pudong_qa.results import Citation, Result, SearchResponse

    c = Citation("corpus/a.txt", "报告", "一、总则", 1, 0, 4)
    hit = Result(1, 0.9, "浦东新区", "浦东新区", 0, 4, c, 0)
    items = [BatchItem(1, "问一"), BatchItem(2, "问二"), BatchItem(3, "问三"),
             BatchItem(4, "?", Problem("no_words"))]
    responses = [SearchResponse("问一", "问一", True, [hit], 0.9, verdict="answered"),
                 SearchResponse("问二", "问二", False, [hit], 0.4, verdict="unsure"),
                 SearchResponse("问三", "问三", False, [], 0.0, verdict="unsure"), None]
    codes = [verdict_code(i, r) for i, r in zip(items, responses)]
    assert codes == ["answered", "unsure", "not_found", "error"]
    headers, rows = table(items, responses)
    assert [r[1] for r in rows[:3]] == ["是", "未确认", "否"] and rows[3][1].startswith("无法提问")
    html = batch_table_html(headers, rows, verdicts=codes)
    assert [html.count(f'class="pqa-v-{v}"') for v in ("yes", "unsure", "no", "error")] == [1, 1, 1, 1]
    rows[0][1] = "未确认"  # the word does not decide the look
    assert 'class="pqa-v-yes">未确认</td>' in batch_table_html(headers, rows, verdicts=codes)
