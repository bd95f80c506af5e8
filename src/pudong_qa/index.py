"""Reading a built index folder: checking it, loading it, and the texts citations point into.

Layout of ``index/`` (safe formats only, no pickle; written by ``indexing.build_index``)::

    manifest.json         corpus hashes, settings, model identity, versions, file checksums
    passages/             passages with their citations, as numpy columns and texts (passages.py)
    documents.json        each document's extracted text (citations index into it), title, format, encoding
    userdict.json         corpus terms added to jieba (same on index and query side)
    short_forms.json      short forms the documents define ("国内生产总值(GDP)"), searched as synonyms
    tokens/               each passage's and sentence's BM25 tokens, for incremental builds
    …                     the store's own files (stores/local.py), or its entry in Milvus
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import IndexUnavailable
from .passages import read_passages
from .stores import Store, StoreOptions, open_store
from .tokenize import Tokenizer

MANIFEST = "manifest.json"
DOCUMENTS = "documents.json"
USER_DICT = "userdict.json"
SHORT_FORMS = "short_forms.json"


@dataclass
class Index:
    """A loaded index: the store search reads from, the query-side tokenizer, the manifest."""

    path: Path
    manifest: dict[str, Any]
    store: Store
    tokenizer: Tokenizer
    titles: dict[str, str] = field(default_factory=dict)  # source -> document title
    short_forms: dict[str, list[str]] = field(default_factory=dict)  # short form -> full names its documents define

    @property
    def passages(self):
        return self.store.passages


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def verify_files(index_dir: Path) -> list[str]:
    """Files that are missing or whose checksum differs from the manifest."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        return [MANIFEST]
    bad = []
    for name, digest in manifest.get("files", {}).items():
        path = Path(index_dir) / name
        if not path.is_file() or file_sha256(path) != digest:
            bad.append(name)
    return bad


def load_index(index_dir: Path, verify: bool = True, *, options: StoreOptions | None = None,
               cache_dir: Path | None = None) -> Index:
    """Load a built index; raises IndexUnavailable with a remedy if it is unusable.
    ``options`` carry a remote store's credentials; ``cache_dir`` is where jieba's dictionary
    is kept as plain files (``tokenize``)."""
    index_dir = Path(index_dir)
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexUnavailable(f"no index at {index_dir}; run `pudong-qa build`")
    if verify:
        bad = verify_files(index_dir)
        if bad:
            raise IndexUnavailable(f"index at {index_dir} is damaged ({', '.join(bad)}); run `pudong-qa build --force`")
    try:
        passages = read_passages(index_dir)
        terms = json.loads((index_dir / USER_DICT).read_text(encoding="utf-8"))
        store = open_store(index_dir, passages, manifest.get("store"), options or StoreOptions())
    except IndexUnavailable:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexUnavailable(f"index at {index_dir} cannot be read ({exc}); run `pudong-qa build --force`") from exc
    titles = {d["source"]: d["title"] for d in manifest.get("documents", [])}
    return Index(index_dir, manifest, store, Tokenizer(terms, cache_dir=cache_dir), titles, read_short_forms(index_dir))


def read_short_forms(index_dir: Path) -> dict[str, list[str]]:
    """The short forms the index's documents define (search/synonyms.py); none for an index built
    before they were recorded."""
    try:
        return json.loads((Path(index_dir) / SHORT_FORMS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def read_documents(index_dir: Path) -> dict[str, dict]:
    """Each indexed document (source, title, format, encoding, extracted text), by source."""
    try:
        records = json.loads((Path(index_dir) / DOCUMENTS).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"index at {index_dir} has no readable {DOCUMENTS}; run `pudong-qa build --force`") \
            from exc
    return {r["source"]: r for r in records}


def read_source(index_dir: Path, source: str) -> str:
    """The extracted text a citation's offsets point into (for Word, PDF and HTML files this is
    the text the index stored, not the file's bytes)."""
    docs = read_documents(index_dir)
    if source not in docs:
        raise IndexUnavailable(f"{source} is not in the index at {index_dir}")
    return docs[source]["text"]


__all__ = ["Index", "IndexUnavailable", "load_index", "read_documents", "read_manifest", "read_source", "verify_files"]
