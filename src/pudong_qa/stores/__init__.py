"""Where an index's vectors and lexical postings live: one ``Store`` interface, two stores.

``LocalStore`` keeps them as files in the index folder; ``MilvusStore`` in Milvus (Lite or a
server). ``store_class`` picks the one a build writes, ``open_store`` the one an index was
written with; nothing else names either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..chunking import Passage
from .base import LexicalScores, Store, StoreInput, StoreOptions, bm25_idf, sentence_layout, top_indices
from .local import LocalStore, build_ann, choose_ann

__all__ = [
    "LexicalScores", "LocalStore", "Store", "StoreInput", "StoreOptions", "bm25_idf", "build_ann", "choose_ann",
    "open_store", "resolved", "sentence_layout", "store_class", "store_state", "top_indices",
]


def _milvus():
    from .milvus_store import MilvusStore

    return MilvusStore


def store_class(options: StoreOptions) -> type[Store]:
    """The store a build writes: Milvus when a URI is set, else the local files."""
    return _milvus() if options.uri else LocalStore


def store_state(options: StoreOptions, root: Path) -> dict[str, Any] | None:
    """What the manifest records of the store an index must be in (None: the local files), so
    switching stores makes the index stale."""
    if not options.uri:
        return None
    from .milvus import resolve_uri

    return {"kind": _milvus().kind, "uri": resolve_uri(options.uri, root)}


def resolved(options: StoreOptions, root: Path) -> StoreOptions:
    """``options`` with a Milvus Lite file relative to ``root`` made absolute."""
    state = store_state(options, root)
    return options if state is None else StoreOptions(state["uri"], options.token, options.ann)


def open_store(directory: Path, passages: list[Passage], info: dict[str, Any] | None,
               options: StoreOptions) -> Store:
    """The store of the index in ``directory``, as its manifest entry ``info`` says it was written."""
    info = info or {"kind": LocalStore.kind}
    cls = _milvus() if info.get("kind") == "milvus" else LocalStore
    return cls.load(directory, passages, info, options)
