"""The page's replace confirmation in headless Chromium: uploading a revised file under the name of
a document asks first (确认替换), 取消 stores nothing, 确认替换 replaces it and the status says so.
Uses ``test_browser``'s browser and page (the served app, Chinese locale)."""

import re

import pytest
from test_browser import browser, open_page  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_the_page_asks_before_replacing_a_document(open_page, app_server, tmp_path):  # noqa: F811
    corpus = app_server[2] / "corpus"
    notice = tmp_path / "会议通知.txt"
    notice.write_text("会议通知\n\n本周例会改在周三下午三点举行。\n", encoding="utf-8")
    pg = open_page()
    pg.get_by_role("tab", name="文档与索引").click()
    upload = pg.locator("#add-docs input[type=file]")
    upload.set_input_files(str(notice))
    pg.locator("#add-docs-btn").click()
    pg.wait_for_function("document.querySelector('#index-status').innerText.includes('已添加 1 个文档')",
                         timeout=60000)
    # the page empties the upload box once the add is done: attach the revised file after that, not before
    pg.wait_for_function("!document.querySelector('#add-docs').innerText.includes('会议通知')", timeout=30000)
    notice.write_text("会议通知\n\n本周例会改在周五下午三点举行。\n", encoding="utf-8")
    upload.set_input_files(str(notice))
    pg.locator("#add-docs-btn").click()
    box = pg.locator("#replace-box")
    box.wait_for(state="visible", timeout=30000)
    assert re.search(r"确认替换 会议通知\.txt \(corpus/会议通知\.txt\)", box.inner_text())
    pg.locator("#replace-cancel").click()
    box.wait_for(state="hidden", timeout=10000)
    assert "周三" in (corpus / "会议通知.txt").read_text(encoding="utf-8")  # nothing stored
    pg.locator("#add-docs-btn").click()
    box.wait_for(state="visible", timeout=30000)
    pg.locator("#replace-confirm").click()
    pg.wait_for_function("document.querySelector('#index-status').innerText.includes('已替换 1 个文档')",
                         timeout=60000)
    assert "周五" in (corpus / "会议通知.txt").read_text(encoding="utf-8")
    assert sorted(p.name for p in corpus.iterdir() if "会议通知" in p.name) == ["会议通知.txt"]
    pg.reload(wait_until="domcontentloaded")  # removed as a user would: the served index as it was
    pg.get_by_role("tab", name="文档与索引").click()
    pg.locator("#remove-doc input").click()
    pg.get_by_role("option", name=re.compile("会议通知")).click()
    pg.locator("#remove-doc-btn").click()
    pg.locator("#remove-confirm").click()
    pg.wait_for_function("document.querySelector('#index-status').innerText.includes('已删除')", timeout=60000)
    assert not (corpus / "会议通知.txt").exists()
