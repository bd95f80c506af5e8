"""``MilvusStore``: search reads candidates and vectors from Milvus (milvus.py has the layout);
passages, the sentence layout and document frequencies stay in the index folder."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..chunking import Passage
from ..errors import IndexUnavailable
from .base import HNSW_EF_SEARCH, LexicalScores, Store, StoreInput, StoreOptions, sentence_layout
from .milvus import (
    KIND,
    LEXICAL_PASSAGES,
    LEXICAL_SENTENCES,
    PASSAGE_FILE_DF,
    SENTENCE_FILE_DF,
    bm25_query_vector,
    collection_meta,
    connect,
    hit_id,
    passage_key,
    sentence_key,
    short_error,
    unpack_vectors,
)
from .milvus_write import write


class MilvusStore(Store):
    """Candidates and vectors from Milvus; passages, sentence layout and document frequencies local."""

    kind = KIND

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
    def write(cls, directory: Path, data: StoreInput, options: StoreOptions) -> dict[str, Any]:
        return write(directory, data, options)

    @classmethod
    def load(cls, directory: Path, passages: Sequence[Passage], info: dict[str, Any],
             options: StoreOptions) -> MilvusStore:
        uri = info["uri"]
        client = connect(uri, options.token)
        name = info["collection"]
        try:
            if not client.has_collection(name) or not client.has_collection(f"{name}_s"):
                raise IndexUnavailable(f"Milvus at {uri} has no collection {name}; run `pudong-qa build --force`")
            meta = collection_meta(client, name)
            client.load_collection(name)
            client.load_collection(f"{name}_s")
            count = client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]
        except IndexUnavailable:
            raise
        except Exception as exc:
            raise IndexUnavailable(f"cannot read collection {name} from Milvus at {uri} ({short_error(exc)})") from None
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
            raise IndexUnavailable(f"Milvus at {self.uri} failed ({short_error(exc)})") from None

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
            queries = [bm25_query_vector(t, df, len(rows)) if t else {} for t in token_lists]
            params = {"metric_type": "IP"}
            asked = [i for i, q in enumerate(queries) if q]
            results = self._call(self.client.search, name, data=[queries[i] for i in asked], anns_field="lexical",
                                 limit=min(n, len(rows)), output_fields=["pk"], search_params=params) if asked else []
            found = dict(zip(asked, results))
            for i in range(len(token_lists)):
                pairs = [(rows.get(hit_id(h)), abs(float(h["distance"]))) for h in found.get(i, [])]
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
                             search_params={"metric_type": "IP", "params": {"ef": max(HNSW_EF_SEARCH, k)}})
        out = []
        for hits in results:
            found = {}
            for h in hits:
                pos = self.position.get(hit_id(h))
                if pos is not None:
                    found[pos] = unpack_vectors(h["entity"]["vectors"], self.dim) if vectors else None
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
                cache[self.position[int(r["pk"])]] = unpack_vectors(r["vectors"], self.dim)
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
            by_key = {int(r["pk"]): unpack_vectors(r["vectors"], self.dim)[0] for r in got}
            for n, key in overflow:
                out[n] = by_key[key]
        return out
