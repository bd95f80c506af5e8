"""The page's event handlers: one class over one ``QAService``, so tests can drive them without a
server and an access check can wrap them. No retrieval happens here: the handlers ask the service
and render what it returns (``rendering.py`` and its templates for replies and sources, ``batch.py``
for question files and their downloads, ``index_view.py`` for the index tab). What each reply
showed is kept as data beside the conversation (``answer`` returns it, the page keeps it in the
browser), and a thumbs up/down stores that, never what it reads back out of the reply's HTML."""

from __future__ import annotations

import logging
import re
import tempfile
from bisect import bisect_right
from pathlib import Path
from urllib.parse import urlencode

import gradio as gr

from ..asking import as_top_k, top_k_for
from ..batch import TABLE_COLUMNS, answer_responses, parse_question_bytes, table, verdict_code, write_people_files
from ..errors import CorpusError, QuestionFileError, RebuildBusy
from ..feedback import record_feedback
from ..formats import binary_kind, describe_file
from ..messages import say
from ..passages import passages_of
from ..progress import Eta, Step
from ..rendering import (
    TARGET,
    SourceView,
    batch_table_html,
    doc_key,
    render,
    render_response,
    reply_attr,
    shown_record,
    source_html,
)
from ..results import ANSWERED, NOT_FOUND, UNSURE, Citation
from ..search.query import question_problem
from ..search.scans import layouts, locate
from ..service import DocumentExists, QAService
from .access import LocalAccess, PageAccess
from .index_view import document_label, file_label, status_markdown
from .scan_view import page_image_path, scan_figure
from .static import source_page
from .text import as_text, md, previous_questions

UPLOAD_LIMIT_BYTES = 2 * 1024 * 1024
PANEL_CONTEXT = 3  # lines either side of the cited one in the source panel, until “显示全文”
RATINGS = {"up": "有帮助", "down": "没有帮助"}
STAGE_ZH = {"read": "读取文档", "ocr": "识别扫描页", "chunk": "切分段落", "embed": "计算向量", "tokenize": "分词",
            "write": "写入索引", "swap": "切换到新索引"}  # progress.STAGES, as the page names them
log = logging.getLogger("pudong_qa")


class ChatPage:
    """The page's event handlers, over one service."""

    def __init__(self, service: QAService, access: PageAccess | None = None) -> None:
        self.service = service
        self.access = access or LocalAccess()  # who asks, and may they (access.py)

    # ------------------------------------------------------------ first screen

    def welcome(self) -> str:
        docs = self.service.overview()
        what = "报告" if len(docs) <= 1 else f"这 {len(docs)} 份文档"
        lines = ["# 浦东报告问答", f"只根据下面的{what}回答,返回原文段落与出处;{what}里没有答案时会直接说明。"]
        for d in docs:
            line = f"**《{md(d['title'])}》** · {d['chars']} 字 · {d['paragraphs']} 个自然段"
            if d["sections"]:
                sections = "、".join(s.split("、", 1)[-1] if "、" in s else s for s in d["sections"][:4])
                line += f" · {len(d['sections'])} 章:{md(sections)}"
            lines.append(line)
        return "\n\n".join(lines)

    # ------------------------------------------------------------ chat

    def respond(self, message: str, history: list[dict] | None, top_k: float | None = None) -> tuple[str, list[dict]]:
        """The chat event: clear the box and append the question and its answer to the history."""
        return self.answer(message, history, top_k)[:2]

    def answer(self, message: str, history: list[dict] | None,
               top_k: float | None = None) -> tuple[str, list[dict], dict | None]:
        """``respond``, and what the reply showed (``rendering.shown_record``; None when nothing
        was added or the reply is no search result), for ``remember``."""
        history = list(history or [])
        if not as_text(message).strip():
            return "", history, None  # nothing typed: nothing to add
        reply, shown = self.chat_shown(message, history, top_k)
        return "", [*history, {"role": "user", "content": as_text(message)},
                    {"role": "assistant", "content": reply}], shown

    def chat(self, message: str, history: list[dict], top_k: float | None = None) -> str:
        """Answer one chat message as HTML cards, in the context of the earlier questions."""
        return self.chat_shown(message, history, top_k)[0]

    def chat_shown(self, message: str, history: list[dict], top_k: float | None = None) -> tuple[str, dict | None]:
        """(the reply as HTML cards, what it showed), in the context of the earlier questions."""
        message = as_text(message)
        problem = question_problem(message)
        if problem:
            return problem_reply(f"无法检索:{problem.say('zh')}。请输入一个问题。"), None
        try:
            query, resp = self.service.ask(message, top_k=as_top_k(top_k), previous=previous_questions(history))
        except Exception:
            log.exception("search failed for %r", message[:200])
            return problem_reply("出错了,请稍后再试。"), None
        return render_response(resp, searched=query), shown_record(resp, searched=query)

    @staticmethod
    def remember(history: list[dict] | None, shown: dict | None, kept: dict | None) -> dict:
        """The records of what each reply showed (kept in the browser beside the conversation),
        with the last reply's added under its index in the conversation."""
        kept = dict(kept or {})
        if shown is not None and history:
            kept[str(len(history) - 1)] = shown
        return kept

    def feedback(self, history: list[dict] | None, votes: dict | None, data: gr.LikeData,
                 request: gr.Request = None, shown: dict | None = None,
                 latest: dict | None = None) -> tuple[dict, str]:
        """A thumbs up/down on a reply: store it with what the reply showed (``shown``, the records
        ``remember`` keeps by reply index; ``latest``, the last answer's, kept on the server the
        moment it is given, for a thumb faster than ``remember``), else the question and the
        reply's text. Returns the
        page's votes (kept in the browser, so a reload shows them) and a line saying it was recorded."""
        votes = dict(votes or {})
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        history = history or []
        if not isinstance(index, int) or not 0 <= index < len(history):
            return votes, ""
        if data.liked in ("", None):  # the vote was taken back
            votes.pop(str(index), None)
            return votes, render("status.html", sentence="已撤销评价。")
        content = as_text(history[index].get("content"))
        shown = self.remember(history, latest, shown).get(str(index))
        if not shown:
            before = [m for m in history[:index] if m.get("role") == "user"]
            shown = {"question": as_text(before[-1]["content"]) if before else "", "results": [],
                     "reply": re.sub(r"<[^>]+>", "", content)}
        rating = "up" if data.liked is True else "down" if data.liked is False else str(data.liked)
        record_feedback(self.service.settings, rating, shown, who=self.access.name(request))
        votes[str(index)] = "Like" if rating == "up" else "Dislike"
        return votes, render("status.html", sentence=f"已记录你的评价:{RATINGS.get(rating, rating)}。谢谢!")

    @staticmethod
    def restore(history: list[dict] | None, votes: dict | None):
        """The conversation kept in the browser, with the votes already given on its replies; and
        the question box, usable from now on (an answer that came back before this would be wiped)."""
        history = history or []
        marks = [(votes or {}).get(str(i)) for i, m in enumerate(history) if m.get("role") == "assistant"]
        return gr.update(value=history, feedback_value=marks), gr.update(interactive=True)

    def conversation_text(self, history: list[dict] | None) -> str:
        """The conversation as plain text (what the page's “复制对话” button copies)."""
        out = []
        for m in history or []:
            content = as_text(m.get("content"))
            if m.get("role") == "user":
                out.append("问: " + content)
            else:
                out.append("答:\n" + (reply_attr(content, "data-copy") or re.sub(r"<[^>]+>", "", content)))
        return "\n\n".join(out)

    # ------------------------------------------------------------ sources

    def resolve(self, doc: str) -> str:
        """The source of an indexed document named by its link key (or its source); KeyError if none."""
        sources = [d["source"] for d in self.service.status().documents]
        found = next((s for s in sources if doc in (s, doc_key(s))), None)
        if found is None:
            raise KeyError(doc)
        return found

    def source_view(self, doc: str, start: int, end: int, answer: tuple[int, int] | None = None) -> SourceView:
        """The document a citation points into (KeyError if ``doc`` names no indexed document)."""
        source = self.resolve(doc)
        text = self.service.source_text(source)

        def clamp(x: int) -> int:
            return max(0, min(x, len(text)))

        start, end = clamp(start), clamp(end)
        answer = (clamp(answer[0]), clamp(answer[1])) if answer and answer[1] > answer[0] else None
        passages = passages_of(self.service.searcher.index.passages, source)
        para = next((p for p in passages if p.start <= start < p.end), None)
        title = next((d["title"] for d in self.service.overview() if d["source"] == source), Path(source).stem)
        c = Citation(source, title, para.section if para else "", para.paragraph if para else 0, start, end,
                     para.page if para else None)
        layout = layouts(self.service.searcher.index.path).get(source)  # a scanned document: show the page
        where = locate(layout, start, end) if layout else None
        figure = scan_figure(doc_key(source), where) if where and page_image_path(
            self.service.settings, layout, where.page) else ""
        return SourceView(text, c, answer, heading_lines(text, [(p.start, p.end) for p in passages]), figure)

    def page_image(self, doc: str, page: int) -> bytes:
        """A scanned page's picture (JPEG) for the source view; KeyError unless ``doc`` is an indexed
        scanned document with that page stored."""
        layout = layouts(self.service.searcher.index.path).get(self.resolve(doc))
        path = page_image_path(self.service.settings, layout, page) if layout else None
        if path is None:
            raise KeyError(doc)
        return path.read_bytes()

    def document(self, doc: str, start: int, end: int, answer: tuple[int, int] | None = None,
                 panel: bool = False, full: bool = False) -> str:
        """The ``/doc`` route: the whole document as a page, or (``panel``) the part around the
        citation for the panel beside the chat, with a button for the whole document."""
        view = self.source_view(doc, start, end, answer)
        if not panel:
            return source_page(view)
        query = {"doc": doc_key(view.citation.source), "start": view.citation.start, "end": view.citation.end}
        if view.answer:
            query |= {"astart": view.answer[0], "aend": view.answer[1]}
        tools = render("source_tools.html", link="/doc?" + urlencode(query), target=TARGET, full=full)
        return source_html(view, None if full else PANEL_CONTEXT, heading="h2", tools=tools)

    # ------------------------------------------------------------ batch

    @staticmethod
    def batch_headers() -> list[str]:
        return list(TABLE_COLUMNS)

    def batch_view(self, path: str | None, top_k: float | None = None, progress=gr.Progress(),  # noqa: B008
                   request: gr.Request = None):
        """The batch event: (summary, the table as HTML, download files); who ran it goes to the audit log."""
        msg, headers, rows, files, verdicts = self.batch_run(path, top_k, progress)
        if files:
            self.access.record(request, "batch", [Path(f).name for f in files], questions=len(rows))
        return msg, batch_table_html(headers, rows, verdicts=verdicts), files

    def batch_table(self, path: str | None, top_k: float | None = None, progress=None):
        """(message, table headers, rows, download files): the table as the downloaded CSV has it."""
        return self.batch_run(path, top_k, progress)[:4]

    def batch_run(self, path: str | None, top_k: float | None = None, progress=None):
        """``batch_table``, and each row's verdict (a ``results.VERDICTS`` code, or "error")."""
        headers = list(TABLE_COLUMNS)
        if not path:
            return "请先上传问题文件 (.txt、.csv 或 .jsonl)。", headers, [], None, []
        name = Path(path).name
        size = Path(path).stat().st_size
        if size > UPLOAD_LIMIT_BYTES:
            return (f"无法使用 {name}:文件有 {size / 2**20:.1f} MB,超过了 {UPLOAD_LIMIT_BYTES // 2**20} MB 的上限。",
                    headers, [], None, [])
        data = Path(path).read_bytes()
        kind = binary_kind(data[:65536])
        try:
            if kind:
                raise QuestionFileError(code="not_question_text", subject=name, kind=kind)
            items = parse_question_bytes(data, Path(name).suffix.lower(), name)
        except QuestionFileError as exc:
            reason = exc.reason("zh") if exc.code in ("no_question_column", "not_question_text") else \
                say("not_question_text", {"kind": describe_file(data[:65536])}, "zh")
            return (f"无法使用 {name}:{reason}。请上传 UTF-8 或 GBK 编码的 .txt(每行一个问题)、"
                    ".csv(含“问题”列)或 .jsonl(含“问题”字段)。", headers, [], None, [])
        total, done = sum(it.error is None for it in items), [0]

        def advance(n: int) -> None:
            done[0] += n
            if progress is not None:
                progress((done[0], total), desc=f"已处理 {done[0]} / {total} 个问题", unit="个问题")

        advance(0)
        responses = answer_responses(self.service.searcher, items, top_k_for(self.service.settings, as_top_k(top_k)),
                                     on_progress=advance)
        folder = Path(tempfile.mkdtemp(prefix="pudong-qa-batch-"))
        stem = re.sub(r"[^\w\-]+", "_", Path(name).stem)[:60] or "questions"
        files = write_people_files(folder, stem, items, responses)
        headers, rows = table(items, responses)
        verdicts = [verdict_code(it, r) for it, r in zip(items, responses) if not it.blank]
        counts = {v: verdicts.count(v) for v in (ANSWERED, UNSURE, NOT_FOUND)}
        errors = len(rows) - sum(counts.values())
        msg = (f"共 {len(rows)} 个问题:{counts[ANSWERED]} 个有答案,{counts[UNSURE]} 个未确认,"
               f"{counts[NOT_FOUND]} 个未找到" + (f",{errors} 行无法提问" if errors else "") + "。")
        return msg, headers, rows, [str(f) for f in files], verdicts

    # ------------------------------------------------------------ index

    def index_tab(self, request: gr.Request = None):
        """The index tab is shown to editors only (readers' requests are refused anyway)."""
        return gr.update(visible=self.access.may(request, "add"))

    def whoami(self, request: gr.Request = None) -> str:
        """The signed-in person and a sign-out link (nothing on a sign-in-free server)."""
        return self.access.banner(request)

    def index_status(self) -> str:
        return status_markdown(self.service.status(), self.service.settings, self.service.rebuilding)

    def document_choices(self) -> list[tuple[str, str]]:
        """The delete list: every indexed document, then every file that could not be read."""
        st, settings = self.service.status(), self.service.settings
        return ([(document_label(d, settings), d["source"]) for d in st.documents]
                + [(f"{file_label(k['source'], settings)} (无法读取)", k["source"]) for k in st.skipped])

    def remove_prompt(self, source: str | None) -> tuple[dict, str, str | None]:
        """The delete confirmation naming the file (hidden when nothing is chosen), and the source it
        names: the one a confirmation deletes, whatever is chosen by then."""
        label = dict((v, k) for k, v in self.document_choices()).get(source or "")
        if not label:
            return gr.update(visible=False), "", None
        text = f"**确认删除 {md(label)}?** 文件将从语料文件夹删除,其段落不再出现在回答中。"
        return gr.update(visible=True), text, source

    def add_prompt(self, paths: list[str] | None) -> tuple[dict, str, list[str] | None]:
        """The replace confirmation naming the uploads that would replace a document with other
        content (hidden when none would), and the uploads it names: the ones a confirmation stores."""
        clashes = self.service.clashes([Path(p) for p in paths or []])
        if not clashes:
            return gr.update(visible=False), "", None
        names = "、".join(md(f"{name} ({source})") for name, source in clashes)
        text = (f"**确认替换 {names}?** 已有同名文档,内容不同。原文件移入回收站,保留 "
                f"{self.service.settings.recycle_days:g} 天,可用 `pudong-qa documents restore` 恢复。")
        return gr.update(visible=True), text, list(paths or [])

    def add_unless_asked(self, paths: list[str] | None, asked: list[str] | None,
                         progress=gr.Progress(), request: gr.Request = None):  # noqa: B008
        """The add button's second step: add, unless the replace confirmation is asking first."""
        return gr.update() if asked else self.add_documents(paths, progress, request)

    def replace_documents(self, paths: list[str] | None, progress=gr.Progress(),  # noqa: B008
                          request: gr.Request = None) -> str:
        """The replace confirmation's 确认替换: add the uploads, replacing their namesakes."""
        return self.add_documents(paths, progress, request, replace=True)

    def add_documents(self, paths: list[str] | None, progress=gr.Progress(),  # noqa: B008
                      request: gr.Request = None, replace: bool = False) -> str:
        """Read each upload first; store the readable ones in the corpus folder and index them (only
        they are embedded); refuse the others with the reason, leaving nothing of them behind. An
        upload named as a document with other content replaces it only with ``replace`` (the page
        asks first: ``add_prompt``); the same content again is said to be there already.
        Editors only, checked here on the server (a reader's page has no index tab either)."""
        if refused := self.access.refusal(request, "add"):
            return refused + "\n\n" + self.index_status()
        if not paths:
            return "请先选择要添加的文档。\n\n" + self.index_status()
        stored, refused = [], []
        for p in paths:
            try:
                steps = step_bar(progress, f"正在读取 {Path(p).name}", Eta(), of_build=False)
                stored += self.service.store_documents([Path(p)], replace, self.access.name(request), steps)
            except DocumentExists as exc:
                refused.append(f"- 未添加 {md(Path(p).name)}:已有同名文档 {md(exc.existing[0][1])},内容不同;"
                               "替换请在确认框中确认")
            except CorpusError as exc:
                refused.append(f"- 未添加 {md(Path(p).name)}:{md(exc.reason('zh'))}")
        lines = ["\n".join(refused)] if refused else []
        lines += [f"{md(s.name)} 已在知识库中 (内容相同),无需重建。" for s in stored if s.outcome == "unchanged"]
        added = [s.source for s in stored if s.outcome == "added"]
        replaced = [s for s in stored if s.outcome == "replaced"]
        if not added and not replaced:
            return "\n\n".join(["**没有添加任何文档。**", *lines, self.index_status()])
        if added:
            self.access.record(request, "add", added)
        for s in replaced:
            self.access.record(request, "replace", s.source, recycled=s.recycled.id if s.recycled else "")
        status = self.rebuild(progress, force=False, request=request)
        titles = {d["source"]: d for d in self.service.status().documents}

        def named(sources: list[str]) -> str:
            return "、".join(md(document_label(titles[a], self.service.settings)) if a in titles else md(Path(a).name)
                            for a in sources)

        done = [f"已添加 {len(added)} 个文档:{named(added)}"] if added else []
        if replaced:
            done.append(f"已替换 {len(replaced)} 个文档:{named([s.source for s in replaced])} (原文件在回收站)")
        return "\n\n".join([*done, *lines, status])

    def remove_document(self, source: str | None, progress=gr.Progress(),  # noqa: B008
                        request: gr.Request = None) -> str:
        if refused := self.access.refusal(request, "remove"):
            return refused + "\n\n" + self.index_status()
        if not source:
            return "请先选择要删除的文档。\n\n" + self.index_status()
        label = dict((v, k) for k, v in self.document_choices()).get(source, Path(source).name)
        try:
            self.service.remove_document(source, self.access.name(request))
        except CorpusError:
            return f"未删除 {md(label)}:它已不在语料文件夹中。\n\n" + self.index_status()
        self.access.record(request, "remove", source)
        return f"已删除 {md(label)}。\n\n" + self.rebuild(progress, force=False, request=request)

    def rebuild(self, progress=gr.Progress(), force: bool = True,  # noqa: B008 - Gradio injects progress
                request: gr.Request = None) -> str:
        if refused := self.access.refusal(request, "rebuild"):
            return refused + "\n\n" + self.index_status()
        try:
            progress(0, desc="正在重建索引:开始…")
            report = self.service.rebuild(force=force, steps=step_bar(progress, "正在重建索引", Eta()))
        except RebuildBusy:
            return "已有一次重建在进行中,完成后会自动使用新索引。\n\n" + self.index_status()
        except Exception:  # say so; the previous index stays in use, the log has the reason
            log.exception("rebuild failed")
            return "重建失败,仍在使用原索引 (原因见服务器日志)。\n\n" + self.index_status()
        self.access.record(request, "rebuild", force=force, passages=report.passages)
        done = (f"重建完成:{report.documents} 个文档,{report.passages} 个段落,新计算向量 {report.embedded} 条,"
                f"用时 {report.seconds:.1f} 秒。")
        return done + "\n\n" + self.index_status()


def step_bar(progress, what: str, eta: Eta, of_build: bool = True):
    """A ``Progress`` callback drawing Gradio's bar: the stage in Chinese, files or pages done of all,
    and the time left once it can be told (a scanned report's pages take seconds each)."""
    def on_step(step: Step) -> None:
        left = eta(step)
        counted = f" ({step.done} / {step.total}{'' if step.stage == 'read' else ' 页'})" \
            if step.stage in ("read", "ocr") and step.total else ""
        rest = f",约剩 {left:.0f} 秒" if left is not None and step.stage == "ocr" else ""
        share = step.fraction if of_build else (step.done / step.total if step.total else 0.0)
        progress(min(0.95, share), desc=f"{what}:{STAGE_ZH.get(step.stage, '处理中')}{counted}{rest}…")
    return on_step


def problem_reply(sentence: str) -> str:
    """A reply that is no search result: one sentence, copied as it reads."""
    return render("problem.html", sentence=sentence)


def heading_lines(text: str, body: list[tuple[int, int]]) -> frozenset[int]:
    """Start offsets of the text's lines that no passage covers (the title and the headings)."""
    body = sorted(body)
    starts, ends = [s for s, _ in body], []
    reach = -1
    for _, e in body:  # the furthest end reached by any passage starting at or before each one
        reach = max(reach, e)
        ends.append(reach)
    out, pos = set(), 0
    for line in text.split("\n"):
        s, e = pos, pos + len(line)
        pos = e + 1
        i = bisect_right(starts, e - 1) - 1  # the last passage starting inside or before the line
        if line.strip() and (i < 0 or ends[i] <= s):
            out.add(s)
    return frozenset(out)
