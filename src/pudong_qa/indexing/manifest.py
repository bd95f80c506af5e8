"""What an index was built from (the manifest's ``state``) and why an index is out of date."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..chunking import Passage
from ..corpus import CorpusReading, corpus_files, relative_source
from ..errors import Problem
from ..index import file_sha256, read_manifest
from ..settings import Settings
from ..stores import StoreOptions, resolved, store_state
from ..tokenize import STOPWORDS

FORMAT_VERSION = 4  # the layout of the index folder
PIPELINE_VERSION = 4  # bumped when the text that gets indexed or tokenized changes, so old indexes go stale
VERSIONED = ("pudong-qa", "sentence-transformers", "transformers", "torch", "faiss-cpu", "bm25s", "jieba", "opencc")
IDENTITY_KEYS = ("format", "pipeline", "chunking", "model", "stopwords")  # what a store's contents depend on


def versions(packages: tuple[str, ...] = VERSIONED) -> dict[str, str]:
    out = {}
    for pkg in packages:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[pkg] = importlib.metadata.version(pkg)
    return out


def store_options(settings: Settings) -> StoreOptions:
    """Where the settings put the store (a Milvus Lite file made absolute against the root)."""
    return resolved(StoreOptions(settings.milvus_uri, settings.milvus_token, settings.ann), settings.root)


def expected_state(settings: Settings) -> dict[str, Any]:
    """What an up-to-date index must have been built from; compared on every load."""
    from ..embedding import model_identity

    files = [{"source": relative_source(path, settings.root), "sha256": file_sha256(path)}
             for path in corpus_files(settings.corpus)]
    store = store_state(store_options(settings), settings.root)
    return {
        "format": FORMAT_VERSION,
        "pipeline": PIPELINE_VERSION,
        "corpus": files,
        "chunking": settings.chunking(),
        "model": model_identity(settings.model),
        "stopwords": hashlib.sha256(" ".join(sorted(STOPWORDS)).encode()).hexdigest()[:16],
        "tokenizer": versions(("jieba", "opencc")),  # checked on every start: look up only these
        **({"store": store} if store else {}),
    }


def stale_reasons(settings: Settings, manifest: dict[str, Any] | None = None,
                  want: dict[str, Any] | None = None) -> list[Problem]:
    """Why the index at ``settings.index`` does not match the corpus and settings (empty if it does)."""
    manifest = manifest if manifest is not None else read_manifest(settings.index)
    if manifest is None:
        return [Problem("no_index", {"path": str(settings.index)})]
    want = want if want is not None else expected_state(settings)  # hashes every corpus file
    have = manifest.get("state", {})
    reasons = [Problem("setting_changed", {"key": key}) for key in IDENTITY_KEYS if have.get(key) != want[key]]
    if have.get("store") != want.get("store"):
        reasons.append(Problem("store_changed", {"uri": (want.get("store") or {}).get("uri") or "local"}))
    old = {f["source"]: f["sha256"] for f in have.get("corpus", [])}
    new = {f["source"]: f["sha256"] for f in want["corpus"]}
    reasons += [Problem("new_document", {"source": src}) for src in sorted(new.keys() - old.keys())]
    reasons += [Problem("removed_document", {"source": src}) for src in sorted(old.keys() - new.keys())]
    reasons += [Problem("changed_document", {"source": src})
                for src in sorted(k for k in new.keys() & old.keys() if new[k] != old[k])]
    return reasons


def needs_model(reasons: list[Problem]) -> bool:
    """Whether a build for these reasons will likely embed texts (so the model is worth loading early)."""
    return any(r.code in ("new_document", "changed_document", "no_index") for r in reasons)


def manifest_record(directory: Path, reading: CorpusReading, passages: Sequence[Passage], sentences: int,
                    dim: int, state: dict[str, Any], store_info: dict[str, Any], model: str) -> dict[str, Any]:
    """The manifest of the index written into ``directory``, with a checksum of every file in it."""
    counts = Counter(p.source for p in passages)
    files = {p.relative_to(directory).as_posix(): file_sha256(p) for p in sorted(directory.rglob("*")) if p.is_file()}
    return {
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "documents": [{"source": d.source, "title": d.title, "chars": len(d.text),
                       "format": Path(d.source).suffix.lower().lstrip("."), "encoding": d.encoding,
                       "passages": counts[d.source]} for d in reading.documents],
        "skipped": [{"source": k.source, "reason": k.reason, "code": k.code, "params": k.params}
                    for k in reading.skipped],
        "passages": len(passages),
        "sentences": sentences,
        "model": model,
        "dim": dim,
        "versions": versions(),
        "state": state,
        "store": store_info,
        "files": files,
    }
