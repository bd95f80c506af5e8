"""The real page in headless Chromium: start app.py on a free port, ask, read what renders.

Contrast is checked with axe-core's colour-contrast rule (``npm ci`` installs it into
node_modules/), in the light and the dark colour scheme. Screenshots go to test-artifacts/
(and, with PUDONG_QA_SCREENSHOTS=1, to docs/ for the README).
"""

import csv
import json
import os
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

    def _open(viewport=DESKTOP, scheme="light"):
        ctx = browser.new_context(viewport=viewport, color_scheme=scheme,
                                  permissions=["clipboard-read", "clipboard-write"])
        contexts.append(ctx)
        pg = ctx.new_page()
        pg.goto(app_server[0], wait_until="domcontentloaded")
        pg.locator("#question textarea").wait_for(timeout=60000)
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
    # the page then scrolls to the start of the new reply
    pg.wait_for_function("""() => { const r = [...document.querySelectorAll('.pqa-reply')].pop()
        .getBoundingClientRect(); return r.top >= 0 && r.top < window.innerHeight / 2; }""", timeout=5000)


def _shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if os.environ.get("PUDONG_QA_SCREENSHOTS"):
        pg.screenshot(path=str(ROOT / "docs" / f"{name}.png"))


def _contrast_violations(pg) -> list[str]:
    pg.evaluate("document.querySelectorAll('#chatbot details').forEach(d => d.open = true)")
    pg.add_script_tag(path=str(AXE))
    result = pg.evaluate("""async () => {
        const r = await axe.run({include: [['#chatbot'], ['#welcome']]},
                                {runOnly: {type: 'rule', values: ['color-contrast']}});
        return {violations: r.violations.flatMap(v => v.nodes.map(n => n.html.slice(0, 80) + ' :: '
                    + n.any.map(a => a.message).join(' '))), passes: r.passes.flatMap(v => v.nodes).length};
    }""")
    assert result["passes"] > 5  # the check really looked at the cards
    return result["violations"]


@pytest.mark.skipif(not AXE.exists(), reason="axe-core not installed (npm ci)")
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_contrast_answer_and_no_answer(open_page, scheme):
    pg = open_page(scheme=scheme)
    assert pg.evaluate("document.body.classList.contains('dark')") == (scheme == "dark")
    _ask(pg, "明天去北京的高铁票怎么买")
    _ask(pg, "功能区域管理体制是什么")
    assert pg.locator(".pqa-card mark").count() >= 1 and pg.locator(".pqa-warn").count() == 1
    _shot(pg, "screenshot-dark" if scheme == "dark" else "screenshot-light")
    assert _contrast_violations(pg) == []


def test_first_screen_and_no_answer_reply(open_page):
    pg = open_page()
    assert pg.evaluate("document.documentElement.lang") == "zh-CN"
    assert pg.evaluate("document.activeElement.closest('#question') !== null")
    assert "《镇政府干部到上海浦东挂职的学习报告》" in pg.locator("#welcome").inner_text()
    from pudong_qa.web import EXAMPLES

    for q in EXAMPLES:  # every example visible above the fold at 1280×900
        box = pg.get_by_text(q, exact=True).first.bounding_box()
        assert box and box["y"] + box["height"] <= DESKTOP["height"], q
    _ask(pg, "明天去北京的高铁票怎么买")
    banner = pg.locator(".pqa-warn").first
    assert "报告中没有找到可靠的答案" in banner.inner_text()
    box = banner.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= DESKTOP["height"]  # the banner is on screen
    details = pg.locator("#chatbot details.pqa-more")
    assert "可能相关的段落" in details.locator("summary").inner_text()
    assert not details.evaluate("d => d.open") and pg.locator("#chatbot mark").count() == 0
    assert "置信度" not in pg.locator(".pqa-reply").inner_text()


def test_phone_answer_lands_on_reply(open_page):
    pg = open_page(viewport=PHONE, scheme="dark")
    box = pg.locator("#question textarea").bounding_box()
    assert box["y"] + box["height"] <= PHONE["height"]  # the input is on the first screen
    _shot(pg, "screenshot-phone-start")
    _ask(pg, "浦东综合配套改革是哪一年批准的")
    _ask(pg, "行政效能和行政效率有什么区别")
    last = pg.locator(".pqa-reply").last
    # the view shows the start of the new reply
    pg.wait_for_function("""h => { const r = [...document.querySelectorAll('.pqa-reply')].pop()
        .getBoundingClientRect(); return r.top >= 0 && r.top < h / 2; }""", arg=PHONE["height"], timeout=5000)
    top = last.bounding_box()
    assert top["width"] >= 340  # bubbles use the phone's width
    # nothing sits on top of the reply's first line or the first card's text
    for sel in (".pqa-query", ".pqa-passage"):
        covered = last.locator(sel).first.evaluate("""e => { const r = e.getBoundingClientRect();
            const hit = document.elementFromPoint(r.left + 8, r.top + 6); return !e.contains(hit) && hit !== e; }""")
        assert not covered, sel
    _shot(pg, "screenshot-phone")


def test_citation_opens_source_and_copy_gives_text(open_page):
    pg = open_page()
    _ask(pg, "“管办评”里的“评”指什么")
    card = pg.locator(".pqa-card").first
    cite = card.locator("a.pqa-cite")
    assert cite.inner_text().startswith("《镇政府干部到上海浦东挂职的学习报告》 › 二、")
    with pg.context.expect_page() as new:
        cite.click()
    doc = new.value
    doc.wait_for_load_state("domcontentloaded")
    assert "(二)拓展公共服务的职能" in doc.locator(".where").inner_text()
    assert "第8段" in doc.locator(".where").inner_text()
    assert doc.locator("#here mark").count() == 1 and doc.locator("p.para").count() >= 2
    doc.close()

    card.locator(".pqa-copy").click()
    pg.wait_for_function("window.pqaLastCopy !== undefined")
    copied = pg.evaluate("navigator.clipboard.readText()")
    assert "<" not in copied and "——《镇政府干部到上海浦东挂职的学习报告》" in copied
    assert copied.split("\n")[0] in card.locator(".pqa-passage").inner_text()

    pg.locator("#copy-all").click()
    pg.wait_for_function("navigator.clipboard.readText().then(t => t.startsWith('问: '))", timeout=5000)
    copied = pg.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("问: “管办评”里的“评”指什么\n\n答:\n") and "<div" not in copied


def test_thumbs_lands_in_store_and_reload_keeps_conversation(open_page, app_server):
    store = Path(app_server[2]) / "data" / "feedback.jsonl"
    before = len(store.read_text(encoding="utf-8").splitlines()) if store.exists() else 0
    pg = open_page()
    _ask(pg, "市民中心有什么作用")
    pg.locator("#chatbot button[aria-label='Like'], #chatbot button[title='Like']").last.click()
    deadline = time.time() + 15
    while time.time() < deadline and (not store.exists() or len(store.read_text().splitlines()) <= before):
        time.sleep(0.2)
    entry = json.loads(store.read_text(encoding="utf-8").splitlines()[-1])
    assert entry["rating"] == "up" and entry["question"] == "市民中心有什么作用" and entry["time"]
    assert "市民中心的建立" in entry["results"][0]["text"]

    pg.reload(wait_until="domcontentloaded")
    pg.wait_for_function("document.querySelectorAll('.pqa-reply').length === 1", timeout=30000)
    assert "市民中心的建立" in pg.locator(".pqa-card").first.inner_text()
    pg.locator("#clear").click()
    pg.wait_for_function("document.querySelectorAll('.pqa-reply').length === 0", timeout=10000)


def test_example_click_answers(open_page):
    pg = open_page()
    pg.get_by_text("功能区域管理体制是什么", exact=True).first.click()
    pg.wait_for_function("document.querySelectorAll('.pqa-card').length > 0", timeout=60000)
    assert "功能区域管理体制的最大特色" in pg.locator(".pqa-card").first.inner_text()


def test_batch_table_and_downloads(open_page, tmp_path):
    path = tmp_path / "my questions.csv"
    path.write_text("id,question,note\nq1,浦东综合配套改革是哪一年批准的,甲\n\nq2,明天去北京的高铁票怎么买,乙\n",
                    encoding="utf-8")
    pg = open_page()
    pg.get_by_role("tab", name="批量 Batch").click()
    pg.locator("#batch-upload input[type=file]").set_input_files(str(path))
    pg.get_by_role("button", name="批量提问").click()
    pg.wait_for_function("document.querySelector('#batch-summary').innerText.includes('共 2 个问题')", timeout=60000)
    # the summary and the table are separate outputs; the table may render a moment later
    pg.wait_for_function("document.querySelector('#batch-table').innerText.includes('q1')", timeout=30000)
    table = pg.locator("#batch-table")
    text = table.inner_text()
    assert "问题" in text and "是否回答" in text and "q1" in text and "甲" in text
    assert "2005年6月21日" in text
    # the table fits the screen, extra CSV columns included: no horizontal scrolling needed
    assert pg.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    note = table.get_by_text("note", exact=True).first.bounding_box()
    assert note and note["x"] + note["width"] <= DESKTOP["width"]
    names = pg.locator("#batch-downloads").inner_text()
    assert "my_questions-answers-" in names and ".csv" in names and ".jsonl" in names, names
    with pg.expect_download() as dl:
        pg.locator("#batch-downloads a[href*='.csv']").first.click()
    rows = list(csv.DictReader(Path(dl.value.path()).read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0]["id"] == "q1" and rows[0]["note"] == "甲"
    _shot(pg, "screenshot-batch")


def test_index_tab_local_time_and_confirmation(open_page):
    pg = open_page()
    pg.get_by_role("tab", name="索引 Index").click()
    status = pg.locator("#index-status")
    pg.wait_for_function("document.querySelector('#index-status').innerText.includes('构建时间')", timeout=30000)
    assert "(UTC" in status.inner_text() and "最新" in status.inner_text()
    pg.locator("#rebuild").click()
    pg.locator("#rebuild-confirm").wait_for(timeout=10000)  # a full rebuild asks first
    pg.locator("#rebuild-cancel").click()
    pg.locator("#rebuild-confirm").wait_for(state="hidden", timeout=10000)
