"""The index tab's text: the documents (titles and file names, never server paths), the files
that could not be read (with the reason in Chinese), and the state of the index."""

from __future__ import annotations

from pathlib import Path

from ..errors import Problem
from ..messages import say
from ..service import IndexStatus
from ..settings import Settings
from .text import local_time, md


def file_label(source: str, settings: Settings) -> str:
    """A document's file as people know it: its path inside the corpus folder, else its name."""
    path = Path(source) if Path(source).is_absolute() else settings.root / source
    try:
        return path.resolve().relative_to(settings.corpus.resolve()).as_posix()
    except (ValueError, OSError):
        return Path(source).name


def stale_zh(reason: Problem, settings: Settings) -> str:
    """Why the index is out of date, in Chinese, a document named by its file as people know it."""
    params = dict(reason.params)
    if "source" in params:
        params["source"] = file_label(params["source"], settings)
    return say(reason.code, params, "zh")


def skipped_zh(entry: dict) -> str:
    """A manifest's reason for an unreadable file, in Chinese (an index built before reasons were
    kept as codes has only the English sentence)."""
    return say(entry["code"], entry.get("params") or {}, "zh") if entry.get("code") else entry["reason"]


def document_label(doc: dict, settings: Settings) -> str:
    """《title》 (file), as the delete list names a document."""
    return f"《{doc['title']}》 ({file_label(doc['source'], settings)})"


def status_markdown(st: IndexStatus, settings: Settings, rebuilding: bool) -> str:
    """The index tab: documents, unreadable files, passages, model, build time and state."""
    rows = ["| 文档 | 文件 | 格式 | 字数 | 检索片段 | 编码 |", "| --- | --- | --- | --- | --- | --- |"]
    rows += [f"| 《{md(d['title'])}》 | {md(file_label(d['source'], settings))} | {d.get('format', '?')} | "
             f"{d['chars']} | {d.get('passages', '?')} | {d.get('encoding') or '—'} |" for d in st.documents]
    if not st.stale:
        state = "最新"
    else:
        state = "需要重建:" + "、".join(dict.fromkeys(stale_zh(r, settings) for r in st.stale[:5]))
    if rebuilding:
        state += " — 正在重建…"
    problems = ""
    if st.skipped:
        problems = (f"\n\n**{len(st.skipped)} 个文件无法读取,没有编入索引** (可在右侧“删除文档”中删除):\n"
                    + "\n".join(f"- {md(file_label(k['source'], settings))}:{md(skipped_zh(k))}"
                                for k in st.skipped))
    return (f"**{len(st.documents)} 个文档**\n\n" + "\n".join(rows) + problems
            + f"\n\n**检索片段数:** {st.passages}  \n**模型:** {st.model}  \n"
            f"**构建时间:** {local_time(st.built_at)}  \n**状态:** {state}")
