"""The index in Milvus: ``MilvusStore``, the same ``Store`` interface as ``LocalStore``.

``PUDONG_QA_MILVUS_URI`` chooses it: a path ending in ``.db`` is Milvus Lite (embedded, one
file), ``http://host:19530`` a Milvus server or cluster (``PUDONG_QA_MILVUS_TOKEN`` if it
needs one). The index folder keeps its local metadata (manifest, passages/ (columns), documents,
userdict, document frequencies); Milvus holds what grows with the corpus:

- collection ``<name>_a`` or ``<name>_b`` (one passage a row): key, text, source, title,
  heading path, paragraph, page, offsets, the dense vector (HNSW, inner product), the
  lexical sparse vector, and ``vectors``: the passage's and its sentences' float32 vectors
  packed into one field (Milvus Lite has no bytes field), fetched with the candidate;
- ``<…>_s`` (one sentence a row): key, passage key, the sentence's lexical sparse vector
  (and its vector for the rare passage with more sentences than fit inline).

Lexical scoring is ours: jieba with the corpus dictionary and stop-words (the same tokens
as the local store), weighted as Lucene BM25 — documents carry the length-normalised term
frequency as a sparse vector, the question carries each token's IDF, so the inner product
Milvus computes *is* BM25 (docs/scale-out.md measures this against Milvus's own BM25
function with its jieba tokenizer, and says why ours is used).

A build updates the standby of two physical collections incrementally (insert new passage
keys, delete gone ones), switches the alias ``<name>`` to it, and the folder swap of the
build commits the manifest that names it: a reader sees the old collection or the new.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..chunking import Passage
from ..errors import IndexUnavailable
from .base import (
    EMPTY_TOKEN,
    K1,
    B,
    bm25_idf,
)

LEXICAL = "own"  # recorded with each collection: our jieba tokens as BM25 sparse vectors
LEXICAL_PASSAGES = 1000  # lexical top-N fetched per question (the rest score 0)
LEXICAL_SENTENCES = 2000
AVGDL_TOLERANCE = 0.02  # a build whose mean length moved more than this rewrites every row
INLINE_SENTENCES = 24  # sentence vectors packed with their passage (base64 of 384 fp32 each fits 65,535 chars)
BATCH = 500
TIMEOUT_S = 5  # seconds to reach the server before saying it is unreachable
META_PROPERTY = "pudong_qa_meta"
KIND = "milvus"  # the manifest's store kind
PASSAGE_FILE_DF = "doc_freq.json"
SENTENCE_FILE_DF = "sentence_doc_freq.json"

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


# ---------------------------------------------------------------- connecting and naming


def is_lite(uri: str) -> bool:
    return uri.endswith(".db")


def resolve_uri(uri: str, root: Path) -> str:
    """A Lite file relative to the project root becomes absolute (the manifest records it)."""
    if is_lite(uri) and not uri.startswith(("http://", "https://", "tcp://", "unix:")):
        path = Path(uri).expanduser()
        return str(path if path.is_absolute() else (Path(root) / path).resolve())
    return uri


def hit_id(hit) -> int:
    return int(hit["entity"]["pk"])


def short_error(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    msg = getattr(exc, "message", None) or (details() if callable(details) else None)
    text = str(msg or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _quiet() -> None:
    """pymilvus logs every failed call with its gRPC traceback; errors reach the user as one line instead."""
    import pymilvus  # noqa: F401 - sets up its loggers

    for name in ("pymilvus", "milvus_lite"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL)
        for handler in logger.handlers:
            handler.setLevel(logging.CRITICAL)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith(("pymilvus", "milvus_lite")):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def connect(uri: str, token: str = ""):
    """One client per (uri, token) per process; IndexUnavailable, in one line, if unreachable."""
    _quiet()
    key = (uri, token)
    with _clients_lock:
        if key in _clients:
            return _clients[key]
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise IndexUnavailable("the Milvus store needs pymilvus and milvus-lite; "
                                   "`pip install pymilvus milvus-lite`") from exc
        if is_lite(uri):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            client = MilvusClient(uri=uri, token=token, timeout=TIMEOUT_S) if token else \
                MilvusClient(uri=uri, timeout=TIMEOUT_S)
            client.list_collections()
        except Exception as exc:  # pymilvus and grpc raise many types; all mean "cannot use it"
            hint = ("Milvus Lite opens a file in one process at a time: is another pudong-qa using it?"
                    if is_lite(uri) else "start it (see README, 'Milvus') or unset PUDONG_QA_MILVUS_URI")
            raise IndexUnavailable(f"cannot reach Milvus at {uri} ({short_error(exc)}); {hint}") from None
        _clients[key] = client
        return client


def collection_base(index_dir: Path) -> str:
    """The index's name in Milvus, derived from the index folder it belongs to."""
    digest = hashlib.sha1(str(Path(index_dir).resolve()).encode()).hexdigest()[:12]
    return f"pudong_qa_{digest}"


def passage_key(p: Passage) -> int:
    """A passage's primary key: a hash of everything stored with it, so an unchanged passage
    keeps its row and a changed one gets a new row (upsert by passage id)."""
    blob = json.dumps([p.source, p.title, p.section, p.paragraph, p.start, p.end, p.text, p.page, p.sentences],
                      ensure_ascii=False)
    return int.from_bytes(hashlib.sha1(blob.encode()).digest()[:8], "big") & ((1 << 63) - 1)


def sentence_key(pkey: int, j: int) -> int:
    return int.from_bytes(hashlib.sha1(f"{pkey}#{j}".encode()).digest()[:8], "big") & ((1 << 63) - 1)


def term_id(token: str) -> int:
    return zlib.crc32(token.encode())


# ---------------------------------------------------------------- BM25 as sparse vectors


def bm25_doc_vector(tokens: Sequence[str], avgdl: float) -> dict[int, float]:
    """Lucene BM25's document side (bm25s's variant): tf / (tf + k1·(1 − b + b·dl/avgdl))."""
    dl = max(len(tokens), 1)
    norm = K1 * (1 - B + B * dl / avgdl)
    # Milvus refuses an all-zero sparse vector: a text without words gets a term no question has
    return {term_id(t): tf / (tf + norm) for t, tf in Counter(tokens).items()} or {term_id(EMPTY_TOKEN): 1.0}


def bm25_query_vector(tokens: Sequence[str], df: dict[str, int], n: int) -> dict[int, float]:
    """The question side: each known token's IDF, repeated tokens counted again (as bm25s)."""
    q: dict[int, float] = {}
    for t in tokens:
        d = df.get(t, 0)
        if d:
            q[term_id(t)] = q.get(term_id(t), 0.0) + bm25_idf(n, d)
    return q


def mean_length(docs: Iterable[Sequence[str]]) -> float:
    lengths = [max(len(t), 1) for t in docs]
    return sum(lengths) / max(len(lengths), 1)


def pack_vectors(vectors: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(vectors, dtype="<f4").tobytes()).decode("ascii")


def unpack_vectors(text: str, dim: int) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(-1, dim)


def collection_meta(client, name: str) -> dict:
    """The settings a collection was built with (a collection property; Lite keeps no description)."""
    try:
        return json.loads((client.describe_collection(name).get("properties") or {}).get(META_PROPERTY) or "{}")
    except ValueError:
        return {}
