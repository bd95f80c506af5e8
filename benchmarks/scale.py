"""Scale: synthetic corpora of the report's sentences, far larger than the report.

The pieces (``scale_one``: FAISS exact and HNSW, BM25; ``scale_milvus``: the same in Milvus)
get the report's sentences recombined at random, real vectors from the model for a sample and
perturbed copies for the bulk, so the search side is realistic without hours of embedding.
A whole index (``synthetic_index`` then ``scale_ask``) is written by the index's own writers and
asked end to end. ``bench.py`` runs each in a child process, so its memory figure is its own.
"""

from __future__ import annotations

import gc
import json
import os
import random
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np

from pudong_qa.settings import Settings

from .report import distinct_questions
from .timing import latencies, memory_mb, peak_rss_mb, percentiles_ms, stage_percentiles, timed

NOISE = 0.0316  # per-dimension noise: a perturbed copy keeps cosine ~0.85 to its real vector
EXTRA_QUERIES = 150  # synthetic questions added to the given ones for the dense side
CHUNK = 100_000  # vectors made at a time, to bound memory
PASSAGES_PER_DOCUMENT = 100


def synthetic_texts(sentences: list[str], n: int, seed: int = 0) -> list[str]:
    """Passages of 2-4 report sentences recombined at random."""
    rng = random.Random(seed)
    return ["".join(rng.sample(sentences, rng.randint(2, 4))) for _ in range(n)]


def corpus_sentences(settings: Settings) -> list[str]:
    """Every sentence of the settings' corpus, as chunked for the index."""
    from pudong_qa.chunking import chunk_corpus
    from pudong_qa.corpus import load_corpus

    docs = load_corpus(settings.corpus, settings.root, settings.max_file_bytes)
    return [s for p in chunk_corpus(docs, settings.max_chars, settings.overlap) for s in p.sentence_texts()]


def synthetic_vectors(settings: Settings, size: int, sample: int, questions: list[str], seed: int,
                      extra_queries: int = EXTRA_QUERIES) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The corpus's sentences, real vectors for ``sample`` synthetic passages, and query vectors."""
    from pudong_qa.embedding import load_model

    model = load_model(settings.model, settings.cache_dir, settings.backend)
    sentences = corpus_sentences(settings)
    real = model.encode_passages(synthetic_texts(sentences, min(sample, size), seed), batch_size=64)
    queries = model.encode_queries(questions + synthetic_texts(sentences, extra_queries, seed + 1))
    return sentences, real, queries


def perturbed(real: np.ndarray, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Vectors for passages ``idx``: the real ones first, then noisy copies of them, unit length."""
    sample = len(real)
    chunk = real[idx % sample] + rng.normal(0, NOISE, (len(idx), real.shape[1])).astype(np.float32)
    chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
    real_rows = idx < sample
    chunk[real_rows] = real[idx[real_rows]]
    return chunk


def _chunks(real: np.ndarray, size: int, rng: np.random.Generator, step: int = CHUNK) -> Iterator[tuple[np.ndarray,
                                                                                                          np.ndarray]]:
    for start in range(0, size, step):
        idx = np.arange(start, min(size, start + step))
        yield idx, perturbed(real, idx, rng)


def recall_at_10(found, truth) -> float:
    return round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])), 4)


def _top10(index, queries: np.ndarray) -> tuple[list[float], list[np.ndarray]]:
    """Seconds per question and the ids of its 10 nearest vectors in a FAISS ``index``."""
    return latencies(lambda q: index.search(q[None, :], 10)[1][0], queries)


def _faiss_part(real: np.ndarray, queries: np.ndarray, size: int, ann: str, seed: int) -> tuple[dict, object]:
    """Exact and approximate FAISS indexes of ``size`` vectors: build time, latency, recall; and the
    approximate index, to be kept while the serving memory is read."""
    import faiss

    from pudong_qa.stores import build_ann

    rng = np.random.default_rng(seed)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    exact = faiss.IndexFlatIP(real.shape[1])
    approx = build_ann(real[:0], ann)
    build_exact = build_approx = 0.0
    for _, chunk in _chunks(real, size, rng):
        build_exact += timed(partial(exact.add, chunk))[1]
        build_approx += timed(partial(approx.add, chunk))[1]
    lat, truth = _top10(exact, queries)
    out = {"exact": {"build_s": round(build_exact, 2), **percentiles_ms(lat),
                     "vectors_mb": round(exact.ntotal * real.shape[1] * 4 / 2**20)}}
    del exact
    lat, found = _top10(approx, queries)
    out["approx"] = {"kind": ann, "build_s": round(build_approx, 2), **percentiles_ms(lat),
                     "recall_at_10": recall_at_10(found, truth)}
    return out, approx


def _bm25_part(tok, sentences: list[str], questions: list[str], size: int, seed: int) -> tuple[dict, object]:
    """bm25s over ``size`` passages of 2-4 sentences' tokens (``tok``: a Tokenizer): build time and
    top-100 latency."""
    import bm25s

    token_pool = [tok.tokens(s) for s in sentences]
    rnd = random.Random(seed)

    def build() -> bm25s.BM25:
        corpus_tokens = [sum(rnd.sample(token_pool, rnd.randint(2, 4)), []) or ["<e>"] for _ in range(size)]
        bm = bm25s.BM25()
        bm.index(corpus_tokens, show_progress=False)
        return bm

    bm, seconds = timed(build)

    def top(tokens: list[str]) -> np.ndarray:
        ids = bm.get_tokens_ids(tokens)
        scores = bm.get_scores_from_ids(ids) if ids else np.zeros(size)
        return np.argpartition(-scores, min(100, size - 1))[:100]

    lat, _ = latencies(top, [tok.tokens(q) for q in questions])
    return {"build_s": round(seconds, 2), **percentiles_ms(lat)}, bm


def scale_one(settings: Settings, size: int, sample: int, ann: str, questions: list[str], seed: int = 0) -> dict:
    """One corpus size, in this process: FAISS exact vs approximate, and BM25."""
    import psutil

    from pudong_qa.tokenize import Tokenizer

    sentences, real, queries = synthetic_vectors(settings, size, sample, questions, seed)
    out: dict = {"passages": size, "real_vectors": min(sample, size)}
    figures, approx = _faiss_part(real, queries, size, ann, seed)
    out.update(figures)
    gc.collect()
    out["bm25"], bm = _bm25_part(Tokenizer(cache_dir=settings.cache_dir), sentences, questions, size, seed)
    gc.collect()
    out["serving_rss_mb"] = round(psutil.Process().memory_info().rss / 2**20, 1)  # model + HNSW + BM25
    out["peak_rss_mb"] = peak_rss_mb()  # includes the exact index kept alongside for the recall check
    del approx, bm
    return out


# ---------------------------------------------------------------- Milvus


def _milvus_rows(idx: np.ndarray, chunk: np.ndarray, pool: list[list[str]], rnd: random.Random,
                 df: dict[str, int]) -> list[dict]:
    """Rows for the passage collection: our BM25 sparse vector and the dense vector (texts left empty)."""
    from pudong_qa.stores.milvus import bm25_doc_vector

    rows = []
    for i, vec in zip(idx, chunk):
        tokens = sum(rnd.sample(pool, rnd.randint(2, 4)), [])
        for w in set(tokens):
            df[w] = df.get(w, 0) + 1
        rows.append({"pk": int(i), "text": "", "lexical": bm25_doc_vector(tokens, 40.0), "vectors": "",
                     "source": "", "title": "", "section": "", "paragraph": 0, "page": -1, "start": 0, "end": 0,
                     "dense": vec.tolist()})
    return rows


def _fill_milvus(client, name: str, real: np.ndarray, size: int, pool: list[list[str]], seed: int
                 ) -> tuple[np.ndarray, dict[str, int], float]:
    """Insert ``size`` synthetic passages; (their vectors, document frequencies, seconds to insert + load)."""
    from pudong_qa.stores.milvus import BATCH
    from pudong_qa.stores.milvus_write import schema

    if client.has_collection(name):
        client.drop_collection(name)
    fields, index = schema(client, real.shape[1], sentences=False)
    client.create_collection(name, schema=fields, index_params=index)
    exact = np.empty((size, real.shape[1]), dtype=np.float32)
    df: dict[str, int] = {}
    rnd = random.Random(seed)
    t0 = time.perf_counter()
    for idx, chunk in _chunks(real, size, np.random.default_rng(seed), step=BATCH * 4):
        exact[idx] = chunk
        client.insert(name, _milvus_rows(idx, chunk, pool, rnd, df))
    client.flush(name)
    client.load_collection(name)
    return exact, df, time.perf_counter() - t0


def scale_milvus(settings: Settings, size: int, sample: int, questions: list[str], uri: str, seed: int = 0,
                 extra_queries: int = EXTRA_QUERIES) -> dict:
    """One corpus size in Milvus (Lite when ``uri`` ends in .db): synthetic passages as in
    ``scale_one``, inserted in batches with their dense vector (HNSW) and our BM25 sparse vector;
    build time, dense top-10 and lexical top-100 latency, recall@10 against exact search, and the
    memory of this process plus the Milvus Lite server it starts."""
    import psutil

    from pudong_qa.stores.base import HNSW_EF_SEARCH
    from pudong_qa.stores.milvus import bm25_query_vector, connect, is_lite
    from pudong_qa.tokenize import Tokenizer

    sentences, real, queries = synthetic_vectors(settings, size, sample, questions, seed, extra_queries)
    tok = Tokenizer(cache_dir=settings.cache_dir)
    client = connect(uri, settings.milvus_token)
    name = f"pudong_qa_scale_{size}"
    exact, df, build_s = _fill_milvus(client, name, real, size, [tok.tokens(s) for s in sentences], seed)

    def dense(q):
        hits = client.search(name, data=[q.tolist()], anns_field="dense", limit=10, output_fields=["pk"],
                             search_params={"metric_type": "IP", "params": {"ef": HNSW_EF_SEARCH}})[0]
        return [int(h["entity"]["pk"]) for h in hits]

    def lexical(tokens):
        q = bm25_query_vector(tokens, df, size)
        return client.search(name, data=[q], anns_field="lexical", limit=100, output_fields=["pk"],
                             search_params={"metric_type": "IP"})[0] if q else []

    for q in queries[:5]:
        dense(q)
    lat, found = latencies(dense, queries)
    truth = [np.argpartition(-(exact @ q), 10)[:10].tolist() for q in queries]
    del exact
    lex_lat, _ = latencies(lexical, [tok.tokens(q) for q in questions])
    me = psutil.Process()
    children = sum(c.memory_info().rss for c in me.children(recursive=True))
    out = {"passages": size, "real_vectors": min(sample, size), "build_s": round(build_s, 1),
           "dense": {**percentiles_ms(lat), "recall_at_10": recall_at_10(found, truth)},
           "lexical_top100": percentiles_ms(lex_lat),
           "client_rss_mb": round(me.memory_info().rss / 2**20, 1),
           "milvus_lite_rss_mb": round(children / 2**20, 1),
           "db_mb": round(sum(f.stat().st_size for f in Path(uri).parent.rglob("*") if f.is_file()) / 2**20)
           if is_lite(uri) else None}
    client.drop_collection(name)
    return out


# ---------------------------------------------------------------- a whole index


def _synthetic_passages(sentences: list[str], sections: list[str], size: int, seed: int):
    """(passages, sentences picked per passage, offsets into them, section of each passage)."""
    from pudong_qa.chunking import Passage

    rng = np.random.default_rng(seed)
    counts = rng.integers(2, 5, size)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    picked = rng.integers(0, len(sentences), int(offsets[-1]))
    section_of = rng.integers(0, len(sections), size)
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    passages = []
    for i in range(size):
        ids = picked[offsets[i]:offsets[i + 1]]
        doc, para = divmod(i, PASSAGES_PER_DOCUMENT)
        start = 0 if para == 0 else passages[-1].end + 1  # a paragraph break between passages
        ends = start + np.cumsum(lengths[ids])
        spans = tuple(zip([start, *ends[:-1].tolist()], ends.tolist()))
        passages.append(Passage(i, f"corpus/synthetic/{doc:06d}.txt", f"合成文档{doc}", sections[section_of[i]],
                                para + 1, start, int(ends[-1]), "".join(sentences[k] for k in ids), spans))
    return passages, picked, offsets, section_of


def _write_lexical(directory: Path, tokenizer, sentences, sections, picked, offsets, section_of) -> None:
    """What BM25 indexes (index.lexical_context): title and innermost heading, then the text."""
    from pudong_qa.stores import LocalStore

    sentence_tokens = [tokenizer.tokens(s) for s in sentences]
    section_tokens = [tokenizer.tokens(s.rsplit(" > ", 1)[-1]) for s in sections]
    title_tokens = tokenizer.tokens("合成文档")
    passage_tokens, sentence_rows = [], []
    for i in range(len(section_of)):
        ids = picked[offsets[i]:offsets[i + 1]].tolist()
        context = [*title_tokens, str(i // PASSAGES_PER_DOCUMENT), *section_tokens[section_of[i]]]
        passage_tokens.append(context + [w for k in ids for w in sentence_tokens[k]])
        sentence_rows.extend(context + sentence_tokens[k] for k in ids)
    LocalStore.write_lexical(directory, passage_tokens, sentence_rows)


def _write_vectors(directory: Path, pool: np.ndarray, picked: np.ndarray, offsets: np.ndarray) -> None:
    """A passage's vector is the normalised mean of its sentences' vectors."""
    from pudong_qa.stores import LocalStore

    size = len(offsets) - 1
    vectors = np.empty((size, pool.shape[1]), dtype=np.float32)
    for a in range(0, size, CHUNK):
        b = min(size, a + CHUNK)
        sums = np.add.reduceat(pool[picked[offsets[a]:offsets[b]]], offsets[a:b] - offsets[a])
        vectors[a:b] = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    LocalStore.write_vectors(directory, vectors, pool[picked], ann="auto")


def synthetic_index(settings: Settings, directory: Path, size: int, seed: int = 0) -> dict:
    """A whole local index of ``size`` passages, written by the index's own writers, for
    measuring ``ask`` at scale without embedding millions of texts.

    Each passage is 2-4 sentences of the corpus drawn at random, 100 passages to a document.
    Its sentences' vectors are the model's vectors of those very sentences (exact, since the
    texts are the same); its own vector is their normalised mean (an approximation of encoding
    the passage); its BM25 tokens are its sentences' tokens, as jieba cut them.
    """
    from pudong_qa.chunking import chunk_corpus
    from pudong_qa.corpus import load_corpus
    from pudong_qa.embedding import load_model
    from pudong_qa.index import MANIFEST
    from pudong_qa.passages import write_passages
    from pudong_qa.tokenize import Tokenizer, corpus_terms

    docs = load_corpus(settings.corpus, settings.root, settings.max_file_bytes)
    real = chunk_corpus(docs, settings.max_chars, settings.overlap)
    sentences = list(dict.fromkeys(s for p in real for s in p.sentence_texts()))
    sections = sorted({p.section for p in real})
    terms = corpus_terms(docs)
    model = load_model(settings.model, settings.cache_dir, settings.backend)
    pool, embed_s = timed(lambda: model.encode_passages(sentences))
    t0 = time.perf_counter()
    passages, picked, offsets, section_of = _synthetic_passages(sentences, sections, size, seed)
    write_passages(directory, passages)
    (directory / "userdict.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
    tokenizer = Tokenizer(terms, cache_dir=settings.cache_dir)
    _write_lexical(directory, tokenizer, sentences, sections, picked, offsets, section_of)
    _write_vectors(directory, pool, picked, offsets)
    n_docs = -(-size // PASSAGES_PER_DOCUMENT)
    manifest = {"synthetic": True, "passages": size, "sentences": int(offsets[-1]), "model": settings.model,
                "documents": [{"source": f"corpus/synthetic/{d:06d}.txt", "title": f"合成文档{d}"}
                              for d in range(n_docs)],
                "store": {"kind": "local"}}
    (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    os.sync()  # as a real build fsyncs: the serving measurement must not share the disk with writeback
    disk = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    return {"passages": size, "sentences": int(offsets[-1]), "distinct_sentences": len(sentences),
            "embed_s": round(embed_s, 1), "write_s": round(time.perf_counter() - t0, 1),
            "disk_gb": round(disk / 2**30, 2), "peak_rss_mb": peak_rss_mb()}


def scale_ask(settings: Settings, directory: Path, questions: list[str], seed: int = 0) -> dict:
    """Serve the index in ``directory`` as ``pudong-qa ask`` does (model and index loaded once)
    and answer each question end to end."""
    from pudong_qa.embedding import load_model
    from pudong_qa.index import load_index
    from pudong_qa.search.searcher import Searcher

    t0 = time.perf_counter()
    index = load_index(directory, verify=False, cache_dir=settings.cache_dir)
    index.tokenizer.warm_up()
    searcher = Searcher(index, load_model(settings.model, settings.cache_dir, settings.backend))
    load_s = time.perf_counter() - t0
    sentences = [s for i in range(0, len(index.passages), max(1, len(index.passages) // 500))
                 for s in index.passages[i].sentence_texts()]
    asked = questions + distinct_questions(sentences, 200, seed)
    for q in asked[:5]:
        searcher.search(q, top_k=3)
    lat, responses = latencies(lambda q: searcher.search(q, top_k=3), asked)
    return {"passages": len(index.passages), "questions": len(asked), "load_s": round(load_s, 1),
            "answered": sum(r.answered for r in responses), "total": percentiles_ms(lat),
            **stage_percentiles(responses), **memory_mb()}
