"""The pudong-qa chat page (Gradio 6): chat with cited answers, batch questions, index status.

Run ``python app.py`` or ``pudong-qa serve`` (127.0.0.1:7860 by default). All retrieval
happens in the ``pudong_qa`` package; this file only lays out the page and renders results.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import threading
from html import escape
from pathlib import Path

import gradio as gr

from pudong_qa.batch import (
    QuestionFileError,
    answer_items,
    read_question_file,
    write_csv,
    write_jsonl,
)
from pudong_qa.rendering import CSS, render_response
from pudong_qa.search import question_problem
from pudong_qa.service import QAService, RebuildBusy
from pudong_qa.settings import ENV_PREFIX, Settings

UPLOAD_LIMIT_BYTES = 2 * 1024 * 1024
CONCURRENCY = int(os.environ.get(ENV_PREFIX + "CONCURRENCY", "8"))
EXAMPLES = ["“管办评”里的“评”指什么", "它由谁来做?", "浦东新区下辖多少个街道", "市民中心有什么作用",
            "What did Pudong do about public transport?"]

_service: QAService | None = None
_service_lock = threading.Lock()


def get_service() -> QAService:
    """The process-wide service: model and index loaded once (building the index if needed)."""
    global _service
    with _service_lock:
        if _service is None:
            _service = QAService(Settings.from_env(), log=lambda m: print(m, flush=True))
        return _service


# ---------------------------------------------------------------- chat


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


def respond(message: str, history: list[dict] | None, top_k: float = 3) -> tuple[str, list[dict]]:
    """The chat event: clear the box and append the question and its answer to the history."""
    history = list(history or [])
    if not _text(message).strip():
        return "", history  # nothing typed: nothing to add
    answer = chat(message, history, top_k)
    return "", [*history, {"role": "user", "content": _text(message)}, {"role": "assistant", "content": answer}]


def chat(message: str, history: list[dict], top_k: float = 3) -> str:
    """Answer one chat message as HTML cards, in the context of the earlier questions."""
    message = _text(message)
    problem = question_problem(message)
    if problem:
        return f'<div class="pqa-warn">无法检索 (cannot search): {escape(problem)}</div>'
    try:
        query, resp = get_service().ask(message, top_k=int(top_k), previous=previous_questions(history))
    except Exception:  # noqa: BLE001 - the user sees a sentence, the console the traceback
        logging.getLogger("pudong_qa").exception("search failed for %r", message[:200])
        return '<div class="pqa-warn">出错了,请稍后再试 (internal error; see the server log).</div>'
    return render_response(resp, searched=query)


# ---------------------------------------------------------------- batch


def batch(path: str | None, top_k: float = 3):
    """Answer an uploaded question file; returns (message, table rows, download files)."""
    if not path:
        return "请先上传问题文件 (upload a .txt, .csv or .jsonl file).", [], None
    try:
        items = read_question_file(Path(path), max_bytes=UPLOAD_LIMIT_BYTES)
    except QuestionFileError as exc:
        return f"无法读取文件 (cannot use the file): {str(exc).replace(path, Path(path).name)}", [], None
    records = answer_items(get_service().searcher, items, int(top_k))
    rows = []
    for item, rec in zip(items, records):
        best = rec["results"][0] if rec["results"] else None
        cite = ""
        if best:
            c = best["citation"]
            cite = f"{c['section']} · 第{c['paragraph']}段 · {c['source']} [{c['start']}–{c['end']}]"
        confidence = rec.get("error") or ("answered" if rec["answered"] else "low confidence")
        rows.append([item.line, rec["question"], best["answer"] if best else "", cite, confidence])
    out = Path(tempfile.mkdtemp(prefix="pudong-qa-batch-"))
    with open(out / "answers.jsonl", "w", encoding="utf-8") as f:
        write_jsonl(records, f)
    with open(out / "answers.csv", "w", encoding="utf-8", newline="") as f:
        write_csv(items, records, f)
    answered = sum(r["answered"] for r in records)
    errors = sum(bool(r.get("error")) for r in records)
    msg = f"{len(records)} 个问题: {answered} 个有可靠答案, {errors} 行无法提问."
    return msg, rows, [str(out / "answers.jsonl"), str(out / "answers.csv")]


# ---------------------------------------------------------------- index


def index_status() -> str:
    service = get_service()
    st = service.status()
    docs = "\n".join(f"- {d['title']} (`{d['source']}`, {d['chars']} 字)" for d in st.documents)
    state = "最新 up to date" if not st.stale else "需要重建 stale: " + "; ".join(st.stale)
    if service.rebuilding:
        state += " — 正在重建 rebuilding…"
    return (f"**文档 documents**\n{docs}\n\n**段落 passages:** {st.passages}  \n**模型 model:** {st.model}  \n"
            f"**构建时间 built at:** {st.built_at}  \n**状态 status:** {state}")


def rebuild(progress=gr.Progress(track_tqdm=True)) -> str:  # noqa: B008 - Gradio injects progress this way
    lines: list[str] = []
    try:
        progress(0, desc="重建索引 rebuilding")
        report = get_service().rebuild(log=lines.append)
    except RebuildBusy:
        return "已有重建在进行中 (a rebuild is already running).\n\n" + index_status()
    except Exception as exc:  # noqa: BLE001 - show the reason; the previous index stays in use
        return f"重建失败, 仍在使用原索引 (rebuild failed, previous index kept): {exc}\n\n" + index_status()
    done = f"重建完成: {report.documents} 个文档, {report.passages} 个段落, {report.seconds:.1f} 秒."
    return done + "\n\n" + index_status()


# ---------------------------------------------------------------- layout


def build_demo() -> gr.Blocks:
    with gr.Blocks(title="pudong-qa 报告问答") as demo:
        gr.Markdown("## 浦东报告问答 pudong-qa\n用中文提问,返回报告原文段落与精确出处;"
                    "报告没有答案时会直接说明。Answers are the report's own words, with citations.")
        with gr.Tab("问答 Chat"):
            chatbot = gr.Chatbot(label="对话 conversation", height=640, elem_id="chatbot")
            box = gr.Textbox(placeholder="输入问题,例如:管办评 是什么", elem_id="question", show_label=False,
                             submit_btn="提问", lines=1, max_lines=4)
            with gr.Row():
                top_k = gr.Slider(1, 10, value=3, step=1, label="显示结果数 results shown", scale=3)
                gr.ClearButton([box, chatbot], value="清空对话 Clear", scale=1, elem_id="clear")
            examples = gr.Examples([[q] for q in EXAMPLES], inputs=[box], label="示例问题 examples (点击提问)")
            io = ([box, chatbot, top_k], [box, chatbot])
            box.submit(respond, *io, api_name="chat", concurrency_limit=CONCURRENCY)
            examples.load_input_event.then(respond, *io, api_name=False, concurrency_limit=CONCURRENCY)
        with gr.Tab("批量 Batch"):
            gr.Markdown("上传问题文件: `.txt` 每行一个问题, `.csv` 含 `question` 列, 或 `.jsonl` 含 `question` 字段"
                        f" (UTF-8, 最大 {UPLOAD_LIMIT_BYTES // 2**20} MB)。")
            with gr.Row():
                upload = gr.File(label="问题文件", file_types=[".txt", ".csv", ".jsonl"], type="filepath")
                batch_k = gr.Slider(1, 10, value=3, step=1, label="每题结果数 results per question")
            run = gr.Button("批量提问 Run", variant="primary")
            summary = gr.Markdown()
            table = gr.Dataframe(headers=["行", "问题", "最佳答案", "出处", "置信度"], interactive=False, wrap=True)
            downloads = gr.File(label="下载结果 JSONL / CSV", file_count="multiple")
            run.click(batch, [upload, batch_k], [summary, table, downloads], api_name="batch",
                      concurrency_limit=2)
        with gr.Tab("索引 Index"):
            status = gr.Markdown()
            with gr.Row():
                refresh = gr.Button("刷新 Refresh")
                rebuild_btn = gr.Button("重建索引 Rebuild index", variant="stop")
            refresh.click(index_status, None, status, api_name="status")
            rebuild_btn.click(rebuild, None, status, api_name="rebuild", concurrency_limit=1)
        demo.load(index_status, None, status, api_name=False)
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Start the pudong-qa chat page.")
    parser.add_argument("--host", default=os.environ.get(ENV_PREFIX + "HOST", "127.0.0.1"),
                        help="interface to listen on [default: 127.0.0.1, env PUDONG_QA_HOST]")
    parser.add_argument("--port", type=int, default=int(os.environ.get(ENV_PREFIX + "PORT", "7860")),
                        help="port [default: 7860, env PUDONG_QA_PORT]")
    parser.add_argument("--share", action="store_true", help="also create a public Gradio share link (off by default)")
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.share)


def serve(host: str = "127.0.0.1", port: int = 7860, share: bool = False, block: bool = True) -> gr.Blocks:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    get_service()  # load model and index (building it first if missing or stale) before serving
    demo = build_demo()
    demo.queue(default_concurrency_limit=CONCURRENCY)
    demo.launch(server_name=host, server_port=port, share=share, css=CSS, show_error=False,
                max_file_size=UPLOAD_LIMIT_BYTES, prevent_thread_lock=not block, quiet=False)
    return demo


if __name__ == "__main__":
    main()
