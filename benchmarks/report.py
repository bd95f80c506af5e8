"""The report's own figures: cold start, the chat page, build, warm questions, batches, model backends.

Every figure is a median over repeated runs in one process, except cold starts, which are
separate processes (the ``pudong-qa`` console script, as a user starts it).
"""

from __future__ import annotations

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
from pathlib import Path

import numpy as np

from pudong_qa.settings import Settings

from .timing import latencies, peak_rss_mb, percentiles_ms, stage_percentiles, timed

BACKEND_METRICS = ("hit@1", "hit@3", "sentence@1", "refusal", "false_refusal")


def cli_command(settings: Settings) -> list[str]:
    """The ``pudong-qa`` console script of this virtualenv, pointed at the settings' corpus and index."""
    script = Path(sys.executable).with_name("pudong-qa")
    return [str(script) if script.exists() else "pudong-qa", "--corpus", str(settings.corpus),
            "--index", str(settings.index), "--model", settings.model]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_cold_start(settings: Settings, runs: int, question: str) -> dict:
    """Process start to the first answer of ``pudong-qa ask``."""
    command = [*cli_command(settings), "ask", question, "-k", "1"]
    times, _ = latencies(lambda _: subprocess.run(command, cwd=settings.root, check=True, capture_output=True),
                         range(runs))
    return {"runs": runs, "median_s": round(statistics.median(times), 2)}


def _wait_for_page(proc: subprocess.Popen, port: int) -> None:
    while True:
        if proc.poll() is not None:
            raise RuntimeError("the chat page exited during the benchmark")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except OSError:
            time.sleep(0.05)


def _page_memory(pid: int, port: int, questions: list[str]) -> tuple[float, float]:
    """(RSS, peak RSS) in MiB of the page's process after it answered ``questions``."""
    import psutil
    from gradio_client import Client

    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    for q in questions:
        client.predict(q, [], 3, api_name="/chat")
    return round(psutil.Process(pid).memory_info().rss / 2**20, 1), peak_rss_mb(pid)


def bench_page(settings: Settings, runs: int, questions: list[str]) -> dict:
    """Process start to the page answering HTTP; then the serving process's memory under use."""
    times, rss, peak = [], float("nan"), float("nan")
    for k in range(runs):
        port = _free_port()
        t = time.perf_counter()
        proc = subprocess.Popen([*cli_command(settings), "serve", "--port", str(port)], cwd=settings.root,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for_page(proc, port)
            times.append(time.perf_counter() - t)
            if k == runs - 1:
                rss, peak = _page_memory(proc.pid, port, questions)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return {"runs": runs, "median_s": round(statistics.median(times), 2), "rss_mb": rss, "peak_rss_mb": peak,
            "answers": len(questions)}


def bench_build(settings: Settings, model, runs: int, embed_sample: int = 512) -> dict:
    """A full build of a copy of the corpus (model loaded), and the model's passage throughput."""
    from pudong_qa.index import load_index
    from pudong_qa.indexing import build_index, indexed_text

    tmp = Path(tempfile.mkdtemp(prefix="pudong-qa-bench-"))
    try:
        shutil.copytree(settings.corpus, tmp / "corpus")
        local = Settings(root=tmp, model=settings.model, cache_dir=settings.cache_dir, backend=settings.backend,
                         max_chars=settings.max_chars, overlap=settings.overlap)
        times, _ = latencies(lambda _: build_index(local, force=True, model=model), range(runs))
        texts = [indexed_text(p) for p in load_index(local.index).passages]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    texts = (texts * (embed_sample // max(len(texts), 1) + 1))[:embed_sample]
    _, seconds = timed(lambda: model.encode_passages(texts))
    return {"runs": runs, "median_s": round(statistics.median(times), 2),
            "embed_passages_per_s": round(len(texts) / seconds, 1),
            "passage_chars_mean": round(sum(map(len, texts)) / len(texts))}


def bench_queries(searcher, questions: list[str], rounds: int) -> dict:
    """Warm single questions, end to end and per stage."""
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


def bench_batch(settings: Settings, searcher, n: int) -> dict:
    """``n`` different questions in one process (``search_many``) and through ``ask --questions``."""
    sentences = [s for p in searcher.index.passages for s in p.sentence_texts()]
    qs = distinct_questions(sentences, n)
    _, seconds = timed(lambda: searcher.search_many(qs, top_k=10))
    tmp = Path(tempfile.mkdtemp(prefix="pudong-qa-bench-"))
    try:
        (tmp / "q.txt").write_text("\n".join(qs) + "\n", encoding="utf-8")
        command = [*cli_command(settings), "ask", "--questions", str(tmp / "q.txt"), "--top-k", "10",
                   "--format", "jsonl", "--output", str(tmp / "out.jsonl")]
        proc, wall = timed(lambda: subprocess.run(command, cwd=settings.root, check=True, capture_output=True,
                                                  text=True))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    m = re.search(r"\(([\d.]+) q/s\)", proc.stderr)
    return {"questions": n, "cli_wall_s": round(wall, 2), "cli_q_per_s": round(n / wall, 1),
            "cli_answering_q_per_s": float(m.group(1)) if m else None,
            "in_process_q_per_s": round(n / seconds, 1)}


# ---------------------------------------------------------------- model backends


def backend_encoders(settings: Settings) -> list[tuple[str, object]]:
    """The ways the default model can embed a question: ONNX Runtime, PyTorch fp32 and int8."""
    import copy
    import warnings

    import torch
    from sentence_transformers import SentenceTransformer

    from pudong_qa.embedding import SentenceTransformerEncoder, load_model, resolve_model_path

    st = SentenceTransformer(resolve_model_path(settings.model, settings.cache_dir), device="cpu",
                             local_files_only=True)
    int8 = copy.deepcopy(st)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        int8[0].model = torch.ao.quantization.quantize_dynamic(int8[0].model, {torch.nn.Linear}, dtype=torch.qint8)
    return [("ONNX Runtime fp32 (default)", load_model(settings.model, settings.cache_dir)),
            ("PyTorch fp32 (sentence-transformers)", SentenceTransformerEncoder(st, "fp32")),
            ("PyTorch int8 dynamic quantization", SentenceTransformerEncoder(int8, "int8"))]


def backend_row(name: str, enc, index, questions: list[str], batch_qs: list[str], eval_qs: list[dict]) -> dict:
    """One backend: single-question and batch speed, retrieval metrics, batch independence."""
    from pudong_qa.evaluation import score
    from pudong_qa.search.searcher import Searcher

    for q in questions[:5]:
        enc.encode_queries([q])
    lat, _ = latencies(lambda q: enc.encode_queries([q]), questions)
    _, seconds = timed(lambda: enc.encode_queries(batch_qs))
    asked = [q["question"] for q in eval_qs]
    metrics = score(eval_qs, Searcher(index, enc).search_many(asked, top_k=10)).metrics
    together = enc.encode_queries(asked[:16])
    alone = np.vstack([enc.encode_queries([q]) for q in asked[:16]])
    return {"backend": name, **percentiles_ms(lat), "batch_ms_per_q": round(seconds / len(batch_qs) * 1e3, 2),
            **{k: round(metrics[k], 3) for k in BACKEND_METRICS},
            "batch_independent": bool(np.abs(together - alone).max() < 1e-5)}


def bench_backends(settings: Settings, index, questions: list[str], eval_file: Path, n_batch: int) -> list[dict]:
    """Query-embedding speed and retrieval metrics for the ways the default model can run.

    Any speed-up that changes the model's numbers must keep the metrics within 0.01 of fp32.
    """
    from pudong_qa.evaluation import load_eval_questions

    sentences = [s for p in index.passages for s in p.sentence_texts()]
    batch_qs = distinct_questions(sentences, n_batch, seed=2)
    eval_qs = load_eval_questions(eval_file)
    rows = [backend_row(name, enc, index, questions, batch_qs, eval_qs) for name, enc in backend_encoders(settings)]
    for row in rows:
        row["within_0.01"] = all(abs(row[k] - rows[0][k]) <= 0.01 for k in BACKEND_METRICS)
    return rows
