"""Encoders: questions and passages in, L2-normalised float32 vectors out.

``Encoder`` implements ``encode_queries``/``encode_passages`` once over one abstract
``_encode``; a subclass only says how to run its model for a given prompt kind.
"""

from __future__ import annotations

import json
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..speedups import release_freed_memory
from .onnx import ONNX_FILE, WORD_TABLE_FILE

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

PromptKind = Literal["query", "document"]
QUERY_BATCH = 64
PASSAGE_BATCH = 32
MAX_TOKENS = 512
# Padded characters per ONNX forward pass. Measured on 2 cores (docs/benchmarks.md): the model
# runs fastest on small batches of similar length (32 passages of ~250 characters ran at 1,170
# characters/s, 2-4 of them at 2,500-2,900), so a batch holds as many texts as fit this budget.
BATCH_CHARS = 800
BULK_BATCHES = 8  # from this many batches on, passages are encoded by one-thread sessions side by side


def length_batches(lengths: list[int], max_count: int, budget: int = BATCH_CHARS) -> list[list[int]]:
    """Indices by increasing length, cut into batches of at most ``max_count`` whose padded size
    (count × longest) stays within ``budget`` (a longer text goes alone)."""
    batches: list[list[int]] = []
    batch: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if batch and (len(batch) == max_count or (len(batch) + 1) * lengths[i] > budget):
            batches.append(batch)
            batch = []
        batch.append(i)
    if batch:
        batches.append(batch)
    return batches


def side_by_side(workers: list, batches: list[list[int]], run) -> list:
    """``run(worker, batch)`` for every batch, each worker in its own thread taking the next batch
    (from the last, so that no long batch of ``length_batches`` is left for one worker at the end);
    results in batch order.
    Daemon threads: an interrupted build does not wait for the rest of the queue."""
    if len(workers) < 2 or len(batches) < 2:
        return [run(workers[0], b) for b in batches]
    results: list = [None] * len(batches)
    queue = iter(range(len(batches) - 1, -1, -1))  # length_batches puts the longest last
    lock = threading.Lock()
    failed: list[BaseException] = []

    def work(worker) -> None:
        while not failed:
            with lock:
                k = next(queue, None)
            if k is None:
                return
            try:
                results[k] = run(worker, batches[k])
            except BaseException as exc:  # handed to the caller; the other workers stop
                failed.append(exc)

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failed:
        raise failed[0]
    return results


def char_progress(total: int, enabled: bool):
    """A progress bar over characters: shows characters/s and the time left."""
    from tqdm import tqdm

    return tqdm(total=total, desc="embedding", unit="char", unit_scale=True, disable=not enabled,
                smoothing=0.1, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} chars [{elapsed}<{remaining}, {rate_fmt}]")


class Encoder(ABC):
    """Turns questions and passages into normalised vectors; one instance per process."""

    identity: str  # changes whenever the vectors could change (recorded in the index manifest)
    dim: int
    def encode_queries(self, texts: list[str], batch_size: int = QUERY_BATCH) -> np.ndarray:
        return self._encode(list(texts), "query", batch_size, False)

    def bulk(self):
        """A context in which many passages are encoded at once (a build); nothing by default."""
        return nullcontext()

    def warm_up(self) -> None:
        """One question through the model, so that the first real one is as fast as the next."""
        self.encode_queries(["warm up"])

    def encode_passages(self, texts: list[str], batch_size: int = PASSAGE_BATCH, progress: bool = False) -> np.ndarray:
        return self._encode(list(texts), "document", batch_size, progress)

    @abstractmethod
    def _encode(self, texts: list[str], kind: PromptKind, batch_size: int, progress: bool) -> np.ndarray:
        """Vectors for ``texts`` as questions ("query") or passages ("document"), in input order."""


class SentenceTransformerEncoder(Encoder):
    """Any sentence-transformers model; its own ``query``/``document`` prompts apply, if it has them."""

    def __init__(self, model: SentenceTransformer, identity: str) -> None:
        self.model = model
        self.identity = identity
        dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dim())

    def _encode(self, texts: list[str], kind: PromptKind, batch_size: int, progress: bool) -> np.ndarray:
        encode = self.model.encode_query if kind == "query" else self.model.encode_document
        vecs = encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                      show_progress_bar=progress)
        return np.ascontiguousarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)


class OnnxEncoder(Encoder):
    """The converted default model through ONNX Runtime and the fast tokenizer: no torch at
    query time, so the process starts faster and uses less memory."""

    def __init__(self, folder: Path, identity: str, threads: int | None = None, for_build: bool = False) -> None:
        """``for_build``: start making ``bulk``'s sessions now, side by side with the tokenizer's
        load (~1.3 s during which the tokenizer holds the GIL; ONNX Runtime makes a session
        without it), so a build's first batch need not wait for them."""
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.enable_cpu_mem_arena = False  # long passage batches would otherwise pin hundreds of MB
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # leave the CPU to search
        self.folder = folder
        self._opts = opts
        self._lock = threading.Lock()  # guards the lazily made sessions
        self._ready = self._make_bulk() if for_build else None  # bulk's sessions, made ahead
        # the 250k-row word table is memory-mapped: a process only holds the rows its texts use
        self.word_table = np.load(folder / WORD_TABLE_FILE, mmap_mode="r", allow_pickle=False)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=1, pad_token="<pad>")
        cfg = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        self.prompts: dict[str, str] = cfg["prompts"]
        self.identity = identity
        self.dim = int(self.word_table.shape[1])
        self._session = None
        self._bulk: list[Future] | None = None
        self._bulk_users = 0

    @property
    def session(self):
        """The session questions (and small batches) go through, made on first use: a build run
        from the command line, which encodes with ``bulk``'s sessions, never needs it."""
        if self._session is None:
            import onnxruntime as ort

            with self._lock:
                if self._session is None:
                    self._session = ort.InferenceSession(str(self.folder / ONNX_FILE), self._opts,
                                                         providers=["CPUExecutionProvider"])
        return self._session

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """While a build runs, passages are encoded by one-thread sessions side by side, one per
        thread of the query session. On 2 cores two of them ran ~12 % faster than one two-thread
        session, with bit-identical vectors, and when jieba tokenizes beside the model they slow
        down only in proportion, where the two-thread session's every operator waits for its
        busier thread (docs/benchmarks.md). They are made in the background from the moment a
        build asks (~0.3 s each, while it reads the corpus), or while an encoder loaded for a build
        loads its tokenizer, and, at ~110 MB each, dropped when the outermost build that asked for
        them ends."""
        with self._lock:
            self._bulk_users += 1
            if self._bulk is None:
                self._bulk, self._ready = self._ready or self._make_bulk(), None
        try:
            yield
        finally:
            with self._lock:
                self._bulk_users -= 1
                if not self._bulk_users:
                    self._bulk = None
                    release_freed_memory()

    def _make_bulk(self) -> list[Future] | None:
        """One-thread sessions, one per thread of the query session, made in the background."""
        n = self._opts.intra_op_num_threads
        if n < 2:
            return None
        pool = ThreadPoolExecutor(n)
        made = [pool.submit(self._one_thread_session) for _ in range(n)]
        pool.shutdown(wait=False)  # the threads end once their session is made
        return made

    def _one_thread_session(self):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # with its arena a session reuses its buffers from batch to batch instead of having the
        # system map and zero them afresh: 176 texts 5.1-6.0 s -> 4.7-5.5 s, system time 0.4 -> 0 s;
        # what the arena holds goes with the session when the build ends
        opts.enable_cpu_mem_arena = True
        return ort.InferenceSession(str(self.folder / ONNX_FILE), opts, providers=["CPUExecutionProvider"])

    def _inputs(self, texts: list[str]):
        """Tokenizer encodings and the graph's inputs (word vectors looked up in the memory-mapped
        table, attention mask) for one batch of already prompted texts."""
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        embeds = np.ascontiguousarray(self.word_table[ids], dtype=np.float32)
        return enc, {"inputs_embeds": embeds, "attention_mask": mask}

    def _encode(self, texts: list[str], kind: PromptKind, batch_size: int, progress: bool) -> np.ndarray:
        prompt = self.prompts.get(kind, "")
        bar = char_progress(sum(map(len, texts)), progress)
        texts = [prompt + t for t in texts]
        batches = length_batches([len(t) for t in texts], batch_size)  # similar lengths pad less

        def run(session, idx: list[int]) -> np.ndarray:
            batch = [texts[i] for i in idx]
            vecs = session.run(None, self._inputs(batch)[1])[0]
            bar.update(sum(len(t) - len(prompt) for t in batch))
            return vecs

        # questions come one or a few at a time: the two-thread session answers each fastest
        bulk = self._bulk
        many = bulk is not None and kind == "document" and len(batches) >= BULK_BATCHES
        sessions = [made.result() for made in bulk] if many else [self.session]
        out = side_by_side(sessions, batches, run)
        bar.close()
        vecs = np.empty((len(texts), self.dim), dtype=np.float32)
        if texts:
            vecs[[i for idx in batches for i in idx]] = np.concatenate(out)
        return vecs
