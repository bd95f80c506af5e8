"""The chat page's handlers (no browser): the three looks of a reply, escaping, follow-ups, the
source view, batch uploads and their downloads, adding and removing documents."""

import csv
import json
import re
import shutil
from dataclasses import replace
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from pudong_qa.rendering import NO_ANSWER, render_response, reply_attr
from pudong_qa.results import ANSWERED, NOT_FOUND, UNSURE, Citation, Result, SearchResponse
from pudong_qa.service import QAService
from pudong_qa.web import EXAMPLES, UPLOAD_LIMIT_BYTES, ChatPage

STRONG = re.compile(r'<mark class="pqa-strong">([^<]*)</mark>')


@pytest.fixture(scope="module")
def app(project):
    """The page's handlers over a service of their own (a private copy of the built project)."""
    return ChatPage(QAService(project[0], log=lambda _: None))


def _hit(rank, start, text, answer_at, answer_len, paragraph=8, source="corpus/x.txt", title="报告"):
    cite = Citation(source, title, "二、情况 > (二)职能", paragraph, start, start + len(text))
    a = start + answer_at
    return Result(rank, 1.0 / rank, text, text[answer_at:answer_at + answer_len], a, a + answer_len, cite, rank)


def _response(results, verdict=ANSWERED, confidence=0.9) -> SearchResponse:
    return SearchResponse("q", "<script>q</script>", verdict == ANSWERED, results, confidence, verdict=verdict)


def _cards(html: str) -> list[str]:
    return re.findall(r'<div class="pqa-card [^"]*">.*?</div></div>', html, re.S)


# ---------------------------------------------------------------- the three looks of a reply


def test_document_and_query_text_is_escaped():
    html = render_response(_response([_hit(1, 10, "<script>alert(1)</script>正文", 0, 5, title="<b>标题</b>")]))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;标题&lt;/b&gt;" in html and STRONG.search(html).group(1) == "&lt;scri"


def test_answered_marks_only_the_answer_sentence_and_shows_it_first():
    doc = "特别值得一提的是甲。管理中心乙。核心是丙。其他丁。"  # one paragraph, at offset 100
    first = _hit(1, 110, doc[10:], 6, 5)      # answer 核心是丙。 (the later hit of the paragraph)
    second = _hit(2, 100, doc[:16], 0, 10)    # overlaps: merged into the first card
    other = _hit(3, 300, "别的段落里的句子。", 0, 9, paragraph=9)
    html = render_response(_response([first, second, other]))
    cards = _cards(html)
    assert len(cards) == 2 and "pqa-answer" in cards[0] and "pqa-related" in cards[1]
    assert STRONG.findall(html) == ["核心是丙。"]  # one strong mark: the answer sentence
    assert html.index("pqa-strong") < html.index('class="pqa-passage"')  # shown first, before its passage
    assert "<mark" not in cards[1]  # other cards: no marks
    assert html.count('<mark class="pqa-faint">') == 1 and "答案 · 置信度 高" in cards[0]


def test_each_card_says_what_its_passage_lacks_and_which_results_it_merges():
    doc = "特别值得一提的是甲。管理中心乙。核心是丙。其他丁。"
    first = replace(_hit(1, 110, doc[10:], 6, 5), missing=("负责人", "电话"))
    second = replace(_hit(2, 100, doc[:16], 0, 10), missing=("电话",))  # merged: the union lacks only 电话
    other = _hit(3, 300, "别的段落里的句子。", 0, 9, paragraph=9)
    for verdict in (ANSWERED, UNSURE, NOT_FOUND):
        cards = _cards(render_response(_response([first, second, other], verdict=verdict)))
        assert "未包含:电话</p>" in cards[0] and "负责人" not in cards[0], verdict
        assert "合并了第1条、第2条结果" in cards[0] and "未包含" not in cards[1] and "合并" not in cards[1]


def test_a_long_question_is_echoed_short_and_the_other_words_searched_are_shown():
    resp = _response([_hit(1, 0, "生产总值达到2365亿元。", 0, 13)])
    resp.expansions = (("gdp", ("国内生产总值", "生产总值")),)
    html = render_response(resp, searched="浦东的gdp是多少")
    assert "检索:浦东的gdp是多少<span class=\"pqa-also\"> (gdp ≈ 国内生产总值、生产总值)</span>" in html
    long = "浦东" * 2500
    html = render_response(resp, searched=long)
    summary = re.search(r"<summary>(.*?)</summary>", html, re.S).group(1)
    assert len(re.sub(r"<[^>]+>", "", summary)) < 120 and "共5000字" in summary  # the answer stays in view
    assert f'<p class="pqa-query-full">{long}</p>' in html  # the whole question on demand


def test_unsure_has_its_own_look_without_marks():
    html = render_response(_response([_hit(1, 0, "可能相关的段落。", 0, 8)], verdict=UNSURE, confidence=0.45))
    assert "pqa-unsure" in html and "未确认" in html and "可能相关" in html
    assert "<mark" not in html and NO_ANSWER not in html and "<details" not in html and "置信度" not in html


def test_no_answer_reply_banner_first_passages_folded_without_highlights():
    html = render_response(_response([_hit(1, 0, "正文内容很长", 0, 2)], verdict=NOT_FOUND, confidence=0.2))
    assert NO_ANSWER in html and "pqa-closest" in html
    assert html.index("pqa-warn") < html.index("<details") < html.index("pqa-card")
    assert "最接近的段落" in html and "<mark" not in html and "置信度" not in html


def test_label_follows_confidence_not_score():
    html = render_response(_response([_hit(1, 0, "正文内容很长", 0, 2)], confidence=0.6))
    assert "置信度 中" in html and "0.90" not in html


def test_cards_name_the_file_never_the_server_path():
    hit = _hit(1, 2359, "正文。", 0, 3, source="/srv/qa/corpus/report.txt")
    html = render_response(_response([hit]))
    visible = re.sub(r'<span class="pqa-copytext">.*?</span>|<[^>]+>', " ", html, flags=re.S)
    assert "/srv" not in html and "report.txt" in visible and "2359" not in visible
    copied = unescape(re.search(r'<span class="pqa-copytext">([^<]*)</span>', html).group(1))
    assert copied.endswith("第8段 · report.txt [2359–2362]") and "/srv" not in copied  # offsets kept
    href = unescape(re.search(r'class="pqa-cite" href="([^"]+)"', html).group(1))
    assert "srv" not in href and "report" not in href


# ---------------------------------------------------------------- chat over the real report


def test_chat_answer_has_cards_and_citation(app):
    html = app.chat("浦东新区下辖多少个街道办事处", [], 3)
    assert html.count('class="pqa-card ') >= 2
    assert "一、浦东新区概况" in html and "第2段" in html and len(STRONG.findall(html)) == 1


@pytest.mark.parametrize("question,first,not_first", [
    ("管办评 是什么", "“管办评”联动模式的核心", "特别值得一提的是"),
    ("市民中心有什么作用", "市民中心的建立", "同时,全区"),  # the sentence before it is context, unmarked
])
def test_the_mark_is_the_answer_sentence(app, question, first, not_first):
    query, resp = app.service.ask(question, top_k=3)
    html = render_response(resp, searched=query)
    marks = STRONG.findall(html)
    top = resp.results[0]
    assert len(marks) == 1 and marks[0].startswith(first) and not_first not in marks[0]
    s = top.citation.start
    assert unescape(marks[0]) == top.text[top.core[0] - s:top.core[1] - s]
    assert top.answer_start <= top.core[0] < top.core[1] <= top.answer_end
    assert all("<mark" not in card for card in _cards(html)[1:])


def test_the_answer_sentence_comes_first_and_its_context_stays_in_the_passage():
    text = "同时,体系建立起来了。中心的作用是搭建平台。后来又扩大了。"
    hit = replace(_hit(1, 100, text, 0, 22), core=(111, 122))  # answer: the first two sentences
    html = render_response(_response([hit]))
    assert STRONG.findall(html) == ["中心的作用是搭建平台。"]
    line = re.search(r'<p class="pqa-answer-line">(.*?)</p>', html).group(1)
    assert line == '<mark class="pqa-strong">中心的作用是搭建平台。</mark>'  # the sentence alone, first
    passage = re.search(r'<p class="pqa-passage">(.*?)</p>', html).group(1)
    assert passage == '<mark class="pqa-faint">同时,体系建立起来了。中心的作用是搭建平台。</mark>后来又扩大了。'
    visible = re.sub(r'<span class="pqa-copytext">.*?</span>|<[^>]+>', " ", html, flags=re.S)
    assert visible.count("体系建立起来了") == 1  # the context once, in its passage
    href = unescape(re.search(r'class="pqa-cite" href="([^"]+)"', html).group(1))
    assert "astart=111&aend=122" in href
    assert reply_attr(html, "data-copy").startswith("答案 (置信度 高):中心的作用是搭建平台。\n")


def test_a_one_sentence_passage_is_shown_once():
    text = "中心的作用是搭建平台。"
    html = render_response(_response([replace(_hit(1, 100, text, 0, len(text)), core=(100, 111))]))
    visible = re.sub(r'<span class="pqa-copytext">.*?</span>|<[^>]+>', " ", html, flags=re.S)
    assert 'class="pqa-passage"' not in html and visible.count("搭建平台") == 1


def test_chat_follow_up_uses_previous_question(app):
    history = [{"role": "user", "content": "医疗联合体怎么运作"}, {"role": "assistant", "content": "…"}]
    assert "检索:医疗联合体" in app.chat("它是什么时候组建的?", history, 3)


def test_follow_up_carries_whole_terms(app):
    history = [{"role": "user", "content": "浦东新区有几个功能区域"}, {"role": "assistant", "content": "…"}]
    assert "检索:浦东新区 功能区域 的核心是什么" in app.chat("它的核心是什么", history, 3)


def test_chat_unanswerable_question(app):
    assert NO_ANSWER in app.chat("明天去北京的高铁票怎么买", [], 3)


def test_unusable_question_is_explained_in_chinese(app):
    html = app.chat("???!!!", [], 3)
    assert "无法检索:问题里没有文字" in html and not re.search(r"[A-Za-z]{3,}", re.sub(r"<[^>]+>", "", html))


def test_respond_appends_to_history(app):
    box, history = app.respond("功能区域管理体制是什么", [], 2)
    assert box == "" and [m["role"] for m in history] == ["user", "assistant"]
    assert history[1]["content"].count('class="pqa-card ') >= 1
    assert app.respond("   ", history, 2) == ("", history)


@pytest.mark.parametrize("question", list(EXAMPLES))
def test_every_example_is_answered_by_its_first_result(app, question):
    query, resp = app.service.ask(question, top_k=3)
    assert resp.answered, question
    assert EXAMPLES[question] in resp.results[0].text and EXAMPLES[question][:12] in resp.results[0].answer


def test_copy_text_is_plain(app):
    html = app.chat("“管办评”里的“评”指什么", [], 2)
    card_copy = unescape(re.search(r'<span class="pqa-copytext">([^<]*)</span>', html).group(1))
    assert "——《镇政府干部到上海浦东挂职的学习报告》 › 二、浦东新区政府管理创新的基本情况" in card_copy
    assert re.search(r"第8段 · pudong-government-innovation-report\.txt \[\d+–\d+\]$", card_copy)
    assert re.match(r"答案 \(置信度 [高中低]\):[^\n]*评[^\n]*\n", card_copy)  # the answer sentence, then the passage
    history = app.respond("“管办评”里的“评”指什么", [], 2)[1]
    text = app.conversation_text(history)
    assert text.startswith("问: “管办评”里的“评”指什么\n\n答:\n") and "<" not in text and "第8段" in text


# ---------------------------------------------------------------- the source view


def test_citation_opens_the_document_at_the_answer_sentence(app):
    query, resp = app.service.ask("管办评 是什么", top_k=1)
    html = render_response(resp, searched=query)
    href = unescape(re.search(r'class="pqa-cite" href="([^"]+)"', html).group(1))
    assert href.endswith("#pqa-target")
    q = {k: v[0] for k, v in parse_qs(urlparse(href).query).items()}
    args = (q["doc"], int(q["start"]), int(q["end"]), (int(q["astart"]), int(q["aend"])))
    page = app.document(*args)
    assert '<html lang="zh-CN">' in page and "<main>" in page and "第8段" in page
    target = re.search(r'<mark class="pqa-strong" id="pqa-target">([^<]*)</mark>', page).group(1)
    top = resp.results[0]
    core = top.text[top.core[0] - top.citation.start:top.core[1] - top.citation.start]
    assert unescape(target) == core and core in top.answer and page.count('class="pqa-strong"') == 1
    assert "corpus/" not in page and "pudong-government-innovation-report.txt" in page
    assert page.count('<p class="') > 20  # the whole document
    panel = app.document(*args, panel=True)
    assert "显示全文" in panel and 'id="pqa-target"' in panel and "<main>" not in panel
    assert panel.count('<p class="para"') + panel.count('<p class="pqa-h"') <= 6  # the part around it
    whole = app.document(*args, panel=True, full=True)
    assert "显示全文" not in whole and whole.count('<p class="') > 20
    assert app.document(resp.results[0].citation.source, 0, 10)  # a source (as the API gives it) works too
    with pytest.raises(KeyError):
        app.document("../../etc/passwd", 0, 10)


def test_source_view_escapes_document_text():
    from pudong_qa.rendering import SourceView
    from pudong_qa.web.static import source_page

    text = "标题\n一、章\n前一段\n有<script>alert(1)</script>的段落\n后一段\n"
    start = text.index("有")
    page = source_page(SourceView(text, Citation("corpus/x.txt", "<b>t</b>", "一、章", 2, start, start + 1)))
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "&lt;b&gt;t&lt;/b&gt;" in page


# ---------------------------------------------------------------- feedback


def test_thumbs_are_stored_shown_and_kept(app, tmp_path):
    import dataclasses

    from pudong_qa.feedback import read_feedback

    settings = dataclasses.replace(app.service.settings, data_dir=tmp_path / "data")
    page = ChatPage(app.service)
    page.service = type("S", (), {"settings": settings})()
    _, history, shown = app.answer("市民中心有什么作用", [], 2)
    kept = ChatPage.remember(history, shown, {})

    class Like:
        index, liked, value = 1, False, None

    votes, said = page.feedback(history, {}, Like(), shown=kept)
    assert votes == {"1": "Dislike"} and "已记录" in said
    [entry] = read_feedback(settings)
    assert entry["rating"] == "down" and entry["question"] == "市民中心有什么作用" and entry["answered"]
    assert "市民中心的建立" in entry["results"][0]["text"] and "第" in entry["results"][0]["citation"]
    assert "corpus/" not in entry["results"][0]["citation"]
    restored, box = ChatPage.restore(history, votes)
    assert restored["value"] == history and restored["feedback_value"] == ["Dislike"] and box["interactive"]
    Like.liked = ""
    assert page.feedback(history, votes, Like(), shown=kept)[0] == {}  # taken back


def test_feedback_stores_what_was_shown_not_what_the_html_says(app, tmp_path):
    """The record comes from the response kept beside the conversation: a reply whose HTML was
    altered (or that never carried its results) still stores the results it showed."""
    import dataclasses

    from pudong_qa.feedback import read_feedback

    settings = dataclasses.replace(app.service.settings, data_dir=tmp_path / "data")
    page = ChatPage(app.service)
    page.service = type("S", (), {"settings": settings})()
    _, history, shown = app.answer("市民中心有什么作用", [], 2)
    _, history, later = app.answer("浦东新区什么时候开始开发开放", history, 2)
    kept = ChatPage.remember(history[:2], shown, {})
    kept = ChatPage.remember(history, later, kept)
    assert set(kept) == {"1", "3"} and kept["1"] == shown and "data-log" not in history[1]["content"]
    history[1] = {"role": "assistant", "content": '<div class="pqa-reply">改过的回答</div>'}

    class Like:
        index, liked = 1, True

    page.feedback(history, {}, Like(), shown=kept)
    [entry] = read_feedback(settings)
    assert entry["question"] == "市民中心有什么作用" and entry["answered"]
    assert entry["confidence"] == shown["confidence"]
    assert entry["results"] == shown["results"] and "市民中心的建立" in entry["results"][0]["text"]
    assert "改过的回答" not in str(entry)
    page.feedback(history, {}, type("Like", (), {"index": 3, "liked": True})(), shown={"1": shown}, latest=later)
    assert read_feedback(settings)[-1]["results"] == later["results"]  # a thumb faster than remember


# ---------------------------------------------------------------- batch


def test_batch_upload_all_formats(app, tmp_path):
    files = {  # blank lines are not questions; a broken JSONL line is reported
        "q.txt": ("浦东综合配套改革是哪一年批准的\n\n东沟中学\n", 2),
        "q.csv": ("question\n浦东综合配套改革是哪一年批准的\n\n东沟中学\n", 2),
        "q.jsonl": ('{"question": "浦东综合配套改革是哪一年批准的"}\n{broken\n\n{"question": "东沟中学"}\n', 3),
    }
    for name, (text, n) in files.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        msg, headers, rows, downloads = app.batch_table(str(path), 2)
        assert len(rows) == n and f"共 {n} 个问题" in msg, name
        assert headers == ["问题", "是否回答", "答案", "未包含", "段落", "出处", "行"]
        assert rows[0][:2] == ["浦东综合配套改革是哪一年批准的", "是"] and "2005年6月21日" in rows[0][2]
        assert rows[0][2] in rows[0][4]  # the answer sentence, and the passage it is in
        assert rows[0][5].startswith("《镇政府干部到上海浦东挂职的学习报告》 › ") and rows[0][6] in (1, 2)
        table, ranked, jsonl = map(Path, downloads)
        assert table.name.startswith("q-答案-") and ranked.name.startswith("q-全部结果-")
        assert [r[:2] for r in _read_csv(table)[1:]] == [[str(c) for c in r[:2]] for r in rows]
        records = [json.loads(x) for x in jsonl.read_text(encoding="utf-8").splitlines()]
        assert len(records) == n + 1 and records[1]["error"]  # the contract: one entry per input line
    assert rows[1][1] == "无法提问: 不是有效的 JSON"  # the broken JSONL line, in Chinese


def _read_csv(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # a UTF-8 BOM, so Excel reads the Chinese
    return list(csv.reader(data.decode("utf-8-sig").splitlines()))


def test_batch_download_is_the_table(app, tmp_path):
    path = tmp_path / "my list.csv"
    path.write_text("id,question,note\nA1,浦东综合配套改革是哪一年批准的,第一\n,,\nA2,浦东新区2023年GDP是多少,第二\n"
                    "A3,上海市的市长是谁,第三\n", encoding="utf-8")
    steps = []
    msg, headers, rows, files = app.batch_table(str(path), 2, progress=lambda p, **k: steps.append((p, k["desc"])))
    assert headers == ["问题", "是否回答", "答案", "未包含", "段落", "出处", "行", "id", "note"]
    assert [r[1] for r in rows] == ["是", "否", "否"] and rows[1][2:6] == ["", "", "", ""]  # nothing when not found
    assert [r[7:] for r in rows] == [["A1", "第一"], ["A2", "第二"], ["A3", "第三"]]
    assert steps[0][0] == (0, 3) and steps[-1] == ((3, 3), "已处理 3 / 3 个问题")
    table, ranked, jsonl = map(Path, files)
    assert table.name.startswith("my_list-答案-")
    out = _read_csv(table)
    assert out[0] == headers and out[1:] == [[str(c) for c in r] for r in rows]  # one row per question
    ranks = _read_csv(ranked)
    assert ranks[0][:6] == ["行", "问题", "是否回答", "名次", "得分", "答案句"] and ranks[0][-2:] == ["id", "note"]
    assert len(ranks) == 1 + 3 * 2 and all("corpus/" not in cell for row in ranks for cell in row)
    entries = [json.loads(x) for x in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [e["id"] for e in entries] == ["A1", "", "A2", "A3"] and entries[1]["error"]  # every input line
    assert set(entries[0]) >= {"question", "answered", "results"} and entries[0]["results"][0]["citation"]["start"]


def test_batch_rejects_bad_uploads(app, tmp_path):
    pdf = tmp_path / "q.txt"
    pdf.write_bytes(b"%PDF-1.4\n\xff\xfe\x00\x81binary")
    msg, _, rows, files = app.batch_table(str(pdf), 3)
    assert "PDF" in msg and "q.txt" in msg and rows == [] and files is None
    xlsx = tmp_path / "q.csv"
    xlsx.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe\x81")
    msg, _, rows, _ = app.batch_table(str(xlsx), 3)
    assert ".xlsx" in msg and rows == []
    nocol = tmp_path / "n.csv"
    nocol.write_text("id,text\n1,问题\n", encoding="utf-8")
    assert "没有“问题”列" in app.batch_table(str(nocol), 3)[0]
    big = tmp_path / "big.txt"
    big.write_text("问题\n" * (UPLOAD_LIMIT_BYTES // 6 + 10), encoding="utf-8")
    msg, _, rows, _ = app.batch_table(str(big), 3)
    assert "上限" in msg and rows == []
    assert app.batch_table(None, 3)[2] == []


# ---------------------------------------------------------------- documents and the index


def test_index_status_and_rebuild(app):
    status = app.index_status()
    assert "《镇政府干部到上海浦东挂职的学习报告》 | pudong-government-innovation-report.txt" in status
    assert "最新" in status and "corpus/" not in status
    # a <time> page.js shows in the browser's time zone; the server's, with its offset, until it does
    assert re.search(r'构建时间:\*\* <time class="pqa-time" datetime="[^"]+">'
                     r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC[+-]\d\d:\d\d\)</time>", status)
    before = app.service.searcher.index
    assert "重建完成" in app.rebuild(progress=lambda *a, **k: None)
    assert app.service.searcher.index is not before


def test_two_rebuilds_at_once_do_not_corrupt(app):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda _: app.rebuild(progress=lambda *a, **k: None), range(2)))
    assert sum("重建完成" in o for o in outcomes) >= 1
    assert all("重建完成" in o or "进行中" in o for o in outcomes)
    service = app.service
    assert service.status().stale == [] and service.searcher.search("东沟中学").results


def test_welcome_names_the_report(app):
    text = app.welcome()
    assert text.startswith("# 浦东报告问答") and "《镇政府干部到上海浦东挂职的学习报告》" in text and "3 章" in text


def test_welcome_with_several_documents_does_not_say_the_report():
    class Two:
        def overview(self):
            return [{"title": t, "chars": 10, "paragraphs": 1, "sections": []} for t in ("甲", "乙")]

    text = ChatPage(Two()).welcome()
    assert "只根据下面的这 2 份文档回答" in text and "报告里" not in text and "《甲》" in text and "《乙》" in text


def test_document_with_script_tag_renders_as_text(tmp_path, model):
    from pudong_qa.settings import Settings

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "x.txt").write_text(
        "测试报告\n一、概况\n网页里有<script>alert('x')</script>这样的代码,浦东新区区域面积569平方公里。\n",
        encoding="utf-8")
    service = QAService(Settings(root=tmp_path), log=lambda _: None)
    query, resp = service.ask("网页里有什么代码")
    html = render_response(resp, searched=query)
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # Jinja2's escape


def _heading_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("临港新片区情况简报", level=1)
    document.add_heading("一、总体情况", level=2)
    document.add_paragraph("临港新片区今年新增企业一千二百家,重点发展集成电路和人工智能产业。")
    document.save(path)


def test_index_tab_adds_refuses_lists_and_removes_documents(tmp_path, model):
    """Readable uploads are stored and indexed; unreadable ones are refused in Chinese and leave
    nothing behind; a file already unreadable in the folder is listed and can be removed."""
    from conftest import ROOT

    from pudong_qa.settings import Settings

    fixtures = ROOT / "tests" / "fixtures" / "formats"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(fixtures / "report_gbk.txt", corpus)
    page = ChatPage(QAService(Settings(root=tmp_path, ocr=False), log=lambda _: None))  # scanned.pdf: refused
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    _heading_docx(uploads / "lingang-briefing.docx")
    (uploads / "x.docx").write_bytes(b"PK\x03\x04 this is not really a Word file")
    (uploads / "empty.pdf").write_bytes(b"")
    names = ["lingang-briefing.docx", "x.docx", "empty.pdf", str(fixtures / "scanned.pdf")]
    status = page.add_documents([str(uploads / n) for n in names], progress=lambda *a, **k: None)
    assert "已添加 1 个文档:《临港新片区情况简报》 (lingang-briefing.docx)" in status and "重建完成" in status
    assert "未添加 x.docx:文件已损坏或不是 Word 文档" in status and "未添加 empty.pdf:文件是空的" in status
    assert "未添加 scanned.pdf:PDF 没有文字层" in status and "无法读取" not in status.split("重建完成")[1]
    assert sorted(p.name for p in corpus.iterdir()) == ["lingang-briefing.docx", "report_gbk.txt"]  # nothing else
    assert "临港新片区情况简报" in page.welcome()  # the header names the new document

    (corpus / "broken.docx").write_bytes(b"PK\x03\x04 broken")  # put there by hand
    page.rebuild(progress=lambda *a, **k: None)
    status = page.index_status()
    assert "1 个文件无法读取" in status and "broken.docx:文件已损坏或不是 Word 文档" in status
    choices = dict(page.document_choices())
    assert "broken.docx (无法读取)" in choices and "《临港新片区情况简报》 (lingang-briefing.docx)" in choices
    broken = choices["broken.docx (无法读取)"]
    shown, prompt, named = page.remove_prompt(broken)
    assert shown["visible"] and "确认删除 broken.docx (无法读取)?" in prompt and named == broken
    status = page.remove_document(broken, progress=lambda *a, **k: None)
    assert "已删除 broken.docx" in status and "无法读取" not in status.split("重建完成")[1]
    assert not (corpus / "broken.docx").exists()
    status = page.remove_document(choices["《临港新片区情况简报》 (lingang-briefing.docx)"],
                                  progress=lambda *a, **k: None)
    assert "已删除 《临港新片区情况简报》" in status and "临港新片区情况简报" not in page.welcome()
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    status = page.add_documents([str(exe)], progress=lambda *a, **k: None)
    assert "没有添加任何文档" in status and "不支持这种文件类型" in status
