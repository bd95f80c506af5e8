"""The chat page's handlers (no browser): rendering, escaping, follow-ups, batch uploads."""

import csv
import json
import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from pudong_qa.rendering import NO_ANSWER, render_response
from pudong_qa.results import Citation, Result, SearchResponse
from pudong_qa.service import QAService
from pudong_qa.web import EXAMPLES, UPLOAD_LIMIT_BYTES, ChatPage


@pytest.fixture(scope="module")
def app(project):
    """The page's handlers over a service of their own (a private copy of the built project)."""
    return ChatPage(QAService(project[0], log=lambda _: None))


def _response(text: str, answered: bool = True) -> SearchResponse:
    cite = Citation("corpus/x.txt", "<b>标题</b>", "一、<i>章</i>", 3, 10, 10 + len(text))
    r = Result(1, 0.9, text, text[:5], 10, 15, cite, 0)
    return SearchResponse("q", "<script>q</script>", answered, [r], 0.9)


def test_document_and_query_text_is_escaped():
    html = render_response(_response("<script>alert(1)</script>正文"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;标题&lt;/b&gt;" in html and "<mark>&lt;scri</mark>" in html


def test_low_confidence_says_so():
    html = render_response(_response("正文内容", answered=False))
    assert NO_ANSWER in html and "pqa-low" in html


def test_chat_answer_has_cards_and_citation(app):
    html = app.chat("浦东新区下辖多少个街道办事处", [], 3)
    assert html.count('class="pqa-card') == 3
    assert "一、浦东新区概况" in html and "第2段" in html and "<mark>" in html


def test_chat_follow_up_uses_previous_question(app):
    history = [{"role": "user", "content": "医疗联合体怎么运作"}, {"role": "assistant", "content": "…"}]
    html = app.chat("它是什么时候组建的?", history, 3)
    assert "检索 searched: 医疗联合体" in html


def test_chat_unanswerable_question(app):
    assert NO_ANSWER in app.chat("明天去北京的高铁票怎么买", [], 3)


def test_respond_appends_to_history(app):
    box, history = app.respond("功能区域管理体制是什么", [], 2)
    assert box == "" and [m["role"] for m in history] == ["user", "assistant"]
    assert history[1]["content"].count('class="pqa-card') == 2
    assert app.respond("   ", history, 2) == ("", history)


def test_batch_upload_all_formats(app, tmp_path):
    files = {  # blank lines are not questions; a broken JSONL line is reported
        "q.txt": ("浦东综合配套改革是哪一年批准的\n\n东沟中学\n", 2),
        "q.csv": ("question\n浦东综合配套改革是哪一年批准的\n\n东沟中学\n", 2),
        "q.jsonl": ('{"question": "浦东综合配套改革是哪一年批准的"}\n{broken\n\n{"question": "东沟中学"}\n', 3),
    }
    for name, (text, n) in files.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        msg, rows, downloads = app.batch(str(path), 2)
        assert len(rows) == n and f"共 {n} 个问题" in msg, name
        assert rows[0][:2] == ["浦东综合配套改革是哪一年批准的", "是"] and "2005年6月21日" in rows[0][2]
        assert rows[0][3].startswith("《镇政府干部到上海浦东挂职的学习报告》 › ") and rows[0][4] in (1, 2)
        jsonl, csv_path = downloads
        assert Path(jsonl).name.startswith("q-answers-") and Path(csv_path).suffix == ".csv"
        records = [json.loads(x) for x in Path(jsonl).read_text(encoding="utf-8").splitlines()]
        assert len(records) == n
        out = list(csv.DictReader(Path(csv_path).read_text(encoding="utf-8-sig").splitlines()))
        assert out[0]["source"].startswith("corpus/")
    assert "无法提问" in rows[1][1]  # the broken JSONL line


def test_batch_carries_csv_columns(app, tmp_path):
    path = tmp_path / "my list.csv"
    path.write_text("id,question,note\nA1,浦东综合配套改革是哪一年批准的,第一\n,,\nA2,市民中心有什么作用,第二\n",
                    encoding="utf-8")
    msg, rows, files, headers = app.batch_table(str(path), 1)
    assert headers == ["问题", "是否回答", "答案", "出处", "行", "id", "note"]
    assert [r[5:] for r in rows] == [["A1", "第一"], ["A2", "第二"]]
    jsonl, csv_path = files
    assert Path(csv_path).name.startswith("my_list-answers-")
    assert Path(csv_path).read_bytes().startswith(b"\xef\xbb\xbf")  # a UTF-8 BOM, so Excel reads Chinese
    out = list(csv.DictReader(Path(csv_path).read_text(encoding="utf-8-sig").splitlines()))
    assert [(r["id"], r["note"]) for r in out] == [("A1", "第一"), ("A2", "第二")]
    assert json.loads(Path(jsonl).read_text(encoding="utf-8").splitlines()[1])["id"] == "A2"


def test_batch_rejects_bad_uploads(app, tmp_path):
    pdf = tmp_path / "q.txt"
    pdf.write_bytes(b"%PDF-1.4\n\xff\xfe\x00\x81binary")
    msg, rows, files = app.batch(str(pdf), 3)
    assert "PDF" in msg and "q.txt" in msg and rows == [] and files is None
    xlsx = tmp_path / "q.csv"
    xlsx.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe\x81")
    msg, rows, files = app.batch(str(xlsx), 3)
    assert ".xlsx" in msg and rows == []
    big = tmp_path / "big.txt"
    big.write_text("问题\n" * (UPLOAD_LIMIT_BYTES // 6 + 10), encoding="utf-8")
    msg, rows, files = app.batch(str(big), 3)
    assert "limit" in msg and rows == []
    assert app.batch(None, 3)[1] == []


def test_index_status_and_rebuild(app):
    status = app.index_status()
    assert "镇政府干部到上海浦东挂职的学习报告" in status and "最新" in status
    assert re.search(r"构建时间:\*\* \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC[+-]\d\d:\d\d\)", status)
    before = app.service.searcher.index
    assert "重建完成" in app.rebuild(progress=lambda *a, **k: None)
    assert app.service.searcher.index is not before


def test_document_with_script_tag_renders_as_text(tmp_path, model):
    from pudong_qa.rendering import render_response
    from pudong_qa.settings import Settings

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "x.txt").write_text(
        "测试报告\n一、概况\n网页里有<script>alert('x')</script>这样的代码,浦东新区区域面积569平方公里。\n",
        encoding="utf-8")
    service = QAService(Settings(root=tmp_path), log=lambda _: None)
    query, resp = service.ask("网页里有什么代码")
    html = render_response(resp, searched=query)
    assert "<script>" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_two_rebuilds_at_once_do_not_corrupt(app):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _: app.rebuild(progress=lambda *a, **k: None), range(2)))
    assert sum("重建完成" in o for o in outcomes) >= 1
    assert all("重建完成" in o or "正在重建" in o for o in outcomes)
    service = app.service
    assert service.status().stale == [] and service.searcher.search("东沟中学").results


# ---------------------------------------------------------------- the page as people use it


@pytest.mark.parametrize("question", list(EXAMPLES))
def test_every_example_is_answered_by_its_first_result(app, question):
    query, resp = app.service.ask(question, top_k=3)
    assert resp.answered, question
    assert EXAMPLES[question] in resp.results[0].text and EXAMPLES[question][:12] in resp.results[0].answer


def _hit(rank, start, text, answer_at, answer_len, paragraph=8, source="corpus/x.txt"):
    cite = Citation(source, "报告", "二、情况 > (二)职能", paragraph, start, start + len(text))
    a = start + answer_at
    return Result(rank, 1.0 / rank, text, text[answer_at:answer_at + answer_len], a, a + answer_len, cite, rank)


def test_overlapping_hits_of_one_paragraph_become_one_card():
    doc = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳"
    first = _hit(1, 100, doc[0:8], 0, 2)       # 甲乙 … 辛
    second = _hit(2, 104, doc[4:14], 6, 2)     # 戊 … 卯, answer at 110–112 = 子丑
    adjacent = _hit(3, 114, doc[14:16], 0, 1)  # 辰巳, touching the end of the second
    other = _hit(4, 100, doc[0:4], 0, 1, paragraph=9)
    html = render_response(SearchResponse("q", "q", True, [first, second, adjacent, other], 0.9))
    assert html.count('class="pqa-card') == 2
    assert "<mark>甲乙</mark>丙丁戊己庚辛壬癸<mark>子丑</mark>寅卯<mark>辰</mark>巳" in html
    assert "[100–116]" in html and "第8段" in html and "第9段" in html


def test_no_answer_reply_banner_first_passages_folded_without_highlights():
    resp = _response("正文内容很长", answered=False)
    html = render_response(resp)
    assert html.index("pqa-warn") < html.index("<details") < html.index("pqa-card")
    assert "可能相关的段落" in html and "<mark>" not in html and "置信度" not in html


def test_label_follows_confidence_not_score():
    resp = _response("正文内容很长")
    resp.confidence = 0.6
    html = render_response(resp)
    assert "置信度 中" in html and "0.90" not in html and "高" not in html.split("pqa-passage")[0]


def test_copy_text_is_plain(app):
    html = app.chat("“管办评”里的“评”指什么", [], 2)
    card_copy = re.search(r'<span class="pqa-copytext">([^<]*)</span>', html).group(1)
    assert "——《镇政府干部到上海浦东挂职的学习报告》 › 二、浦东新区政府管理创新的基本情况" in unescape(card_copy)
    assert "第8段" in card_copy and "<" not in unescape(card_copy)
    history = app.respond("“管办评”里的“评”指什么", [], 2)[1]
    text = app.conversation_text(history)
    assert text.startswith("问: “管办评”里的“评”指什么\n\n答:\n") and "<" not in text and "第8段" in text


def test_citation_links_to_source_view(app):
    html = app.chat("“管办评”里的“评”指什么", [], 1)
    href = unescape(re.search(r'class="pqa-cite" href="([^"]+)"', html).group(1))
    q = parse_qs(urlparse(href).query)
    page = app.document(q["source"][0], int(q["start"][0]), int(q["end"][0]))
    assert '<html lang="zh-CN">' in page and "(二)拓展公共服务的职能" in page and "第8段" in page
    assert page.count("<mark>") == 1 and page.count('class="para"') >= 2
    with pytest.raises(KeyError):
        app.document("../../etc/passwd", 0, 10)


def test_source_view_escapes_document_text():
    from pudong_qa.rendering import source_page

    text = "标题\n一、章\n前一段\n有<script>alert(1)</script>的段落\n后一段\n"
    start = text.index("有")
    page = source_page(text, Citation("corpus/x.txt", "<b>t</b>", "一、章", 2, start, start + 1))
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "&lt;b&gt;t&lt;/b&gt;" in page


def test_thumbs_are_stored_with_question_and_results(app, tmp_path):
    import dataclasses

    from pudong_qa.feedback import read_feedback

    settings = dataclasses.replace(app.service.settings, data_dir=tmp_path / "data")
    page = ChatPage(app.service)
    page.service = type("S", (), {"settings": settings})()
    history = app.respond("市民中心有什么作用", [], 2)[1]

    class Like:
        index, liked, value = 1, False, None

    assert page.feedback(history, Like()) == "down"
    [entry] = read_feedback(settings)
    assert entry["rating"] == "down" and entry["question"] == "市民中心有什么作用" and entry["answered"]
    assert "市民中心的建立" in entry["results"][0]["text"] and "第" in entry["results"][0]["citation"]


def test_welcome_names_the_report(app):
    text = app.welcome()
    assert "《镇政府干部到上海浦东挂职的学习报告》" in text and "字" in text and "3 章" in text


def test_index_tab_adds_lists_and_removes_documents(tmp_path, model):
    """Documents added from the page are stored safely, indexed incrementally and listed; removal works."""
    import shutil

    from conftest import ROOT

    from pudong_qa.settings import Settings

    fixtures = ROOT / "tests" / "fixtures" / "formats"
    (tmp_path / "corpus").mkdir()
    shutil.copy(fixtures / "report_gbk.txt", tmp_path / "corpus")
    page = ChatPage(QAService(Settings(root=tmp_path), log=lambda _: None))
    uploads = [str(fixtures / "news_gbk.html"), str(fixtures / "scanned.pdf")]
    status = page.add_documents(uploads, progress=lambda *a, **k: None)
    assert "已添加 2 个文档" in status and "重建完成" in status
    assert "1 个文件未能读取" in status and "scanned.pdf" in status and "no text layer" in status
    assert "《临江区新增十二处社区养老服务站》 | html" in status and "gb18030" in status
    assert "corpus/news_gbk.html" in page.document_choices()
    assert "临江区新增十二处社区养老服务站" in page.welcome()
    status = page.remove_document("corpus/news_gbk.html", progress=lambda *a, **k: None)
    assert "已删除" in status and "corpus/news_gbk.html" not in page.document_choices()
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    status = page.add_documents([str(exe)], progress=lambda *a, **k: None)
    assert "未添加任何文档" in status and "unsupported file type" in status
