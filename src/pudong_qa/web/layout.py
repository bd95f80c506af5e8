"""The page's layout and its events: ``build_demo(service)`` puts the three tabs (chat with the
source panel beside it, batch, documents and index) on one Gradio page and connects each control
to a ``ChatPage`` handler. Actions that lose something (clear the conversation, delete a document,
rebuild everything) ask first, next to the button that started them."""

from __future__ import annotations

import gradio as gr

from ..rendering import batch_table_html, render
from ..service import QAService
from ..settings import Settings
from .access import PageAccess
from .handlers import UPLOAD_LIMIT_BYTES, ChatPage
from .text import as_text

# Each example is answered correctly by its first result (tests/test_app.py checks every one).
EXAMPLES = {
    "浦东综合配套改革是哪一年批准的": "浦东新区综合配套改革是2005年6月21日经国务院批准进行的",
    "浦东新区什么时候开始开发开放": "1990年4月18日,党中央、国务院正式宣布开发、开放浦东",
    "功能区域管理体制是什么": "功能区域管理体制的最大特色在于探索构建了一种互补型、高效率的行政管理架构",
    "行政效能和行政效率有什么区别": "行政效能是行政效率、行政质量及相关制度的总和",
    "市民中心有什么作用": "市民中心的建立,旨在创新政府管理的理念和实现方式",
}
HISTORY_KEY = "pudong-qa-conversation"  # where the browser keeps the conversation across reloads
VOTES_KEY = "pudong-qa-votes"  # and the thumbs given on its replies
SHOWN_KEY = "pudong-qa-shown"  # and what each reply showed, for the feedback store (ChatPage.remember)
SHOW_LAST_JS = "() => window.pqaShowLast && window.pqaShowLast()"


def example_text(evt: gr.SelectData) -> str:
    """The question of a clicked example (Gradio passes the example message)."""
    value = evt.value
    return as_text(value) if not isinstance(value, dict) else str(value.get("text", ""))


def show(visible: bool):
    """An event handler that shows or hides a (confirmation) row."""
    return lambda: gr.update(visible=visible)


def confirmation(name: str, ok: str, text: str = "") -> tuple[gr.Column, gr.Markdown, gr.Button, gr.Button]:
    """A hidden box asking before something is lost: its text, the red ``ok`` and 取消 (ids
    ``NAME-box``, ``NAME-text``, ``NAME-confirm``, ``NAME-cancel``). page.js brings it into view
    and focuses 取消 (``pqa-cancel``) when it appears."""
    with gr.Column(visible=False, elem_id=f"{name}-box", elem_classes="pqa-confirm") as box:
        words = gr.Markdown(text, elem_id=f"{name}-text")
        with gr.Row():
            yes = gr.Button(ok, variant="stop", elem_id=f"{name}-confirm", size="sm")
            no = gr.Button("取消", elem_id=f"{name}-cancel", elem_classes="pqa-cancel", size="sm")
    return box, words, yes, no


def build_demo(service: QAService, settings: Settings | None = None, access: PageAccess | None = None) -> gr.Blocks:
    """The page's layout and events over ``service``; ``access`` says who uses it (web/access.py).
    The index tab appears once the page knows its user is an editor."""
    settings = settings or service.settings
    page = ChatPage(service, access)
    with gr.Blocks(title="浦东报告问答", analytics_enabled=False) as demo:
        saved = gr.BrowserState([], storage_key=HISTORY_KEY)
        votes = gr.BrowserState({}, storage_key=VOTES_KEY)
        whoami = gr.HTML("", elem_id="whoami")
        welcome = gr.Markdown(page.welcome(), elem_id="welcome")
        with gr.Tab("问答", elem_id="tab-chat"):
            chatbot, box = chat_tab(page, settings, saved, votes)
        with gr.Tab("批量提问", elem_id="tab-batch"):
            batch_tab(page, settings)
        with gr.Tab("文档与索引", elem_id="tab-index", visible=False) as index_tab_:
            changed = index_tab(page, settings, demo)
        for event in changed:  # the header names the documents known now
            event.then(page.welcome, None, welcome, api_name=False)
        demo.load(page.welcome, None, welcome, api_name=False)
        demo.load(page.index_tab, None, index_tab_, api_name=False, show_progress="hidden")
        demo.load(page.whoami, None, whoami, api_name=False, show_progress="hidden")
        demo.load(page.restore, [saved, votes], [chatbot, box], api_name=False).then(
            None, js="() => { window.pqaFocusQuestion(); window.pqaShowLast(); }")
    return demo


def chat_tab(page: ChatPage, settings: Settings, saved: gr.BrowserState,
             votes: gr.BrowserState) -> tuple[gr.Chatbot, gr.Textbox]:
    """The conversation, the question box (usable once the kept conversation is back) and its
    controls, and the source panel beside them."""
    limit = settings.concurrency
    shown = gr.BrowserState({}, storage_key=SHOWN_KEY)  # reply index -> what it showed
    fresh = gr.State(None)  # what the reply just added showed, until remembered
    with gr.Row(elem_id="chat-row", equal_height=False):
        with gr.Column(scale=3, elem_id="chat-col"):
            chatbot = gr.Chatbot(label="对话", show_label=False, elem_id="chatbot",
                                 height="min(600px, calc(100dvh - 330px))", min_height=300, autoscroll=False,
                                 layout="panel", buttons=[],
                                 examples=[{"text": q} for q in EXAMPLES], placeholder="点击示例或在下方输入问题",
                                 feedback_options=("Like", "Dislike"))
            box = gr.Textbox(label="问题", placeholder="输入问题,例如:功能区域管理体制是什么", elem_id="question",
                             show_label=False, submit_btn="提问", lines=1, max_lines=4, interactive=False)
            with gr.Row(elem_id="chat-tools"):
                top_k = gr.Slider(1, settings.max_top_k, value=settings.top_k, step=1, label="显示结果数", scale=3,
                                  elem_id="top-k")
                copy_all = gr.Button("复制对话", scale=1, elem_id="copy-all", size="sm")
                clear = gr.Button("清空对话…", scale=1, elem_id="clear", size="sm")
            clear_row, _, clear_ok, clear_cancel = confirmation(
                "clear", "确认清空", "**确认清空对话?** 对话和评价将从这个浏览器中删除,不能恢复。")
            noted = gr.HTML("", elem_id="feedback-status")
        with gr.Column(scale=2, elem_id="source-col", min_width=320):
            gr.HTML(render("source_panel.html"))
    io_ = ([box, chatbot, top_k], [box, chatbot, fresh])  # the API's /chat: (question, history, k) -> (box, history)
    asked = box.submit(page.answer, *io_, api_name="chat", concurrency_limit=limit)
    picked = chatbot.example_select(example_text, None, box, api_name=False).then(
        page.answer, *io_, api_name=False, concurrency_limit=limit)
    for event in (asked, picked):
        event.then(None, js=SHOW_LAST_JS)
        event.then(lambda h: h, chatbot, saved, api_name=False)
        event.then(ChatPage.remember, [chatbot, fresh, shown], shown, api_name=False)
    for trigger in (box.submit, chatbot.example_select):  # remember how many replies were shown
        trigger(None, js="() => window.pqaCount()")
    clear.click(show(True), None, clear_row, api_name=False)
    clear_cancel.click(show(False), None, clear_row, api_name=False)
    clear_ok.click(lambda: ("", gr.update(value=[], feedback_value=[]), [], {}, {}, None, gr.update(visible=False),
                            ""), None, [box, chatbot, saved, votes, shown, fresh, clear_row, noted], api_name=False)
    copy_all.click(None, [chatbot], None, js="(h) => window.pqaCopyAll(h)")
    chatbot.like(page.feedback, [chatbot, votes, shown, fresh], [votes, noted], api_name=False)
    return chatbot, box


def batch_tab(page: ChatPage, settings: Settings) -> None:
    """Upload a question file, see the table, download it (and every ranked result)."""
    gr.Markdown("上传问题文件:`.txt` 每行一个问题;`.csv` 含“问题”列 (或 `question`;其他列如编号、备注会原样带到"
                "结果里,下载的答案表也可以再次上传);`.jsonl` 每行含“问题”(或 `question`)字段。UTF-8 或 GBK 编码,"
                f"最大 {UPLOAD_LIMIT_BYTES // 2**20} MB。空行不计。\n\n"
                "可下载三个文件:**答案表** (与屏幕上的表相同)、**全部结果** (每题的所有段落、得分和出处)、"
                "**结果数据** (JSONL,供程序使用)。", elem_id="batch-help")
    with gr.Row():  # side by side on a screen, one above the other on a phone
        upload = gr.File(label="问题文件", elem_id="batch-upload", file_types=[".txt", ".csv", ".jsonl"],
                         type="filepath", scale=3, min_width=320)
        batch_k = gr.Slider(1, settings.max_top_k, value=settings.top_k, step=1, label="每题结果数", scale=2,
                            min_width=320, elem_id="batch-k")
    run = gr.Button("批量提问", variant="primary", elem_id="batch-run")
    summary = gr.Markdown(elem_id="batch-summary")
    empty = batch_table_html(ChatPage.batch_headers(), [])
    table = gr.HTML(empty, elem_id="batch-table")
    downloads = gr.File(label="下载:答案表 · 全部结果 · 结果数据", file_count="multiple", elem_id="batch-downloads")
    upload.change(lambda: ("", empty, None), None, [summary, table, downloads], api_name=False)
    run.click(page.batch_view, [upload, batch_k], [summary, table, downloads], api_name="batch",
              concurrency_limit=2, show_progress_on=table)  # one progress bar, over the table


def index_tab(page: ChatPage, settings: Settings, demo: gr.Blocks) -> list:
    """The documents and the index: add (asking first when an upload would replace a document),
    remove, rebuild (both ask first), each shown as they are when the page opens. Returns the events
    after which the set of documents may have changed."""
    status = gr.Markdown(elem_id="index-status")
    with gr.Row():
        new_docs = gr.File(label=f"添加文档 (.txt .md .docx .pdf .html,扫描图片 .png .jpg .tif;可多选,每个最大 "
                                 f"{settings.max_file_mb:g} MB)",
                           file_count="multiple", type="filepath", elem_id="add-docs", scale=3)
        with gr.Column(scale=2):
            add_btn = gr.Button("添加并索引", variant="primary", elem_id="add-docs-btn")
            replace_box, replace_text, replace_ok, replace_cancel = confirmation("replace", "确认替换")
            chosen = gr.Dropdown(choices=page.document_choices(), value=None, label="删除文档", elem_id="remove-doc",
                                 allow_custom_value=False)
            remove_btn = gr.Button("删除…", elem_id="remove-doc-btn")
            remove_box, remove_text, remove_ok, remove_cancel = confirmation("remove", "确认删除")
    with gr.Row():
        refresh = gr.Button("刷新", elem_id="refresh")
        rebuild_btn = gr.Button("全部重建…", variant="stop", elem_id="rebuild")
    confirm_row, _, confirm, cancel = confirmation(
        "rebuild", "确认重建", "**确认重建?** 重新读取全部文档并计算向量,需要一段时间;期间问答继续使用原索引。")

    def refreshed_choices():
        return gr.update(choices=page.document_choices(), value=None)

    refresh.click(page.index_status, None, status, api_name="status").then(
        refreshed_choices, None, chosen, api_name=False)
    demo.load(page.index_status, None, status, api_name=False).then(refreshed_choices, None, chosen, api_name=False)
    rebuild_btn.click(show(True), None, confirm_row, api_name=False)
    cancel.click(show(False), None, confirm_row, api_name=False)
    confirm.click(show(False), None, confirm_row, api_name=False).then(
        page.rebuild, None, status, api_name="rebuild", concurrency_limit=None)
    asking = gr.State(None)  # the uploads the replace confirmation names, while it asks
    added = add_btn.click(page.add_prompt, new_docs, [replace_box, replace_text, asking], api_name=False).then(
        page.add_unless_asked, [new_docs, asking], status, api_name="add_documents", concurrency_limit=1).then(
        lambda asked: gr.update() if asked else None, asking, new_docs, api_name=False).then(
        refreshed_choices, None, chosen, api_name=False)
    replace_cancel.click(show(False), None, replace_box, api_name=False)
    replaced = replace_ok.click(show(False), None, replace_box, api_name=False).then(
        page.replace_documents, asking, status, api_name="replace_documents", concurrency_limit=1).then(
        lambda: (None, None), None, [new_docs, asking], api_name=False).then(
        refreshed_choices, None, chosen, api_name=False)
    named = gr.State(None)  # the source the confirmation names
    remove_btn.click(page.remove_prompt, chosen, [remove_box, remove_text, named], api_name=False)
    remove_cancel.click(show(False), None, remove_box, api_name=False)
    removed = remove_ok.click(show(False), None, remove_box, api_name=False).then(
        page.remove_document, named, status, api_name="remove_document", concurrency_limit=1).then(
        refreshed_choices, None, chosen, api_name=False)
    return [added, replaced, removed]
