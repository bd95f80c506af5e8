"""The chat page (Gradio 6): chat with cited answers, batch questions, index status.

``build_demo(service, settings)`` lays out the page over one ``QAService``; ``serve(settings)``
loads the service and starts the server (``pudong-qa serve`` and ``python app.py`` call it).
No retrieval happens here: the page only renders what the service returns.

Besides the Gradio page, ``serve`` adds one plain route, ``/doc?source=…&start=…&end=…``: the
document a citation points into, with the passage marked between its neighbouring paragraphs.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import tempfile
import time
from datetime import datetime
from html import escape
from pathlib import Path

import gradio as gr

from .batch import CSV_COLUMNS, answer_items, csv_rows, read_question_file, write_jsonl
from .errors import CorpusError, QuestionFileError, RebuildBusy
from .feedback import record_feedback
from .formats import read_question_text
from .passages import passages_of
from .query import question_problem
from .rendering import CSS, reply_attr, source_page
from .rendering import render_response as render_response
from .results import Citation, format_citation
from .service import QAService
from .settings import Settings

UPLOAD_LIMIT_BYTES = 2 * 1024 * 1024
# Each example is answered correctly by its first result (tests/test_app.py checks every one).
EXAMPLES = {
    "浦东综合配套改革是哪一年批准的": "浦东新区综合配套改革是2005年6月21日经国务院批准进行的",
    "浦东新区什么时候开始开发开放": "1990年4月18日,党中央、国务院正式宣布开发、开放浦东",
    "功能区域管理体制是什么": "功能区域管理体制的最大特色在于探索构建了一种互补型、高效率的行政管理架构",
    "行政效能和行政效率有什么区别": "行政效能是行政效率、行政质量及相关制度的总和",
    "市民中心有什么作用": "市民中心的建立,旨在创新政府管理的理念和实现方式",
}
HISTORY_KEY = "pudong-qa-conversation"
log = logging.getLogger("pudong_qa")

PAGE_CSS = CSS + """
#chatbot .message-row .message, #chatbot .message-wrap .message { max-width: 100%; }
#welcome p { margin: 2px 0; }
#chatbot .scroll-down-button-container { display: none !important; }
@media (max-width: 640px) {
  #chatbot .message-row { padding-left: 2px !important; padding-right: 2px !important; }
  #chatbot .message-row .message, #chatbot .bot.message { padding-left: 2px !important; padding-right: 2px !important; }
  #welcome { font-size: 0.9em; }
  .pqa-card { padding: 6px 8px; }
}
"""

HEAD = """<style>
@media (max-width: 640px) {
  .gradio-container > .main.app { padding-left: 6px !important; padding-right: 6px !important; } }
</style>
<script>
(() => {
  const setLang = () => { if (document.documentElement.lang !== "zh-CN") document.documentElement.lang = "zh-CN"; };
  setLang();
  new MutationObserver(setLang).observe(document.documentElement, {attributes: true, attributeFilter: ["lang"]});
  window.pqaCopy = async (text, button) => {
    window.pqaLastCopy = text;
    try { await navigator.clipboard.writeText(text); if (button) button.textContent = "已复制"; }
    catch (err) { if (button) button.textContent = "复制失败"; }
    if (button) setTimeout(() => { button.textContent = button.dataset.label || "复制"; }, 1500);
  };
  document.addEventListener("click", (e) => {
    const b = e.target.closest && e.target.closest(".pqa-copy");
    if (!b) return;
    e.preventDefault(); e.stopPropagation();
    const card = b.closest(".pqa-card"), src = card && card.querySelector(".pqa-copytext");
    window.pqaCopy(src ? src.textContent : "", b);
  }, true);
  // After a reply: wait until it is rendered, then show its start (not the end of its last card).
  window.pqaShowLast = (tries = 60) => {
    const replies = document.querySelectorAll("#chatbot .pqa-reply");
    const seen = window.pqaSeen || 0;
    if (replies.length <= seen && tries > 0) { setTimeout(() => window.pqaShowLast(tries - 1), 50); return; }
    window.pqaSeen = replies.length;
    const last = replies[replies.length - 1];
    if (last) last.scrollIntoView({block: "start"});
  };
})();
</script>"""

SCROLL_JS = "() => { window.pqaShowLast && window.pqaShowLast(); }"
COUNT_JS = "() => { window.pqaSeen = document.querySelectorAll('#chatbot .pqa-reply').length; }"
# The conversation as plain text: questions as typed, replies as their data-copy text.
COPY_ALL_JS = """(history) => {
  const text = (c) => typeof c === "string" ? c : Array.isArray(c) ? c.map(text).join(" ")
    : c && typeof c === "object" ? (c.text ?? c.value ?? "") : "";
  const plain = (m) => {
    const doc = new DOMParser().parseFromString(text(m.content), "text/html");
    const reply = doc.querySelector(".pqa-reply");
    return reply ? reply.getAttribute("data-copy") : doc.body.textContent.trim();
  };
  const out = (history || []).map(m => (m.role === "user" ? "问: " : "答:\\n") + plain(m)).join("\\n\\n");
  window.pqaCopy(out, document.querySelector("#copy-all"));
  return [];
}"""


def _text(content) -> str:
    """Message content as plain text (Gradio may hand over a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_text(c) for c in content)
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


def previous_questions(history: list[dict]) -> list[str]:
    return [_text(m.get("content")) for m in history or [] if m.get("role") == "user"]


def describe_file(data: bytes) -> str:
    """What an unreadable upload looks like, in a few words (for the error message)."""
    magic = [(b"PK\x03\x04", "ZIP 压缩包或 Office 文件 (.xlsx/.docx)"), (b"%PDF", "PDF 文件"),
             (b"\x89PNG", "PNG 图片"), (b"\xff\xd8\xff", "JPEG 图片"),
             (b"\xd0\xcf\x11\xe0", "旧版 Office 文件 (.xls/.doc)"),
             (b"\x1f\x8b", "gzip 压缩文件")]
    for sig, what in magic:
        if data.startswith(sig):
            return what
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 编码的文本"
    if b"\x00" in data[:4096]:
        return "二进制文件"
    return _text_kind(data)


def binary_kind(data: bytes) -> str | None:
    """What a binary upload is (PDF, Office, image …), or None if it may be text."""
    what = describe_file(data)
    return None if what == _text_kind(data) or what.endswith("文本") else what


def _text_kind(data: bytes) -> str:
    for enc, what in (("utf-8", "UTF-8 文本"), ("gb18030", "GBK/GB18030 编码的中文文本"),
                      ("big5", "Big5 编码的繁体中文文本")):
        try:
            data.decode(enc)
            return what
        except UnicodeDecodeError:
            continue
    return "无法识别编码的文本"


class ChatPage:
    """The page's event handlers, over one service (so tests can drive them without a server)."""

    def __init__(self, service: QAService) -> None:
        self.service = service

    # ------------------------------------------------------------ first screen

    def welcome(self) -> str:
        docs = self.service.overview()
        lines = ["### 浦东报告问答", "只根据下面的报告回答,返回原文段落与出处;报告里没有答案时会直接说明。"]
        for d in docs:
            sections = "、".join(s.split("、", 1)[-1] if "、" in s else s for s in d["sections"][:4])
            lines.append(f"**《{d['title']}》** · {d['chars']} 字 · {len(d['sections'])} 章 · "
                         f"{d['paragraphs']} 段 — {sections}")
        return "\n\n".join(lines)

    # ------------------------------------------------------------ chat

    def respond(self, message: str, history: list[dict] | None, top_k: float = 3) -> tuple[str, list[dict]]:
        """The chat event: clear the box and append the question and its answer to the history."""
        history = list(history or [])
        if not _text(message).strip():
            return "", history  # nothing typed: nothing to add
        answer = self.chat(message, history, top_k)
        return "", [*history, {"role": "user", "content": _text(message)}, {"role": "assistant", "content": answer}]

    def chat(self, message: str, history: list[dict], top_k: float = 3) -> str:
        """Answer one chat message as HTML cards, in the context of the earlier questions."""
        message = _text(message)
        problem = question_problem(message)
        if problem:
            return f'<div class="pqa-warn">无法检索 (cannot search): {escape(problem)}</div>'
        try:
            query, resp = self.service.ask(message, top_k=int(top_k), previous=previous_questions(history))
        except Exception:  # noqa: BLE001 - the user sees a sentence, the console the traceback
            log.exception("search failed for %r", message[:200])
            return '<div class="pqa-warn">出错了,请稍后再试 (internal error; see the server log).</div>'
        return render_response(resp, searched=query)

    def feedback(self, history: list[dict] | None, data: gr.LikeData) -> str | None:
        """A thumbs up/down on a reply: store it with the question and the results shown."""
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        history = history or []
        if not isinstance(index, int) or not 0 <= index < len(history) or data.liked in ("", None):
            return None
        content = _text(history[index].get("content"))
        shown = json.loads(reply_attr(content, "data-log") or "{}")
        if not shown:
            before = [m for m in history[:index] if m.get("role") == "user"]
            shown = {"question": _text(before[-1]["content"]) if before else "", "results": [],
                     "reply": re.sub(r"<[^>]+>", "", content)}
        rating = "up" if data.liked is True else "down" if data.liked is False else str(data.liked)
        record_feedback(self.service.settings, rating, shown)
        return rating

    def conversation_text(self, history: list[dict] | None) -> str:
        """The conversation as plain text (what the page's “复制对话” button copies)."""
        out = []
        for m in history or []:
            content = _text(m.get("content"))
            if m.get("role") == "user":
                out.append("问: " + content)
            else:
                out.append("答:\n" + (reply_attr(content, "data-copy") or re.sub(r"<[^>]+>", "", content)))
        return "\n\n".join(out)

    def document(self, source: str, start: int, end: int) -> str:
        """The ``/doc`` page for a citation (KeyError if the source is not an indexed document)."""
        text = self.service.source_text(source)
        start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
        para = next((p for p in passages_of(self.service.searcher.index.passages, source)
                     if p.start <= start < p.end), None)
        title = next((d["title"] for d in self.service.overview() if d["source"] == source), source)
        c = Citation(source, title, para.section if para else "", para.paragraph if para else 0, start, end,
                     para.page if para else None)
        return source_page(text, c)

    # ------------------------------------------------------------ batch

    def batch(self, path: str | None, top_k: float = 3):
        """Answer an uploaded question file; returns (message, table rows, download files)."""
        return self.batch_table(path, top_k)[:3]

    def batch_view(self, path: str | None, top_k: float = 3):
        msg, rows, files, headers = self.batch_table(path, top_k)
        return msg, gr.update(value=rows, headers=headers, column_widths=column_widths(len(headers) - 5)), files

    def batch_table(self, path: str | None, top_k: float = 3):
        """(message, rows, download files, table headers): extra CSV columns follow the fixed ones."""
        if not path:
            return "请先上传问题文件 (upload a .txt, .csv or .jsonl file).", [], None, self.headers()
        name = Path(path).name
        with open(path, "rb") as f:
            head = f.read(65536)
        kind = binary_kind(head)
        if kind:
            return (f"无法读取文件 (cannot use the file): {name} 看起来是{kind},不是问题文本;"
                    "请上传 .txt/.csv/.jsonl 文本文件 (UTF-8 或 GBK)。", [], None, self.headers())
        try:
            items = read_question_file(Path(path), max_bytes=UPLOAD_LIMIT_BYTES)
        except QuestionFileError as exc:
            reason = str(exc).replace(path, name)
            if "limit" not in reason and Path(path).is_file():
                what = describe_file(Path(path).read_bytes()[:65536])
                reason = f"{name} 看起来是{what},不是问题文本 (UTF-8/GBK 的 .txt/.csv/.jsonl)。{reason}"
            return f"无法读取文件 (cannot use the file): {reason}", [], None, self.headers()
        raw = read_question_text(Path(path))
        extras, extra_cols = self._csv_extras(raw) if name.lower().endswith(".csv") else ({}, [])
        blank = self._blank_lines(raw, name)
        items = [it for it in items if it.line not in blank]
        records = answer_items(self.service.searcher, items, int(top_k))
        rows = []
        for item, rec in zip(items, records):
            best = rec["results"][0] if rec["results"] else None
            best = best if rec["answered"] else None  # no reliable answer: no answer shown, as in the chat
            cite = format_citation(Citation.from_dict(best["citation"]), offsets=False) if best else ""
            state = ("无法提问: " + rec["error"]) if rec.get("error") else \
                ("是" if rec["answered"] else "否 (未找到可靠答案)")
            extra = extras.get(item.line, {})
            rows.append([rec["question"], state, best["answer"] if best else "", cite, item.line,
                         *[extra.get(c, "") for c in extra_cols]])
            for c in extra_cols:
                rec.setdefault(c, extra.get(c, ""))
        out = Path(tempfile.mkdtemp(prefix="pudong-qa-batch-"))
        stem = re.sub(r"[^\w\-]+", "_", Path(name).stem)[:60] or "questions"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        jsonl, csv_out = out / f"{stem}-answers-{stamp}.jsonl", out / f"{stem}-answers-{stamp}.csv"
        with open(jsonl, "w", encoding="utf-8") as f:
            write_jsonl(records, f)
        with open(csv_out, "w", encoding="utf-8-sig", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=extra_cols + CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in csv_rows(items, records):
                writer.writerow({**extras.get(row["line"], {}), **row})
        answered = sum(r["answered"] for r in records)
        errors = sum(bool(r.get("error")) for r in records)
        msg = f"共 {len(records)} 个问题: {answered} 个有可靠答案, {errors} 行无法提问。"
        return msg, rows, [str(jsonl), str(csv_out)], self.headers(extra_cols)

    @staticmethod
    def headers(extra_cols: list[str] | None = None) -> list[str]:
        return ["问题", "是否回答", "答案", "出处", "行", *(extra_cols or [])]

    @staticmethod
    def _csv_extras(text: str) -> tuple[dict[int, dict], list[str]]:
        """The CSV's other columns (id, note …) by row number, carried into the table and downloads."""
        reader = csv.reader(io.StringIO(text))
        header = [h.strip() for h in next(reader, [])]
        cols = [h for h in header if h and h.lower() != "question"]
        extras = {}
        try:
            for row in reader:
                extras[reader.line_num] = {h: v for h, v in zip(header, row) if h in cols}
        except csv.Error:
            pass
        return extras, cols

    @staticmethod
    def _blank_lines(text: str, name: str) -> set[int]:
        """Line (or CSV row) numbers that are blank: not questions, so not counted or reported."""
        if name.lower().endswith(".csv"):
            reader = csv.reader(io.StringIO(text))
            next(reader, None)
            blank = set()
            try:
                for row in reader:
                    if not any(cell.strip() for cell in row):
                        blank.add(reader.line_num)
            except csv.Error:
                pass
            return blank
        return {n for n, line in enumerate(text.splitlines(), 1) if not line.strip()}

    # ------------------------------------------------------------ index

    def index_status(self) -> str:
        st = self.service.status()
        rows = ["| 文档 | 格式 | 字数 | 段落 | 编码 | 文件 |", "| --- | --- | --- | --- | --- | --- |"]
        rows += [f"| 《{_md(d['title'])}》 | {d.get('format', '?')} | {d['chars']} | {d.get('passages', '?')} | "
                 f"{d.get('encoding') or '—'} | `{_md(d['source'])}` |" for d in st.documents]
        state = "最新 (up to date)" if not st.stale else "需要重建 (stale): " + "; ".join(st.stale)
        if self.service.rebuilding:
            state += " — 正在重建…"
        problems = ""
        if st.skipped:
            problems = f"\n\n**{len(st.skipped)} 个文件未能读取:**\n" + "\n".join(
                f"- `{_md(k['source'])}`: {_md(k['reason'])}" for k in st.skipped)
        return (f"**{len(st.documents)} 个文档**\n\n" + "\n".join(rows) + problems
                + f"\n\n**段落数:** {st.passages}  \n**模型:** {st.model}  \n"
                f"**构建时间:** {local_time(st.built_at)}  \n**状态:** {state}")

    def document_choices(self) -> list[str]:
        return [d["source"] for d in self.service.status().documents]

    def add_documents(self, paths: list[str] | None, progress=gr.Progress()) -> str:  # noqa: B008
        """Store the uploaded reports in the corpus folder and index them (only they are embedded)."""
        if not paths:
            return "请先选择要添加的文档。\n\n" + self.index_status()
        try:
            added = self.service.add_documents([Path(p) for p in paths])
        except CorpusError as exc:
            return f"未添加任何文档: {_md(str(exc))}\n\n" + self.index_status()
        return f"已添加 {len(added)} 个文档: " + "、".join(f"`{_md(a)}`" for a in added) + "\n\n" \
            + self.rebuild(progress, force=False)

    def remove_document(self, source: str | None, progress=gr.Progress()) -> str:  # noqa: B008
        if not source:
            return "请先选择要删除的文档。\n\n" + self.index_status()
        try:
            self.service.remove_document(source)
        except CorpusError as exc:
            return f"未删除: {_md(str(exc))}\n\n" + self.index_status()
        return f"已删除 `{_md(source)}`。\n\n" + self.rebuild(progress, force=False)

    def rebuild(self, progress=gr.Progress(), force: bool = True) -> str:  # noqa: B008 - Gradio injects progress
        steps = [("load", "读取文档"), ("read", "读取文档"), ("chunk", "切分段落"), ("embed", "计算向量"),
                 ("vector", "计算向量"), ("writ", "写入索引"), ("swap", "切换到新索引")]
        seen: list[str] = []

        def on_log(line: str) -> None:
            seen.append(line)
            stage = next((zh for key, zh in steps if key in line.lower()), "正在重建")
            progress(min(0.95, len(seen) / 12), desc=f"正在重建索引: {stage}…")

        try:
            progress(0, desc="正在重建索引: 开始…")
            report = self.service.rebuild(force=force, log=on_log)
        except RebuildBusy:
            return "正在重建…已有一次重建在进行中,完成后会自动使用新索引 (a rebuild is already running).\n\n" \
                + self.index_status()
        except Exception as exc:  # noqa: BLE001 - show the reason; the previous index stays in use
            return f"重建失败, 仍在使用原索引 (rebuild failed, previous index kept): {exc}\n\n" + self.index_status()
        done = (f"重建完成: {report.documents} 个文档, {report.passages} 个段落, 新计算向量 {report.embedded} 条, "
                f"用时 {report.seconds:.1f} 秒。")
        return done + "\n\n" + self.index_status()


def _md(text: str) -> str:
    """Text shown inside Markdown: HTML-escaped, table pipes and backticks neutralised."""
    return escape(str(text)).replace("|", "\\|").replace("`", "'")


def column_widths(extra: int = 0) -> list[str]:
    """The batch table's columns fit the page: question, answered, answer, citation, line, then extras."""
    base = ["24%", "10%", "36%", "24%", "6%"] if not extra else ["20%", "9%", "30%", "20%", "5%"]
    return base + [f"{16 // extra}%"] * extra if extra else base


def example_text(evt: gr.SelectData) -> str:
    """The question of a clicked example (Gradio passes the example message)."""
    value = evt.value
    return _text(value) if not isinstance(value, dict) else str(value.get("text", ""))


def local_time(iso: str) -> str:
    """An ISO timestamp as the server's local time, e.g. ``2026-11-27 23:38:57 (UTC+08:00)``."""
    try:
        t = datetime.fromisoformat(iso).astimezone()
    except (TypeError, ValueError):
        return str(iso)
    offset = t.strftime("%z")
    return t.strftime("%Y-%m-%d %H:%M:%S") + f" (UTC{offset[:3]}:{offset[3:]})"


def build_demo(service: QAService, settings: Settings | None = None) -> gr.Blocks:
    """The page's layout and events over ``service``."""
    settings = settings or service.settings
    page = ChatPage(service)
    limit = settings.concurrency
    with gr.Blocks(title="浦东报告问答 pudong-qa", analytics_enabled=False) as demo:
        saved = gr.BrowserState([], storage_key=HISTORY_KEY)
        welcome = gr.Markdown(page.welcome(), elem_id="welcome")
        with gr.Tab("问答 Chat"):
            chatbot = gr.Chatbot(label="对话", show_label=False, elem_id="chatbot",
                                 height="min(600px, calc(100dvh - 330px))", min_height=300, autoscroll=False,
                                 layout="panel", buttons=[],
                                 examples=[{"text": q} for q in EXAMPLES], placeholder="点击示例或在下方输入问题",
                                 feedback_options=("Like", "Dislike"))
            box = gr.Textbox(placeholder="输入问题,例如:功能区域管理体制是什么", elem_id="question", show_label=False,
                             submit_btn="提问", lines=1, max_lines=4, autofocus=True)
            with gr.Row():
                top_k = gr.Slider(1, 10, value=settings.top_k, step=1, label="显示结果数", scale=3)
                copy_all = gr.Button("复制对话", scale=1, elem_id="copy-all", size="sm")
                clear = gr.Button("清空对话", scale=1, elem_id="clear", size="sm")
            io_ = ([box, chatbot, top_k], [box, chatbot])
            asked = box.submit(page.respond, *io_, api_name="chat", concurrency_limit=limit)
            picked = chatbot.example_select(example_text, None, box, api_name=False).then(
                page.respond, *io_, api_name=False, concurrency_limit=limit)
            for event in (asked, picked):
                event.then(None, js=SCROLL_JS)
                event.then(lambda h: h, chatbot, saved, api_name=False)
            clear.click(lambda: ("", [], []), None, [box, chatbot, saved], api_name=False)
            for trigger in (box.submit, chatbot.example_select):  # remember how many replies were shown
                trigger(None, js=COUNT_JS)
            copy_all.click(None, [chatbot], None, js=COPY_ALL_JS)
            chatbot.like(page.feedback, [chatbot], None, api_name=False)
        with gr.Tab("批量 Batch"):
            gr.Markdown("上传问题文件: `.txt` 每行一个问题, `.csv` 含 `question` 列 (其他列如 id、备注会带到结果里),"
                        f" 或 `.jsonl` 含 `question` 字段 (UTF-8, 最大 {UPLOAD_LIMIT_BYTES // 2**20} MB)。空行不计。")
            with gr.Row():
                upload = gr.File(label="问题文件", elem_id="batch-upload", file_types=[".txt", ".csv", ".jsonl"],
                                 type="filepath")
                batch_k = gr.Slider(1, 10, value=settings.top_k, step=1, label="每题结果数")
            run = gr.Button("批量提问", variant="primary")
            summary = gr.Markdown(elem_id="batch-summary")
            table = gr.Dataframe(headers=ChatPage.headers(), interactive=False, wrap=True, elem_id="batch-table",
                                 column_widths=column_widths(), max_height=520)
            downloads = gr.File(label="下载结果 (JSONL / CSV)", file_count="multiple", elem_id="batch-downloads")
            upload.change(lambda: ("", gr.update(value=[], headers=ChatPage.headers(), column_widths=column_widths()),
                                   None), None,
                          [summary, table, downloads], api_name=False)
            run.click(page.batch_view, [upload, batch_k], [summary, table, downloads], api_name="batch",
                      concurrency_limit=2)
        with gr.Tab("索引 Index"):
            status = gr.Markdown(elem_id="index-status")
            with gr.Row():
                limit = f"{settings.max_file_mb:g} MB"
                new_docs = gr.File(label=f"添加文档 (.txt .md .docx .pdf .html, 可多选, 每个最大 {limit})",
                                   file_count="multiple", type="filepath", elem_id="add-docs", scale=3)
                with gr.Column(scale=2):
                    add_btn = gr.Button("添加并索引", variant="primary", elem_id="add-docs-btn")
                    chosen = gr.Dropdown(choices=page.document_choices(), label="删除文档", elem_id="remove-doc",
                                         allow_custom_value=False)
                    remove_btn = gr.Button("删除…", elem_id="remove-doc-btn")
            with gr.Row(visible=False) as remove_row:
                gr.Markdown("**确认删除?** 文件将从语料文件夹删除,其段落不再出现在回答中。")
                remove_ok = gr.Button("确认删除", variant="stop", elem_id="remove-confirm")
                remove_cancel = gr.Button("取消", elem_id="remove-cancel")
            with gr.Row():
                refresh = gr.Button("刷新")
                rebuild_btn = gr.Button("全部重建…", variant="stop", elem_id="rebuild")
            with gr.Row(visible=False) as confirm_row:
                gr.Markdown("**确认重建?** 重新读取全部文档并计算向量,需要一段时间;期间问答继续使用原索引。")
                confirm = gr.Button("确认重建", variant="stop", elem_id="rebuild-confirm")
                cancel = gr.Button("取消", elem_id="rebuild-cancel")

            def refreshed_choices():
                return gr.update(choices=page.document_choices(), value=None)

            refresh.click(page.index_status, None, status, api_name="status")
            rebuild_btn.click(lambda: gr.update(visible=True), None, confirm_row, api_name=False)
            cancel.click(lambda: gr.update(visible=False), None, confirm_row, api_name=False)
            confirm.click(lambda: gr.update(visible=False), None, confirm_row, api_name=False).then(
                page.rebuild, None, status, api_name="rebuild", concurrency_limit=None)
            add_btn.click(page.add_documents, new_docs, status, api_name="add_documents", concurrency_limit=1).then(
                lambda: None, None, new_docs, api_name=False).then(refreshed_choices, None, chosen, api_name=False)
            remove_btn.click(lambda: gr.update(visible=True), None, remove_row, api_name=False)
            remove_cancel.click(lambda: gr.update(visible=False), None, remove_row, api_name=False)
            remove_ok.click(lambda: gr.update(visible=False), None, remove_row, api_name=False).then(
                page.remove_document, chosen, status, api_name="remove_document", concurrency_limit=1).then(
                refreshed_choices, None, chosen, api_name=False)
        demo.load(page.index_status, None, status, api_name=False)
        demo.load(page.welcome, None, welcome, api_name=False)  # names the documents known now
        demo.load(lambda h: h or [], saved, chatbot, api_name=False)
    return demo


def doc_route(page: ChatPage):
    """The ``/doc`` route: a citation's document with the passage marked."""
    from starlette.responses import HTMLResponse, PlainTextResponse
    from starlette.routing import Route

    def view(request):
        q = request.query_params
        try:
            html = page.document(q.get("source", ""), int(q.get("start", 0)), int(q.get("end", 0)))
        except (KeyError, ValueError):
            return PlainTextResponse("没有这个文档 (no such indexed document)", status_code=404)
        return HTMLResponse(html)

    return Route("/doc", view, methods=["GET"])


def serve(settings: Settings, share: bool = False, block: bool = True) -> gr.Blocks:
    """Load the model and index (building the index first if missing or stale), then serve the page."""
    service = QAService(settings, log=lambda m: print(m, flush=True))
    demo = build_demo(service, settings)
    demo.queue(default_concurrency_limit=settings.concurrency)
    demo.launch(server_name=settings.host, server_port=settings.port, share=share, css=PAGE_CSS, head=HEAD,
                show_error=False, max_file_size=max(UPLOAD_LIMIT_BYTES, settings.max_file_bytes),
                prevent_thread_lock=not block, quiet=False,
                app_kwargs={"routes": [doc_route(ChatPage(service))]})
    return demo
