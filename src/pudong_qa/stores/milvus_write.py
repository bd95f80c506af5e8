"""Writing an index into Milvus: the collections' schema and an incremental update of the
standby collection, then the alias switched to it (see milvus.py for the layout)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from ..errors import IndexUnavailable
from .base import HNSW_EF_CONSTRUCTION, HNSW_M, StoreInput, StoreOptions, sentence_layout
from .milvus import (
    AVGDL_TOLERANCE,
    BATCH,
    INLINE_SENTENCES,
    KIND,
    LEXICAL,
    META_PROPERTY,
    PASSAGE_FILE_DF,
    SENTENCE_FILE_DF,
    bm25_doc_vector,
    collection_base,
    collection_meta,
    connect,
    mean_length,
    pack_vectors,
    passage_key,
    sentence_key,
    short_error,
)


def schema(client, dim: int, sentences: bool):
    """The passage collection's fields and indexes (or, with ``sentences``, the sentence one's)."""
    from pymilvus import DataType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("pk", DataType.INT64, is_primary=True)
    s.add_field("text", DataType.VARCHAR, max_length=8192)
    s.add_field("lexical", DataType.SPARSE_FLOAT_VECTOR)
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
    index.add_index("lexical", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    if not sentences:
        index.add_index("dense", index_type="HNSW", metric_type="IP",
                        params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
    return s, index


# ---------------------------------------------------------------- writing


def write(directory: Path, data: StoreInput, options: StoreOptions, log=lambda _: None) -> dict:
    """Bring the standby collection up to date (insert new keys, delete gone ones), write the
    local document frequencies into ``directory``, switch the alias; returns the manifest's
    ``store`` entry."""
    client = connect(options.uri, options.token)
    base = collection_base(data.index_dir)
    passage_vectors, sentence_vectors = data.vectors()
    dim = int(passage_vectors.shape[1])
    for tokens, file in ((data.passage_tokens, PASSAGE_FILE_DF), (data.sentence_tokens, SENTENCE_FILE_DF)):
        df = Counter(w for t in tokens for w in set(t))
        (directory / file).write_text(json.dumps(df, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    try:
        live = client.describe_alias(base).get("collection_name") if base in _aliases(client) else None
        name = f"{base}_b" if live == f"{base}_a" else f"{base}_a"
        meta = _standby(client, name, dim, data, log)
        keys = [passage_key(p) for p in data.passages]
        have = _keys(client, name)
        gone = sorted(have - set(keys))
        new = [i for i, k in enumerate(keys) if k not in have]
        for k in range(0, len(gone), BATCH):
            part = gone[k : k + BATCH]
            client.delete(name, filter=f"pk in {part}")
            client.delete(f"{name}_s", filter=f"passage in {part}")
        rows, srows = _rows(data, keys, new, meta, passage_vectors, sentence_vectors)
        for n, batch in ((name, rows), (f"{name}_s", srows)):
            for k in range(0, len(batch), BATCH):
                client.upsert(n, batch[k : k + BATCH])
        log(f"Milvus: {name}: {len(new)} passages added, {len(gone)} removed, {len(keys) - len(new)} kept")
        for n in (name, f"{name}_s"):
            client.flush(n)
            client.load_collection(n)
        if collection_meta(client, name) != meta:
            client.alter_collection_properties(name, {META_PROPERTY: json.dumps(meta, sort_keys=True)})
        if base in _aliases(client):
            client.alter_alias(name, base)
        else:
            client.create_alias(name, base)
    except IndexUnavailable:
        raise
    except Exception as exc:
        raise IndexUnavailable(f"writing the index to Milvus at {options.uri} failed ({short_error(exc)})") from None
    return {"kind": KIND, "uri": options.uri, "collection": name, "alias": base, "lexical": LEXICAL,
            "avgdl": meta["avgdl"], "avgdl_sentences": meta["avgdl_sentences"], "dim": dim,
            "identity": data.identity}


def _standby(client, name: str, dim: int, data: StoreInput, log) -> dict:
    """The standby collection ready for an incremental update (made afresh when it was built
    with other settings, or its mean lengths moved too far for its rows to stay); its meta."""
    meta = {"identity": data.identity, "dim": dim, "lexical": LEXICAL,
            "avgdl": mean_length(data.passage_tokens), "avgdl_sentences": mean_length(data.sentence_tokens)}
    old = collection_meta(client, name) if client.has_collection(name) else None
    moved = old is not None and any(abs(old.get(k, 0) / meta[k] - 1) > AVGDL_TOLERANCE
                                    for k in ("avgdl", "avgdl_sentences"))
    if old is not None and (moved or any(old.get(k) != meta[k] for k in ("identity", "dim", "lexical"))
                            or not client.has_collection(f"{name}_s")):
        log(f"Milvus: {name} was built with other settings; rewriting it")
        old = None
    if old is None:
        for n in (name, f"{name}_s"):
            if client.has_collection(n):
                client.drop_collection(n)
        for n, is_sentences in ((name, False), (f"{name}_s", True)):
            fields, index = schema(client, dim, is_sentences)
            client.create_collection(n, schema=fields, index_params=index)
    else:
        meta["avgdl"], meta["avgdl_sentences"] = old["avgdl"], old["avgdl_sentences"]  # rows stay consistent
    return meta


def _rows(data: StoreInput, keys: list[int], new: list[int], meta: dict, passage_vectors: np.ndarray,
          sentence_vectors: np.ndarray) -> tuple[list[dict], list[dict]]:
    """The passage and sentence rows of the passages ``new`` (positions in ``data.passages``)."""
    offsets, _ = sentence_layout(data.passages)
    rows, srows = [], []
    for i in new:
        p, key = data.passages[i], keys[i]
        lo, hi = int(offsets[i]), int(offsets[i + 1])
        inline = np.vstack([passage_vectors[i : i + 1], sentence_vectors[lo : min(hi, lo + INLINE_SENTENCES)]])
        rows.append({
            "pk": key, "text": p.text, "lexical": bm25_doc_vector(data.passage_tokens[i], meta["avgdl"]),
            "vectors": pack_vectors(inline),
            "source": p.source, "title": p.title[:1000], "section": p.section[:1000], "paragraph": p.paragraph,
            "page": -1 if p.page is None else p.page, "start": p.start, "end": p.end,
            "dense": np.asarray(passage_vectors[i], dtype=np.float32).tolist(),
        })
        for j, row in enumerate(range(lo, hi)):
            srows.append({"pk": sentence_key(key, j), "passage": key, "text": "",
                          "lexical": bm25_doc_vector(data.sentence_tokens[row], meta["avgdl_sentences"]),
                          "vectors": pack_vectors(sentence_vectors[row : row + 1]) if j >= INLINE_SENTENCES else ""})
    return rows, srows


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
