"""The index tab's text: the documents (titles and file names, never server paths), the files
that could not be read (with the reason in Chinese), and the state of the index."""

from __future__ import annotations

import re
from pathlib import Path

from ..formats import reason_zh
from ..service import IndexStatus
from ..settings import Settings
from .text import local_time, md

# The index's English staleness reasons, in Chinese; first match wins.
_STALE_ZH = [(r"^no index", "还没有索引"), (r"^new document (.+)", "新文档 {0}"),
             (r"^removed document (.+)", "已删除的文档 {0}"), (r"^changed document (.+)", "有改动的文档 {0}"),
             (r"^damaged file", "索引文件损坏"), (r"^store changed", "存储位置有变化"),
             (r"^(\w+) changed", "设置 {0} 有变化")]


def file_label(source: str, settings: Settings) -> str:
    """A document's file as people know it: its path inside the corpus folder, else its name."""
    path = Path(source) if Path(source).is_absolute() else settings.root / source
    try:
        return path.resolve().relative_to(settings.corpus.resolve()).as_posix()
    except (ValueError, OSError):
        return Path(source).name


def stale_zh(reason: str, settings: Settings) -> str:
    for pattern, zh in _STALE_ZH:
        m = re.match(pattern, reason)
        if m:
            return zh.format(*(file_label(g, settings) if "/" in g or "." in g else g for g in m.groups()))
    return "索引与文档不一致"


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
                    + "\n".join(f"- {md(file_label(k['source'], settings))}:{md(reason_zh(k['reason']))}"
                                for k in st.skipped))
    return (f"**{len(st.documents)} 个文档**\n\n" + "\n".join(rows) + problems
            + f"\n\n**检索片段数:** {st.passages}  \n**模型:** {st.model}  \n"
            f"**构建时间:** {local_time(st.built_at)}  \n**状态:** {state}")
