"""The real page in headless Chromium, used as a new user would: start app.py on a free port, ask,
read what renders, click what a user clicks.

Every view (the chat with all three kinds of reply, the source panel, the batch and index tabs,
the ``/doc`` page) is checked with axe-core (``npm ci`` installs it into node_modules/) in the
light and the dark colour scheme, and must have no violations at all. The browser asks for
Chinese, as a Chinese user's does (Gradio's own labels follow the browser's language).
Screenshots go to test-artifacts/ (and, with PUDONG_QA_SCREENSHOTS=1, to docs/ for the README).
"""

import csv
import json
import os
import re
import time
from pathlib import Path

import pytest
from conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ANSWER = "“管办评”联动模式的核心,是理清了政府、学校、社会三者的关系"  # the command line's 答 line for 管办评 是什么

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip("Chromium not installed (make test installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser(app_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture()
def open_page(browser, app_server):
    contexts = []

    def _open(viewport=DESKTOP, scheme="light", path="", locale="zh-CN"):
        ctx = browser.new_context(viewport=viewport, color_scheme=scheme, locale=locale,
                                  permissions=["clipboard-read", "clipboard-write"])
        contexts.append(ctx)
        pg = ctx.new_page()
        pg.goto(app_server[0] + path, wait_until="domcontentloaded")
        if not path:  # the box is usable once the kept conversation is back
            pg.wait_for_function("document.querySelector('#question textarea:not([disabled])')", timeout=60000)
        return pg

    yield _open
    for ctx in contexts:
        ctx.close()


def _ask(pg, question: str) -> None:
    before = pg.locator(".pqa-reply").count()
    box = pg.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    pg.wait_for_function(f"document.querySelectorAll('.pqa-reply').length > {before}", timeout=60000)
    assert "pqa-problem" not in (pg.locator(".pqa-reply").last.get_attribute("class") or ""), \
        pg.locator(".pqa-reply").last.inner_text()
    # the page then shows the question just asked and, right below it, the start of its answer
    pg.wait_for_function(f"""() => {{ const q = [...document.querySelectorAll('#chatbot [data-testid=user]')].pop();
        const a = [...document.querySelectorAll('.pqa-reply')].pop();
        const c = document.querySelector('#chatbot').getBoundingClientRect(), r = q.getBoundingClientRect();
        return q.innerText.includes({json.dumps(question[:6])}) && r.top >= Math.max(c.top, 0) - 1
            && r.bottom <= c.bottom && a.getBoundingClientRect().top < Math.min(c.bottom, innerHeight) - 20; }}""",
                         timeout=15000)


def test_a_document_added_elsewhere_is_in_a_new_page_s_delete_list(open_page, app_server, tmp_path):
    """The delete list is read when the page opens, not when the server started."""
    corpus = Path(app_server[2]) / "corpus"
    (tmp_path / "新增说明.txt").write_text("临时说明\n\n这是一份用于检查删除列表的临时说明。\n", encoding="utf-8")
    first = open_page()
    first.get_by_role("tab", name="文档与索引").click()
    first.locator("#add-docs input[type=file]").set_input_files(str(tmp_path / "新增说明.txt"))
    first.locator("#add-docs-btn").click()
    first.wait_for_function("document.querySelector('#index-status').innerText.includes('新增说明.txt')",
                            timeout=60000)
    pg = open_page()  # another colleague's page, opened after the add
    pg.get_by_role("tab", name="文档与索引").click()
    pg.locator("#remove-doc input").click()
    options = [o.strip("✓ \n") for o in pg.get_by_role("option").all_inner_texts()]
    assert any("新增说明.txt" in o for o in options), options
    pg.get_by_role("option", name=re.compile("新增说明")).click()
    pg.locator("#remove-doc-btn").click()
    pg.locator("#remove-confirm").click()
    pg.wait_for_function("document.querySelector('#index-status').innerText.includes('已删除')", timeout=60000)
    pg.wait_for_function("document.querySelector('#index-status').innerText.includes('最新')", timeout=60000)
    table = pg.locator("#index-status table").inner_text()
    assert "新增说明.txt" not in table and "pudong-government-innovation-report.txt" in table
    assert not (corpus / "新增说明.txt").exists()


def _shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if os.environ.get("PUDONG_QA_SCREENSHOTS"):
        pg.screenshot(path=str(ROOT / "docs" / f"{name}.png"))


def _settle(pg) -> None:
    """Wait until Gradio shows no update in progress (it dims a component while one runs)."""
    pg.wait_for_function("""() => [...document.querySelectorAll('[data-testid=status-tracker]')]
        .every(s => s.classList.contains('hide'))""", timeout=30000)
    pg.wait_for_timeout(400)  # the fade back to full opacity


def _axe(pg) -> list[str]:
    """Every axe-core violation on the page as it is now (folded replies opened first)."""
    if pg.locator("#question").count():
        _settle(pg)
    pg.evaluate("document.querySelectorAll('#chatbot details').forEach(d => d.open = true)")
    pg.add_script_tag(path=str(AXE))
    result = pg.evaluate("""async () => {
        // with the experimental check that a control's name contains the words it shows
        const r = await axe.run(document, {rules: {'label-content-name-mismatch': {enabled: true}}});
        return {violations: r.violations.flatMap(v => v.nodes.map(n => v.id + ' ' + n.html.slice(0, 80) + ' :: '
                    + n.any.concat(n.all).map(a => a.message).join(' '))), passes: r.passes.length};
    }""")
    assert result["passes"] > 10  # the check really looked at the page
    return result["violations"]


# ---------------------------------------------------------------- every view, light and dark


@pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (npm ci)")
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_axe_violations_on_any_view(open_page, app_server, scheme, tmp_path):
    pg = open_page(scheme=scheme)
    assert pg.evaluate("document.body.classList.contains('dark')") == (scheme == "dark")
    assert _axe(pg) == [], "first screen"
    _ask(pg, "明天去北京的高铁票怎么买")
    _ask(pg, "管办评 是什么")
    _ask(pg, "挂职学习有什么收获")
    assert pg.locator(".pqa-reply.pqa-unsure").count() == 1
    assert _axe(pg) == [], "answered, unsure and not-found replies"
    pg.locator(".pqa-answer a.pqa-cite").last.click()
    pg.wait_for_function("window.pqaSourceShown >= 1", timeout=10000)
    assert _axe(pg) == [], "the source panel"
    pg.locator("#pqa-source-close").click()
    path = tmp_path / "q.csv"
    path.write_text("id,question\nq1,浦东综合配套改革是哪一年批准的\nq2,上海市的市长是谁\n", encoding="utf-8")
    pg.get_by_role("tab", name="批量提问").click()
    assert _axe(pg) == [], "the batch tab, empty"
    pg.locator("#batch-upload input[type=file]").set_input_files(str(path))
    assert _axe(pg) == [], "the batch tab, a file chosen"
    pg.locator("#batch-run").click()
    pg.wait_for_function("document.querySelector('#batch-table').innerText.includes('q2')", timeout=60000)
    assert _axe(pg) == [], "the batch tab"
    pg.get_by_role("tab", name="文档与索引").click()
    pg.wait_for_function("document.querySelector('#index-status').innerText.includes('构建时间')", timeout=30000)
    assert _axe(pg) == [], "the index tab"
    (tmp_path / "说明.txt").write_text("说明\n\n一份说明。\n", encoding="utf-8")
    pg.locator("#add-docs input[type=file]").set_input_files(str(tmp_path / "说明.txt"))
    pg.locator("#add-docs .filename").first.wait_for(timeout=10000)
    assert _axe(pg) == [], "the index tab, a file chosen"
    href = pg.locator(".pqa-answer a.pqa-cite").last.get_attribute("href")
    doc = open_page(scheme=scheme, path=href.lstrip("/"))
    assert doc.locator("main #pqa-target").count() == 1
    assert _axe(doc) == [], "the /doc page"


@pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (npm ci)")
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_sign_in_page_after_a_wrong_password(browser, scheme):
    from pudong_qa.office.signin import login_page

    ctx = browser.new_context(viewport=PHONE, color_scheme=scheme, locale="en-US")
    pg = ctx.new_page()
    pg.set_content(login_page("/", "用户名或密码不正确。", status=401, user="lin").body.decode("utf-8"))
    assert _axe(pg) == [], "the sign-in page"
    assert pg.locator("#username").input_value() == "lin"  # the name stays; the password is asked again
    assert pg.evaluate("document.activeElement.id") == "password"
    pg.locator("button[type=submit]").click()  # empty password: the browser's own check, in Chinese
    assert pg.evaluate("document.querySelector('#password').validationMessage") == "请填写密码。"
    ctx.close()


# ---------------------------------------------------------------- the chat


def test_first_screen(open_page):
    pg = open_page()
    assert pg.evaluate("document.documentElement.lang") == "zh-CN"
    assert pg.locator("h1").inner_text() == "浦东报告问答"
    assert pg.evaluate("document.activeElement.closest('#question') !== null")
    assert "《镇政府干部到上海浦东挂职的学习报告》" in pg.locator("#welcome").inner_text()
    from pudong_qa.web import EXAMPLES

    for q in EXAMPLES:  # every example visible above the fold at 1280×900
        box = pg.get_by_text(q, exact=True).first.bounding_box()
        assert box and box["y"] + box["height"] <= DESKTOP["height"], q
    text = pg.evaluate("document.body.innerText")
    assert not re.findall(r"[A-Za-z]{3,}", text), "English on the Chinese page"
    assert pg.locator("footer a:visible").count() == 0  # Gradio's footer links are gone


def test_an_english_browser_still_gets_a_chinese_page(open_page):
    """Gradio words its own controls in the browser's language, some always in English."""
    pg = open_page(locale="en-US")
    for tab in ("批量提问", "文档与索引", "问答"):
        pg.get_by_role("tab", name=tab).click()
        pg.wait_for_timeout(300)
        visible = pg.evaluate("document.body.innerText")
        for english in ("Drop File Here", "Click to Upload", "- or -", "common."):
            assert english not in visible, (tab, english)
        names = pg.evaluate("""() => [...document.querySelectorAll('[aria-label]')]
            .map(e => e.getAttribute('aria-label')).filter(n => /[A-Za-z]{3,}/.test(n))""")
        assert names == [], tab


def test_answer_sentence_is_marked_first(open_page):
    for scheme in ("light", "dark"):
        pg = open_page(scheme=scheme)
        _ask(pg, "管办评 是什么")
        reply = pg.locator(".pqa-reply").last
        marks = reply.locator("mark")
        assert marks.first.get_attribute("class") == "pqa-strong" and marks.first.inner_text().startswith(ANSWER)
        assert reply.locator("mark.pqa-strong").count() == 1  # one strong mark, on the answer sentence
        assert marks.first.inner_text().count("。") == 1  # one sentence, not the passage around it
        assert reply.locator(".pqa-related mark").count() == 0  # the other passages are not marked
        first_card = reply.locator(".pqa-card").first
        assert first_card.locator(".pqa-head").inner_text().startswith("答案")
        assert "corpus/" not in reply.inner_text() and "[" not in reply.inner_text()  # no server path, no offsets
        assert "pudong-government-innovation-report.txt" in first_card.locator(".pqa-file").inner_text()
        _shot(pg, f"screenshot-{scheme}")


def test_not_found_and_unsure_look_different(open_page):
    pg = open_page()
    _ask(pg, "明天去北京的高铁票怎么买")
    banner = pg.locator(".pqa-warn").first
    assert "报告中没有找到可靠的答案" in banner.inner_text()
    box = banner.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= DESKTOP["height"]  # the banner is on screen
    details = pg.locator("#chatbot details.pqa-more")
    assert "最接近的段落" in details.locator("summary").inner_text()
    assert not details.evaluate("d => d.open") and pg.locator("#chatbot mark").count() == 0
    _ask(pg, "挂职学习有什么收获")  # close passages, but too little of the question in them to confirm
    unsure = pg.locator(".pqa-reply.pqa-unsure")
    assert "未确认" in unsure.locator(".pqa-note").inner_text()
    card = unsure.locator(".pqa-card").first
    assert card.evaluate("c => getComputedStyle(c).borderTopStyle") == "dashed"
    assert "可能相关" in card.inner_text() and "未确认是否回答" in card.inner_text()
    assert unsure.locator("mark").count() == 0 and "置信度" not in unsure.inner_text()
    unsure.scroll_into_view_if_needed()
    _shot(pg, "screenshot-unsure")


def test_follow_up_carries_whole_terms(open_page):
    pg = open_page()
    _ask(pg, "浦东新区有几个功能区域")
    _ask(pg, "它的核心是什么")
    assert "检索:浦东新区 功能区域 的核心是什么" in pg.locator(".pqa-query").last.inner_text()


def test_phone_answer_lands_on_question(open_page):
    pg = open_page(viewport=PHONE, scheme="dark")
    box = pg.locator("#question textarea").bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"]  # the input is on the first screen
    _shot(pg, "screenshot-phone-start")
    _ask(pg, "浦东综合配套改革是哪一年批准的")
    _ask(pg, "行政效能和行政效率有什么区别")
    last = pg.locator(".pqa-reply").last
    assert last.bounding_box()["width"] >= 340  # bubbles use the phone's width
    # nothing sits on top of the reply's first line or the first card's text
    for sel in (".pqa-query", ".pqa-passage"):
        covered = last.locator(sel).first.evaluate("""e => { const r = e.getBoundingClientRect();
            const hit = document.elementFromPoint(r.left + 8, r.top + 6); return !e.contains(hit) && hit !== e; }""")
        assert not covered, sel
    _shot(pg, "screenshot-phone")


def test_example_click_answers(open_page):
    pg = open_page()
    pg.get_by_text("功能区域管理体制是什么", exact=True).first.click()
    pg.wait_for_function("document.querySelectorAll('.pqa-card').length > 0", timeout=60000)
    assert "功能区域管理体制的最大特色" in pg.locator(".pqa-card").first.inner_text()


# ---------------------------------------------------------------- the source panel


def test_citation_opens_the_source_beside_the_chat(open_page, browser):
    pg = open_page()
    _ask(pg, "管办评 是什么")
    cite = pg.locator(".pqa-answer a.pqa-cite").last
    assert cite.inner_text().startswith("《镇政府干部到上海浦东挂职的学习报告》 › 二、")
    pages = len(pg.context.pages)
    cite.click()
    pg.wait_for_function("window.pqaSourceShown >= 1", timeout=10000)
    assert len(pg.context.pages) == pages  # in the page, not a new tab
    panel, chat = pg.locator("#source-col").bounding_box(), pg.locator("#chat-col").bounding_box()
    assert panel["x"] >= chat["x"] + chat["width"] - 1 and panel["y"] < DESKTOP["height"]  # beside the chat
    assert panel["y"] >= 0 and panel["y"] + panel["height"] <= DESKTOP["height"]  # all of it in the window
    source = pg.locator("#pqa-source")
    assert "(二)拓展公共服务的职能 › 第8段" in source.locator(".where").inner_text()
    assert "pudong-government-innovation-report.txt" in source.inner_text() and "corpus/" not in source.inner_text()
    target = source.locator("#pqa-target")
    assert target.get_attribute("class") == "pqa-strong" and target.inner_text().startswith(ANSWER)
    text_box, mark = source.locator(".pqa-src-text").bounding_box(), target.bounding_box()
    assert text_box["y"] <= mark["y"] and mark["y"] + 20 <= text_box["y"] + text_box["height"]  # scrolled to it
    lines = source.locator(".pqa-src-text p").count()
    source.get_by_role("button", name="显示全文").click()
    pg.wait_for_function(f"document.querySelectorAll('#pqa-source .pqa-src-text p').length > {lines}")
    assert source.locator("#pqa-target").is_visible()
    _shot(pg, "screenshot-source")
    pg.keyboard.press("Escape")
    assert not pg.locator("#source-col").is_visible()
    assert pg.evaluate("document.activeElement.classList.contains('pqa-cite')")  # back where the reader was


def test_source_on_a_phone_covers_the_page_at_the_answer(open_page):
    pg = open_page(viewport=PHONE, scheme="dark")
    _ask(pg, "管办评 是什么")
    pg.locator(".pqa-answer a.pqa-cite").last.click()
    pg.wait_for_function("window.pqaSourceShown >= 1", timeout=10000)
    panel = pg.locator("#source-col").bounding_box()
    assert panel["x"] <= 1 and panel["width"] >= PHONE["width"] - 2 and panel["height"] >= PHONE["height"] - 2
    mark = pg.locator("#pqa-target").bounding_box()
    assert mark["y"] >= 0 and mark["y"] + 20 <= PHONE["height"]  # the answer is on the screen
    assert pg.locator("#pqa-source-close").bounding_box()["y"] < 80
    _shot(pg, "screenshot-phone-source")
    if AXE.exists():
        assert _axe(pg) == [], "the source panel on a phone"
    pg.locator("#pqa-source-close").click()
    assert not pg.locator("#source-col").is_visible()


def test_doc_link_opens_the_whole_document_at_the_answer(open_page):
    pg = open_page(viewport=PHONE)
    _ask(pg, "管办评 是什么")
    href = pg.locator(".pqa-answer a.pqa-cite").last.get_attribute("href")
    assert "corpus" not in href and href.endswith("#pqa-target")
    doc = open_page(viewport=PHONE, path=href.lstrip("/"))
    doc.locator("main").wait_for()
    mark = doc.locator("#pqa-target")
    mark.wait_for()
    assert mark.inner_text().startswith(ANSWER)
    doc.wait_for_function("() => { const r = document.getElementById('pqa-target').getBoundingClientRect();"
                          " return r.top >= 0 && r.top < innerHeight - 20; }", timeout=5000)
    assert doc.locator("main p").count() > 20  # the whole document


# ---------------------------------------------------------------- copy, feedback, clearing


def test_copy_gives_text_with_the_citation(open_page):
    pg = open_page()
    _ask(pg, "“管办评”里的“评”指什么")
    card = pg.locator(".pqa-card").first
    card.locator(".pqa-copy").click()
    pg.wait_for_function("window.pqaLastCopy !== undefined")
    copied = pg.evaluate("navigator.clipboard.readText()")
    assert "<" not in copied and "——《镇政府干部到上海浦东挂职的学习报告》" in copied
    assert copied.startswith("答案 (置信度 ")  # the answer sentence and how sure, first
    assert re.search(r"第8段 · pudong-government-innovation-report\.txt \[\d+–\d+\]$", copied)  # offsets kept
    button = pg.locator("#copy-all")
    for _ in range(2):  # the button says it copied, then reads 复制对话 again
        button.click()
        pg.wait_for_function("document.querySelector('#copy-all').innerText === '已复制'", timeout=5000)
        pg.wait_for_function("document.querySelector('#copy-all').innerText === '复制对话'", timeout=5000)
    copied = pg.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("问: “管办评”里的“评”指什么\n\n答:\n") and "<div" not in copied


def test_thumbs_are_recorded_shown_and_kept_across_reload(open_page, app_server):
    store = Path(app_server[2]) / "data" / "feedback.jsonl"
    log = Path(app_server[2]) / "app.log"
    before = len(store.read_text(encoding="utf-8").splitlines()) if store.exists() else 0
    pg = open_page()
    _ask(pg, "浦东综合配套改革是哪一年批准的")
    _ask(pg, "市民中心有什么作用")
    pg.locator("#chatbot button[title='有帮助']").last.click()
    pg.wait_for_function("document.querySelector('#feedback-status').innerText.includes('已记录')", timeout=10000)
    receipt = pg.locator("#feedback-status p").bounding_box()  # where the user is looking: inside the window
    assert receipt and receipt["y"] >= 0 and receipt["y"] + receipt["height"] <= DESKTOP["height"]
    deadline = time.time() + 15
    while time.time() < deadline and (not store.exists() or len(store.read_text().splitlines()) <= before):
        time.sleep(0.2)
    entry = json.loads(store.read_text(encoding="utf-8").splitlines()[-1])
    assert entry["rating"] == "up" and entry["question"] == "市民中心有什么作用" and entry["time"]
    assert "市民中心的建立" in entry["results"][0]["text"]
    assert "output values" not in log.read_text(encoding="utf-8")  # no Gradio warning about return values

    pg.reload(wait_until="domcontentloaded")
    pg.wait_for_function("document.querySelectorAll('.pqa-reply').length === 2", timeout=30000)
    pg.wait_for_selector("#chatbot button[title='已评价:有帮助']", timeout=10000)  # the vote is still shown
    # the latest question is in view, not the oldest
    pg.wait_for_function("""() => { const q = [...document.querySelectorAll('#chatbot [data-testid=user]')].pop();
        const c = document.querySelector('#chatbot').getBoundingClientRect(), r = q.getBoundingClientRect();
        return q.innerText.includes('市民中心') && r.top >= c.top - 1 && r.bottom <= c.bottom; }""", timeout=10000)


def test_clearing_the_conversation_asks_and_lasts(open_page):
    pg = open_page()
    _ask(pg, "东沟中学")
    assert not pg.locator("#chatbot .icon-button-wrapper.top-panel").is_visible()  # one way to clear
    pg.locator("#clear").click()
    confirm = pg.locator("#clear-confirm")
    confirm.wait_for(timeout=10000)
    assert "不能恢复" in pg.locator("#clear-box").inner_text()
    _confirmation_in_view(pg, "#clear-box", DESKTOP)
    pg.keyboard.press("Escape")  # Esc is 取消
    confirm.wait_for(state="hidden", timeout=10000)
    pg.wait_for_function("document.activeElement && document.activeElement.id === 'clear'", timeout=5000)
    assert pg.locator(".pqa-reply").count() == 1
    pg.locator("#clear").click()
    confirm.click()
    pg.wait_for_function("document.querySelectorAll('.pqa-reply').length === 0", timeout=10000)
    pg.reload(wait_until="domcontentloaded")
    pg.wait_for_function("document.querySelector('#question textarea:not([disabled])')", timeout=30000)
    assert pg.locator(".pqa-reply").count() == 0  # gone for good


def test_clearing_on_a_phone_asks_in_readable_lines(open_page):
    pg = open_page(viewport=PHONE)
    _ask(pg, "东沟中学")
    pg.locator("#clear").click()
    pg.locator("#clear-confirm").wait_for(timeout=10000)
    _confirmation_in_view(pg, "#clear-box", PHONE)
    words = pg.locator("#clear-box p").first.bounding_box()
    assert words["width"] > 0.6 * PHONE["width"] and words["height"] < 80  # two or three lines, not a column


def _confirmation_in_view(pg, box: str, viewport: dict) -> None:
    """The question is on screen when it appears, with the safe answer (取消) focused."""
    pg.wait_for_function(f"""() => {{ const r = document.querySelector('{box}').getBoundingClientRect();
        return r.top >= 0 && r.bottom <= {viewport["height"]} + 1; }}""", timeout=5000)
    assert pg.evaluate("document.activeElement.textContent.trim()") == "取消"


# ---------------------------------------------------------------- batch


def _batch(pg, path: Path) -> None:
    pg.get_by_role("tab", name="批量提问").click()
    pg.locator("#batch-upload input[type=file]").set_input_files(str(path))
    pg.locator("#batch-run").click()
    pg.wait_for_function("document.querySelector('#batch-summary').innerText.includes('共')", timeout=60000)
    pg.wait_for_function("document.querySelector('#batch-table').innerText.includes('q1')", timeout=30000)


def test_batch_table_and_its_download_agree(open_page, tmp_path):
    path = tmp_path / "my questions.csv"
    path.write_text("id,question,note\nq1,浦东综合配套改革是哪一年批准的,甲\n\nq2,浦东新区2023年GDP是多少,乙\n"
                    "q3,上海市的市长是谁,丙\n", encoding="utf-8")
    pg = open_page()
    _batch(pg, path)
    assert "共 3 个问题:1 个有答案,0 个未确认,2 个未找到" in pg.locator("#batch-summary").inner_text()
    shown = pg.evaluate("""() => [...document.querySelectorAll('#batch-table tr')]
        .map(tr => [...tr.children].map(c => c.innerText.trim()))""")
    assert shown[0] == ["问题", "是否回答", "答案", "未包含", "段落", "出处", "行", "id", "note"]
    assert [r[1] for r in shown[1:]] == ["是", "否", "否"] and shown[2][2] == "" and "2005年6月21日" in shown[1][2]
    assert shown[1][2] in shown[1][4] and len(shown[1][2]) < len(shown[1][4])  # the answer sentence; its passage
    # the table fits the screen, the user's own columns included: no horizontal scrolling needed
    assert pg.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    note = pg.locator("#batch-table th", has_text="note").bounding_box()
    assert note and note["x"] + note["width"] <= DESKTOP["width"]
    names = pg.locator("#batch-downloads").inner_text()
    assert "my_questions-答案-" in names and "my_questions-全部结果-" in names and ".jsonl" in names, names
    with pg.expect_download() as dl:
        pg.locator("#batch-downloads a[download*='答案']").first.click()
    rows = list(csv.reader(Path(dl.value.path()).read_text(encoding="utf-8-sig").splitlines()))
    assert rows == shown  # the download a user opens in Excel is the table
    _shot(pg, "screenshot-batch")


def test_batch_and_index_on_a_phone_keep_names_and_words_whole(open_page, tmp_path):
    path = tmp_path / "quarterly-review-questions.txt"  # a long name, as people give them
    path.write_text("q1 浦东综合配套改革是哪一年批准的\n上海市的市长是谁\n", encoding="utf-8")
    pg = open_page(viewport=PHONE)
    _batch(pg, path)
    name = pg.locator("#batch-upload .filename")
    assert "quarterly-review-questions.txt" in name.inner_text().replace("\n", "")
    assert name.evaluate("e => e.scrollWidth <= e.clientWidth + 1")  # not cut
    cell = pg.locator("#batch-table td[data-label='是否回答']").first
    assert cell.bounding_box()["height"] < 40  # 是否回答 on one line, not one character a line
    assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    pg.locator("#batch-downloads .filename").first.wait_for(timeout=10000)
    for name in pg.locator("#batch-downloads .filename").all():  # each download's whole name, readable
        assert name.evaluate("""e => { const s = e.querySelector('.stem'), x = e.querySelector('.ext');
            const last = [...s.getClientRects()].pop();  // the extension follows the name's last line
            return s.scrollWidth <= s.clientWidth + 1 && x.getBoundingClientRect().top >= last.top - 2; }""")
        shown = name.inner_text().replace("\n", "")
        assert re.fullmatch(r"quarterly-review-questions-\S+-\d{8}-\d{6}\s?\.(csv|jsonl)", shown)
    _shot(pg, "screenshot-phone-batch")
    if AXE.exists():
        assert _axe(pg) == [], "the batch tab on a phone"
    pg.get_by_role("tab", name="文档与索引").click()
    pg.wait_for_function("document.querySelector('#index-status').innerText.includes('构建时间')", timeout=30000)
    lines = pg.locator("#index-status th, #index-status td:nth-child(n+3)").evaluate_all("""cells => cells.map(c => {
        const r = document.createRange(); r.selectNodeContents(c);
        return [c.innerText, r.getClientRects().length]; })""")
    assert len(lines) >= 10 and all(n == 1 for _, n in lines), lines  # 6931, utf-8, 检索片段: each on one line
    if AXE.exists():
        assert _axe(pg) == [], "the index tab on a phone"


# ---------------------------------------------------------------- documents and the index


def test_index_tab_refuses_broken_uploads_and_names_files(open_page, app_server, tmp_path):
    corpus = Path(app_server[2]) / "corpus"
    before = sorted(p.name for p in corpus.iterdir())
    pg = open_page()
    pg.get_by_role("tab", name="文档与索引").click()
    status = pg.locator("#index-status")
    pg.wait_for_function("document.querySelector('#index-status').innerText.includes('构建时间')", timeout=30000)
    assert "最新" in status.inner_text() and "corpus/" not in status.inner_text()
    (tmp_path / "x.docx").write_bytes(b"PK\x03\x04 not a Word file")
    (tmp_path / "empty.pdf").write_bytes(b"")
    pg.locator("#add-docs input[type=file]").set_input_files([str(tmp_path / "x.docx"), str(tmp_path / "empty.pdf")])
    pg.locator("#add-docs-btn").click()
    pg.wait_for_function("document.querySelector('#index-status').innerText.includes('没有添加任何文档')",
                         timeout=60000)
    text = status.inner_text()
    assert "未添加 x.docx:文件已损坏或不是 Word 文档" in text and "未添加 empty.pdf:文件是空的" in text
    assert sorted(p.name for p in corpus.iterdir()) == before  # nothing left behind

    pg.locator("#remove-doc input").click()
    option = pg.get_by_role("option").first
    label = option.inner_text().strip("✓ \n")
    assert label.startswith("《镇政府干部到上海浦东挂职的学习报告》 (") and "corpus/" not in label
    option.click()
    pg.locator("#remove-doc-btn").click()
    prompt = pg.locator("#remove-text")
    prompt.wait_for(timeout=10000)
    assert f"确认删除 {label}?" in prompt.inner_text() and "pudong-government-innovation-report.txt" in label
    _confirmation_in_view(pg, "#remove-box", DESKTOP)  # asked where the button is, on screen
    pg.locator("#remove-cancel").click()
    pg.locator("#remove-confirm").wait_for(state="hidden", timeout=10000)
    pg.locator("#rebuild").click()
    pg.locator("#rebuild-confirm").wait_for(timeout=10000)  # a full rebuild asks first
    pg.locator("#rebuild-cancel").click()
    pg.locator("#rebuild-confirm").wait_for(state="hidden", timeout=10000)


# ---------------------------------------------------------------- answers people read right (#37)

VIEWS = [(DESKTOP, "light"), (DESKTOP, "dark"), (PHONE, "light")]


@pytest.mark.parametrize(("viewport", "scheme"), VIEWS)
def test_other_words_searched_and_what_each_card_lacks_are_shown(open_page, viewport, scheme):
    pg = open_page(viewport=viewport, scheme=scheme)
    _ask(pg, "浦东新区的GDP是多少")
    reply = pg.locator(".pqa-reply").last
    assert re.search(r"\(GDP ≈ [^)]*生产总值", reply.locator(".pqa-query").inner_text())  # as asked, and what else
    assert "生产总值" in reply.locator("mark.pqa-strong").inner_text()  # answered by the report's own term
    lacks = reply.locator(".pqa-missing")
    assert lacks.count() >= 1 and all(t.startswith("未包含:") and "GDP" in t for t in lacks.all_inner_texts())
    card = lacks.first.locator("xpath=ancestor::div[contains(@class, 'pqa-card')]")
    line, box = lacks.first.bounding_box(), card.bounding_box()
    assert box["x"] <= line["x"] and line["x"] + line["width"] <= box["x"] + box["width"] + 1  # inside its card
    assert reply.locator(".pqa-answer .pqa-missing").count() == 0  # the answer's passage lacks nothing asked
    _shot(pg, f"screenshot-missing-{viewport['width']}-{scheme}")
    if AXE.exists():
        assert _axe(pg) == []


@pytest.mark.parametrize(("viewport", "scheme"), VIEWS)
def test_a_long_question_is_echoed_short_and_its_answer_stays_near(open_page, viewport, scheme):
    pg = open_page(viewport=viewport, scheme=scheme)
    question = "请问" + "浦东新区综合配套改革" * 500 + "是哪一年批准的"  # over 5,000 characters
    box = pg.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    pg.wait_for_function("document.querySelectorAll('.pqa-reply').length > 0", timeout=60000)
    reply = pg.locator(".pqa-reply").last
    echo = reply.locator(".pqa-query")
    assert echo.evaluate("e => e.tagName") == "DETAILS" and not echo.evaluate("e => e.open")
    first = reply.locator(".pqa-card, .pqa-warn, .pqa-note").first
    assert first.bounding_box()["y"] - reply.bounding_box()["y"] < 160  # the answer right below, not 3,000 px on
    echo.locator("summary").click()
    assert echo.evaluate("e => e.open") and echo.locator(".pqa-query-full").inner_text().startswith("请问浦东新区")
    if AXE.exists():
        assert _axe(pg) == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_empty_batch_table_on_a_phone_reads_without_a_stray_colon(open_page, scheme):
    pg = open_page(viewport=PHONE, scheme=scheme)
    pg.get_by_role("tab", name="批量提问").click()
    empty = pg.locator("#batch-table td.pqa-empty")
    assert empty.inner_text().startswith("上传问题文件后")
    assert empty.evaluate("e => getComputedStyle(e, '::before').content") in ("none", "normal")


@pytest.mark.parametrize(("viewport", "scheme"), VIEWS)
def test_batch_progress_shows_no_elapsed_seconds(open_page, viewport, scheme, tmp_path):
    path = tmp_path / "many.txt"
    path.write_text("浦东新区的面积是多少\n管办评是什么\n市民中心有什么作用\n" * 150, encoding="utf-8")
    pg = open_page(viewport=viewport, scheme=scheme)
    pg.get_by_role("tab", name="批量提问").click()
    pg.locator("#batch-upload input[type=file]").set_input_files(str(path))
    pg.locator("#batch-run").click()
    shown = pg.wait_for_function("""() => {
        const t = document.querySelector('#batch-table [data-testid=status-tracker]');
        return t && !t.classList.contains('hide') && t.innerText.includes('已处理') && t.innerText; }""", timeout=60000)
    assert not re.search(r"\d\.\ds|\|", shown.json_value()), shown.json_value()  # 已处理 n / N, no "| 1.6s"
    pg.wait_for_function("document.querySelector('#batch-summary').innerText.includes('共')", timeout=120000)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_build_time_is_in_the_browser_s_own_time_zone(browser, app_server, viewport, scheme):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    ctx = browser.new_context(viewport=viewport, color_scheme=scheme, locale="zh-CN", timezone_id="Asia/Shanghai")
    pg = ctx.new_page()
    pg.goto(app_server[0], wait_until="domcontentloaded")
    pg.get_by_role("tab", name="文档与索引").click()
    when = pg.locator("#index-status time.pqa-time[data-local]")
    when.wait_for(timeout=30000)
    expected = datetime.fromisoformat(when.get_attribute("datetime")).astimezone(ZoneInfo("Asia/Shanghai"))
    assert when.inner_text() == expected.strftime("%Y-%m-%d %H:%M:%S")
    assert "UTC" not in pg.locator("#index-status").inner_text()
    ctx.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_signed_in_on_a_phone_the_question_box_and_its_button_are_on_the_first_screen(open_page, scheme):
    pg = open_page(viewport=PHONE, scheme=scheme)
    banner = '<div class="pqa-whoami" role="status">已登录:alice(读者) · <a href="/logout">退出登录</a></div>'
    pg.evaluate(f"document.querySelector('#whoami').innerHTML = {json.dumps(banner)}")  # what a signed-in page shows
    pg.wait_for_timeout(300)
    for sel in ("#question textarea", "#question button"):
        box = pg.locator(sel).last.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"] - 40, sel  # clear of the bottom edge
