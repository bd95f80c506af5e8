"""The chat page's handlers (no browser): rendering, escaping, follow-ups, batch uploads."""

import csv
import json
from pathlib import Path

import pytest

from pudong_qa.rendering import NO_ANSWER, render_response
from pudong_qa.results import Citation, Result, SearchResponse
from pudong_qa.service import QAService
from pudong_qa.web import UPLOAD_LIMIT_BYTES, ChatPage


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
    box, history = app.respond("东沟中学", [], 2)
    assert box == "" and [m["role"] for m in history] == ["user", "assistant"]
    assert history[1]["content"].count('class="pqa-card') == 2
    assert app.respond("   ", history, 2) == ("", history)


def test_batch_upload_all_formats(app, tmp_path):
    files = {
        "q.txt": "浦东新区下辖多少个街道办事处\n\n东沟中学\n",
        "q.csv": "question\n浦东新区下辖多少个街道办事处\n\n东沟中学\n",
        "q.jsonl": '{"question": "浦东新区下辖多少个街道办事处"}\n{broken\n{"question": "东沟中学"}\n',
    }
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        msg, rows, downloads = app.batch(str(path), 2)
        assert len(rows) == 3 and rows[1][4] != "answered", name
        assert "11个街道办事处" in rows[0][2] or "街道" in rows[0][3]
        jsonl, csv_path = downloads
        records = [json.loads(x) for x in Path(jsonl).read_text(encoding="utf-8").splitlines()]
        assert len(records) == 3 and records[1]["error"]
        rows = list(csv.DictReader(Path(csv_path).read_text(encoding="utf-8").splitlines()))
        assert rows[0]["source"].startswith("corpus/")


def test_batch_rejects_bad_uploads(app, tmp_path):
    gbk = tmp_path / "q.txt"
    gbk.write_bytes("问题".encode("gbk"))
    msg, rows, files = app.batch(str(gbk), 3)
    assert "UTF-8" in msg and rows == [] and files is None
    big = tmp_path / "big.txt"
    big.write_text("问题\n" * (UPLOAD_LIMIT_BYTES // 6 + 10), encoding="utf-8")
    msg, rows, files = app.batch(str(big), 3)
    assert "limit" in msg and rows == []
    assert app.batch(None, 3)[1] == []


def test_index_status_and_rebuild(app):
    status = app.index_status()
    assert "镇政府干部到上海浦东挂职的学习报告" in status and "up to date" in status
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
    assert all("重建完成" in o or "already running" in o for o in outcomes)
    service = app.service
    assert service.status().stale == [] and service.searcher.search("东沟中学").results
