"""Encoders: questions and passages in, L2-normalised float32 vectors out.

``Encoder`` implements ``encode_queries``/``encode_passages`` once over one abstract
``_encode``; a subclass only says how to run its model for a given prompt kind.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from .onnx import ONNX_FILE, WORD_TABLE_FILE

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

PromptKind = Literal["query", "document"]
QUERY_BATCH = 64
PASSAGE_BATCH = 32
MAX_TOKENS = 512


class Encoder(ABC):
    """Turns questions and passages into normalised vectors; one instance per process."""

    identity: str  # changes whenever the vectors could change (recorded in the index manifest)
    dim: int

    def encode_queries(self, texts: list[str], batch_size: int = QUERY_BATCH) -> np.ndarray:
        return self._encode(list(texts), "query", batch_size, False)

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

    def __init__(self, folder: Path, identity: str, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.enable_cpu_mem_arena = False  # long passage batches would otherwise pin hundreds of MB
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")  # leave the CPU to search
        self.session = ort.InferenceSession(str(folder / ONNX_FILE), opts, providers=["CPUExecutionProvider"])
        # the 250k-row word table is memory-mapped: a process only holds the rows its texts use
        self.word_table = np.load(folder / WORD_TABLE_FILE, mmap_mode="r", allow_pickle=False)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=1, pad_token="<pad>")
        cfg = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        self.prompts: dict[str, str] = cfg["prompts"]
        self.identity = identity
        self.dim = int(self.session.get_outputs()[0].shape[-1] or 384)

    def _encode(self, texts: list[str], kind: PromptKind, batch_size: int, progress: bool) -> np.ndarray:
        from tqdm import tqdm

        prompt = self.prompts.get(kind, "")
        texts = [prompt + t for t in texts]
        out = []
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        for k in tqdm(range(0, len(texts), batch_size), desc="embedding", unit="batch", disable=not progress):
            batch = [texts[i] for i in order[k : k + batch_size]]
            enc = self.tokenizer.encode_batch(batch)
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            embeds = np.ascontiguousarray(self.word_table[ids], dtype=np.float32)
            out.append(self.session.run(None, {"inputs_embeds": embeds, "attention_mask": mask})[0])
        vecs = np.empty((len(texts), self.dim), dtype=np.float32)
        if texts:
            vecs[order] = np.concatenate(out)
        return vecs
