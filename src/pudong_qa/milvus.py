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
function with its jieba tokenizer, ``LEXICAL = "milvus"``, and says why ours was kept).

A build updates the standby of two physical collections incrementally (insert new passage
keys, delete gone ones), then the folder swap in index.py commits it, and the alias
``<name>`` is switched to it: a reader sees the old collection or the new, never a mix.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .chunking import Passage
from .errors import IndexUnavailable
from .store import EMPTY_TOKEN, LexicalScores, Store, sentence_layout

LEXICAL = "own"  # "own": our jieba tokens as BM25 sparse vectors; "milvus": Milvus's BM25 function + jieba
LEXICAL_PASSAGES = 1000  # lexical top-N fetched per question (the rest score 0)
LEXICAL_SENTENCES = 2000
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF = 32, 80, 128
K1, B = 1.5, 0.75  # bm25s's (Lucene) defaults, as the local store
AVGDL_TOLERANCE = 0.02  # a build whose mean length moved more than this rewrites every row
INLINE_SENTENCES = 24  # sentence vectors packed with their passage (base64 of 384 fp32 each fits 65,535 chars)
BATCH = 500
TIMEOUT_S = 5  # seconds to reach the server before saying it is unreachable
META_PROPERTY = "pudong_qa_meta"
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


def _hit_id(hit) -> int:
    return int(hit["entity"]["pk"])


def _short(exc: BaseException) -> str:
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
            raise IndexUnavailable(f"cannot reach Milvus at {uri} ({_short(exc)}); {hint}") from None
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
            q[term_id(t)] = q.get(term_id(t), 0.0) + math.log(1 + (n - d + 0.5) / (d + 0.5))
    return q


def mean_length(docs: Iterable[Sequence[str]]) -> float:
    lengths = [max(len(t), 1) for t in docs]
    return sum(lengths) / max(len(lengths), 1)


def _pack(vectors: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(vectors, dtype="<f4").tobytes()).decode("ascii")


def _unpack(text: str, dim: int) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(-1, dim)


# ---------------------------------------------------------------- schema


def _schema(client, dim: int, lexical: str, sentences: bool):
    from pymilvus import DataType, Function, FunctionType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("pk", DataType.INT64, is_primary=True)
    if lexical == "milvus":
        s.add_field("text", DataType.VARCHAR, max_length=8192, enable_analyzer=True,
                    analyzer_params={"tokenizer": "jieba"})
    else:
        s.add_field("text", DataType.VARCHAR, max_length=8192)
    s.add_field("lexical", DataType.SPARSE_FLOAT_VECTOR)
    if lexical == "milvus":
        s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                output_field_names=["lexical"]))
    s.add_field("vectors", DataType.VARCHAR, max_length=65535)
    if sentences:
        s.add_field("passage", DataType.INT64)
    else:
        for name in ("source", "title", "section"):
            s.add_field(name, DataType.VARCHAR, max_length=4096)
        for name in ("paragraph", "page", "start", "end"):
            s.add_field(name, DataType.INT64)
        s.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    index = client.prepare_index_params()
    index.add_index("lexical", index_type="SPARSE_INVERTED_INDEX",
                    metric_type="BM25" if lexical == "milvus" else "IP")
    if not sentences:
        index.add_index("dense", index_type="HNSW", metric_type="IP",
                        params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
    return s, index


def _meta(client, name: str) -> dict:
    """The settings a collection was built with (a collection property; Lite keeps no description)."""
    try:
        return json.loads((client.describe_collection(name).get("properties") or {}).get(META_PROPERTY) or "{}")
    except ValueError:
        return {}


# ---------------------------------------------------------------- writing


def write(uri: str, token: str, index_dir: Path, directory: Path, passages: Sequence[Passage],
          passage_tokens: list[list[str]], sentence_tokens: list[list[str]], passage_vectors: np.ndarray,
          sentence_vectors: np.ndarray, identity: dict, log=lambda _: None) -> dict:
    """Bring the standby collection up to date (insert new keys, delete gone ones), write the
    local document frequencies into ``directory``, switch the alias; returns the manifest's
    ``store`` entry."""
    client = connect(uri, token)
    base = collection_base(index_dir)
    dim = int(passage_vectors.shape[1])
    df = Counter(w for t in passage_tokens for w in set(t))
    sdf = Counter(w for t in sentence_tokens for w in set(t))
    (directory / PASSAGE_FILE_DF).write_text(json.dumps(df, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    (directory / SENTENCE_FILE_DF).write_text(json.dumps(sdf, ensure_ascii=False, sort_keys=True),
                                              encoding="utf-8")
    try:
        live = client.describe_alias(base).get("collection_name") if base in _aliases(client) else None
        name = f"{base}_b" if live == f"{base}_a" else f"{base}_a"
        meta = {"identity": identity, "dim": dim, "lexical": LEXICAL,
                "avgdl": mean_length(passage_tokens), "avgdl_sentences": mean_length(sentence_tokens)}
        old = _meta(client, name) if client.has_collection(name) else None
        if old is not None and (old.get("identity") != identity or old.get("dim") != dim
                                or old.get("lexical") != LEXICAL
                                or abs(old.get("avgdl", 0) / meta["avgdl"] - 1) > AVGDL_TOLERANCE
                                or abs(old.get("avgdl_sentences", 0) / meta["avgdl_sentences"] - 1)
                                > AVGDL_TOLERANCE or not client.has_collection(f"{name}_s")):
            log(f"Milvus: {name} was built with other settings; rewriting it")
            old = None
        if old is None:
            for n in (name, f"{name}_s"):
                if client.has_collection(n):
                    client.drop_collection(n)
            for n, is_sentences in ((name, False), (f"{name}_s", True)):
                schema, index = _schema(client, dim, LEXICAL, is_sentences)
                client.create_collection(n, schema=schema, index_params=index)
        else:
            meta["avgdl"], meta["avgdl_sentences"] = old["avgdl"], old["avgdl_sentences"]  # rows stay consistent
        keys = [passage_key(p) for p in passages]
        have = _keys(client, name)
        gone = sorted(have - set(keys))
        new = [i for i, k in enumerate(keys) if k not in have]
        offsets, _ = sentence_layout(passages)
        if gone:
            for k in range(0, len(gone), BATCH):
                part = gone[k : k + BATCH]
                client.delete(name, filter=f"pk in {part}")
                client.delete(f"{name}_s", filter=f"passage in {part}")
        rows, srows = [], []
        for i in new:
            p, key = passages[i], keys[i]
            lo, hi = int(offsets[i]), int(offsets[i + 1])
            rows.append({
                "pk": key, "text": _lexical_text(passage_tokens[i], p, LEXICAL),
                "lexical": bm25_doc_vector(passage_tokens[i], meta["avgdl"]) if LEXICAL == "own" else None,
                "vectors": _pack(np.vstack([passage_vectors[i : i + 1], sentence_vectors[lo : min(hi, lo +
                                                                                              INLINE_SENTENCES)]])),
                "source": p.source, "title": p.title[:1000], "section": p.section[:1000], "paragraph": p.paragraph,
                "page": -1 if p.page is None else p.page, "start": p.start, "end": p.end,
                "dense": np.asarray(passage_vectors[i], dtype=np.float32).tolist(),
            })
            for j, row in enumerate(range(lo, hi)):
                srows.append({"pk": sentence_key(key, j), "passage": key,
                              "text": _lexical_text(sentence_tokens[row], None, LEXICAL),
                              "lexical": bm25_doc_vector(sentence_tokens[row], meta["avgdl_sentences"])
                              if LEXICAL == "own" else None,
                              "vectors": _pack(sentence_vectors[row : row + 1]) if j >= INLINE_SENTENCES else ""})
        for n, batch in ((name, rows), (f"{name}_s", srows)):
            if LEXICAL != "own":
                for r in batch:
                    del r["lexical"]
            for k in range(0, len(batch), BATCH):
                client.upsert(n, batch[k : k + BATCH])
        log(f"Milvus: {name}: {len(new)} passages added, {len(gone)} removed, {len(keys) - len(new)} kept")
        for n in (name, f"{name}_s"):
            client.flush(n)
            client.load_collection(n)
        if _meta(client, name) != meta:
            client.alter_collection_properties(name, {META_PROPERTY: json.dumps(meta, sort_keys=True)})
        if base in _aliases(client):
            client.alter_alias(name, base)
        else:
            client.create_alias(name, base)
    except IndexUnavailable:
        raise
    except Exception as exc:
        raise IndexUnavailable(f"writing the index to Milvus at {uri} failed ({_short(exc)})") from None
    return {"kind": "milvus", "uri": uri, "collection": name, "alias": base, "lexical": LEXICAL,
            "avgdl": meta["avgdl"], "avgdl_sentences": meta["avgdl_sentences"], "dim": dim,
            "identity": identity}


def _lexical_text(tokens: list[str], p: Passage | None, lexical: str) -> str:
    """What the collection keeps as text: with Milvus's BM25, our normalised tokens joined by
    spaces (so stop-words and the corpus dictionary still apply); with ours, the passage text."""
    if lexical == "milvus":
        return " ".join(tokens)[:2700] or "<empty>"
    return p.text if p is not None else ""


def _aliases(client) -> list[str]:
    try:
        return list(client.list_aliases().get("aliases", []))
    except Exception:
        return []


def _keys(client, name: str) -> set[int]:
    out: set[int] = set()
    it = client.query_iterator(name, batch_size=5000, filter="pk >= 0", output_fields=["pk"])
    try:
        while True:
            batch = it.next()
            if not batch:
                break
            out.update(int(r["pk"]) for r in batch)
    finally:
        it.close()
    return out


def switch_alias(uri: str, token: str, info: dict) -> None:
    client = connect(uri, token)
    if info["alias"] in _aliases(client):
        client.alter_alias(info["collection"], info["alias"])
    else:
        client.create_alias(info["collection"], info["alias"])


# ---------------------------------------------------------------- the store


class MilvusStore(Store):
    """Candidates and vectors from Milvus; passages, sentence layout and document frequencies local."""

    def __init__(self, client, uri: str, info: dict, passages: Sequence[Passage], df: dict[str, int],
                 sdf: dict[str, int]) -> None:
        self.client, self.uri, self.info = client, uri, info
        self.collection = info["collection"]
        self.passages = passages
        self.doc_freq, self.sentence_df = df, sdf
        self.dim = int(info["dim"])
        self.sentence_offsets, self.sentence_owner = sentence_layout(passages)
        keys = [passage_key(p) for p in passages]
        self.keys = np.array(keys, dtype=np.int64)
        self.position = {k: i for i, k in enumerate(keys)}
        self.sentence_row = {sentence_key(k, j): int(self.sentence_offsets[i]) + j
                             for i, k in enumerate(keys) for j in range(len(passages[i].sentences))}
        self._local = threading.local()  # the current question's fetched vectors, per thread

    @classmethod
    def load(cls, directory: Path, passages: Sequence[Passage], info: dict, token: str = "") -> MilvusStore:
        uri = info["uri"]
        client = connect(uri, token)
        name = info["collection"]
        try:
            if not client.has_collection(name) or not client.has_collection(f"{name}_s"):
                raise IndexUnavailable(f"Milvus at {uri} has no collection {name}; run `pudong-qa build --force`")
            meta = _meta(client, name)
            client.load_collection(name)
            client.load_collection(f"{name}_s")
            count = client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]
        except IndexUnavailable:
            raise
        except Exception as exc:
            raise IndexUnavailable(f"cannot read collection {name} from Milvus at {uri} ({_short(exc)})") from None
        if meta.get("identity") != info.get("identity") or meta.get("lexical") != info.get("lexical") \
                or meta.get("dim") != info.get("dim") \
                or abs(meta.get("avgdl", 0) - info.get("avgdl", -1)) > 1e-9 or count != len(passages):
            raise IndexUnavailable(f"Milvus collection {name} belongs to another model or settings "
                                   f"({count} rows for {len(passages)} passages, model "
                                   f"{meta.get('identity', {}).get('model')!r}); run `pudong-qa build --force`")
        df = json.loads((directory / PASSAGE_FILE_DF).read_text(encoding="utf-8"))
        sdf = json.loads((directory / SENTENCE_FILE_DF).read_text(encoding="utf-8"))
        return cls(client, uri, info, passages, df, sdf)

    # ------------------------------------------------------------ calls

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise IndexUnavailable(f"Milvus at {self.uri} failed ({_short(exc)})") from None

    def _cache(self) -> dict[int, np.ndarray]:
        cache = getattr(self._local, "vectors", None)
        if cache is None:
            cache = self._local.vectors = {}
        return cache

    # ------------------------------------------------------------ the Store interface

    def prefetch(self, token_lists: list[list[str]], qvecs: np.ndarray, n: int) -> None:
        """A batch of questions' lexical hits, dense hits and candidate vectors in a few calls
        (each Milvus search takes many queries), kept for this thread until the next batch.
        Searches return ids only: the vectors of the batch's candidates, which recur across its
        questions, come in one ``get`` (returned with every hit, the report's were sent ~60 times)."""
        qvecs = np.asarray(qvecs, np.float32)
        lexical = self._lexical_hits(token_lists)
        dense = [ids for ids, _ in self._dense_hits(qvecs, n, vectors=False)]
        self._local.prefetched = ({tuple(t): hits for t, hits in zip(token_lists, lexical)},
                                  {(q.tobytes(), n): ids for q, ids in zip(qvecs, dense)})
        self._local.vectors = {}  # one cache for the batch
        wanted = set()
        for ids, ((prow, pscore), _) in zip(dense, lexical):
            wanted.update(int(i) for i in ids)
            wanted.update(int(i) for i in prow[np.argsort(-pscore)[:n]])
        self._vectors_of(wanted)

    def _lexical_hits(self, token_lists: list[list[str]]) -> list[tuple[tuple[np.ndarray, np.ndarray], ...]]:
        """Per question, (rows, scores) of its passage hits and of its sentence hits."""
        out = [[] for _ in token_lists]
        for name, n, rows, df in ((self.collection, LEXICAL_PASSAGES, self.position, self.doc_freq),
                                  (f"{self.collection}_s", LEXICAL_SENTENCES, self.sentence_row, self.sentence_df)):
            if self.info["lexical"] == "own":
                queries = [bm25_query_vector(t, df, len(rows)) if t else {} for t in token_lists]
                params = {"metric_type": "IP"}
            else:
                queries = [" ".join(t) for t in token_lists]
                params = {"metric_type": "BM25"}
            asked = [i for i, q in enumerate(queries) if q]
            results = self._call(self.client.search, name, data=[queries[i] for i in asked], anns_field="lexical",
                                 limit=min(n, len(rows)), output_fields=["pk"], search_params=params) if asked else []
            found = dict(zip(asked, results))
            for i in range(len(token_lists)):
                pairs = [(rows.get(_hit_id(h)), abs(float(h["distance"]))) for h in found.get(i, [])]
                pairs = [(r, d) for r, d in pairs if r is not None]
                out[i].append((np.array([r for r, _ in pairs], dtype=np.int64),
                               np.array([d for _, d in pairs], dtype=np.float32)))
        return [tuple(x) for x in out]

    def _dense_hits(self, qvecs: np.ndarray, k: int, vectors: bool) -> list[tuple[np.ndarray, dict[int, np.ndarray]]]:
        """Per question, the positions of its nearest passages (nearest first) and, if asked
        for, their packed vectors (saving one question a second call)."""
        if not len(qvecs):
            return []
        results = self._call(self.client.search, self.collection, data=[q.tolist() for q in qvecs],
                             anns_field="dense", limit=min(k, len(self.passages)),
                             output_fields=["pk", "vectors"] if vectors else ["pk"],
                             search_params={"metric_type": "IP", "params": {"ef": max(HNSW_EF, k)}})
        out = []
        for hits in results:
            found = {}
            for h in hits:
                pos = self.position.get(_hit_id(h))
                if pos is not None:
                    found[pos] = _unpack(h["entity"]["vectors"], self.dim) if vectors else None
            out.append((np.array(list(found), dtype=np.int64), found if vectors else {}))
        return out

    # ------------------------------------------------------------ the Store interface

    def lexical_scores(self, tokens: list[str]) -> LexicalScores:
        lexical, _ = getattr(self._local, "prefetched", ({}, {}))
        hits = lexical.get(tuple(tokens))
        if hits is None:  # a question outside a prefetched batch
            self._local.vectors = {}
            hits = self._lexical_hits([tokens])[0]
        passages = np.zeros(len(self.passages), dtype=np.float32)
        sentences = np.zeros(len(self.sentence_owner), dtype=np.float32)
        for out, (rows, scores) in zip((passages, sentences), hits):
            out[rows] = scores
        return LexicalScores(passages, sentences)

    def document_frequency(self, word: str) -> int:
        return int(self.doc_freq.get(word, 0))

    def nearest(self, qvec: np.ndarray, k: int) -> np.ndarray:
        qvec = np.asarray(qvec, np.float32)
        _, dense = getattr(self._local, "prefetched", ({}, {}))
        ids = dense.get((qvec.tobytes(), k))
        if ids is None:  # a single question: its hits bring their vectors
            ids, vectors = self._dense_hits(qvec[None, :], k, vectors=True)[0]
            self._cache().update(vectors)
        return ids

    def _vectors_of(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        cache = self._cache()
        missing = sorted({int(i) for i in ids} - cache.keys())
        for k in range(0, len(missing), 1000):
            part = missing[k : k + 1000]
            rows = self._call(self.client.get, self.collection, ids=[int(self.keys[i]) for i in part],
                              output_fields=["pk", "vectors"])
            for r in rows:
                cache[self.position[int(r["pk"])]] = _unpack(r["vectors"], self.dim)
        return cache

    def passage_vectors(self, ids: np.ndarray) -> np.ndarray:
        cache = self._vectors_of(ids)
        return np.stack([cache[int(i)][0] for i in ids]) if len(ids) else np.zeros((0, self.dim), np.float32)

    def sentence_vectors(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros((0, self.dim), np.float32)
        owners = self.sentence_owner[rows]
        cache = self._vectors_of(np.unique(owners))
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        overflow = []
        for n, (row, pid) in enumerate(zip(rows, owners)):
            j = int(row) - int(self.sentence_offsets[pid])
            block = cache[int(pid)]
            if j + 1 < len(block):
                out[n] = block[j + 1]
            else:
                overflow.append((n, sentence_key(int(self.keys[pid]), j)))
        if overflow:
            got = self._call(self.client.get, f"{self.collection}_s", ids=[k for _, k in overflow],
                             output_fields=["pk", "vectors"])
            by_key = {int(r["pk"]): _unpack(r["vectors"], self.dim)[0] for r in got}
            for n, key in overflow:
                out[n] = by_key[key]
        return out
