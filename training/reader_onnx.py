"""A trained reader run with ONNX Runtime, as search would run it: its graph exported once beside
its weights, fed the word vectors of the converted e5 model's memory-mapped table.

    reader = load_reader_from(Path("training/work/weights"))
    reader.score(["浦东新区的面积有多大"], [Candidate(title, "", sentence)])   # P(answers) per pair

The model is reader_common's (one definition); reader_search.py searches with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reader_common import META, WEIGHTS, load_trained

BATCH_TOKENS = 2048  # padded tokens per forward pass: short, similar-length pairs run fastest


@dataclass(frozen=True)
class ReadPolicy:
    """How search uses the reader; fitted with the weights (``policy`` in reader.json)."""

    depth: int = 3  # results read, from the first
    sentences: int = 3  # sentences read per result: its best by retrieval's own sentence scores
    rank_penalty: float = 0.1  # a lower result goes first if it reads better by this much per rank
    answered: float = 0.5  # the first result answers when its best sentence reads at least this
    unsure: float = 0.2  # below ``answered`` but at least this: close, not confirmed; below: not found
    with_confidence: bool = False  # answering also needs the word evidence's confidence (answer.confidence)

    @classmethod
    def of(cls, meta: dict) -> ReadPolicy:
        known = {f: meta["policy"][f] for f in cls.__dataclass_fields__ if f in meta.get("policy", {})}
        return cls(**known)


@dataclass(frozen=True)
class Candidate:
    """One sentence to read: its document's title, the sentence before it in the same paragraph
    (context for 此/其/他), and the sentence itself."""

    title: str
    previous: str
    sentence: str


def cpu_session(graph: Path, threads: int | None = None):
    """An ONNX Runtime CPU session that does not spin on cores it shares with search."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])


class Reader:
    """P(sentence answers question) for (question, sentence) pairs, batched; thread-safe."""

    def __init__(self, e5_folder: Path, graph: Path, meta: dict, threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        self.meta = meta
        self.policy = ReadPolicy.of(meta)
        self.max_length = int(meta["max_length"])
        self.form = meta["input_form"]
        self.prev_chars = int(meta.get("prev_chars", 64))
        self.separator = meta.get("separator", "｜")
        self.tokenizer = Tokenizer.from_file(str(e5_folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_length, strategy="only_second")
        self.tokenizer.enable_padding(pad_id=1, pad_token="<pad>")
        self.word_table = np.load(e5_folder / "word_embeddings.npy", mmap_mode="r", allow_pickle=False)
        self.session = cpu_session(graph, threads)
        self._lock = threading.Lock()  # one tokenizer configuration: padding is per call

    def text(self, c: Candidate) -> str:
        """The second segment as in training: title｜[end of the previous sentence +] sentence."""
        previous = c.previous[-self.prev_chars :] if self.form == "ctx" else ""
        return f"{c.title}{self.separator}{previous}{c.sentence}"

    def score(self, questions: Sequence[str], candidates: Sequence[Candidate]) -> np.ndarray:
        """P(answers) for each (question, candidate) pair, in input order."""
        if not candidates:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            enc = self.tokenizer.encode_batch(list(zip(questions, map(self.text, candidates))))
        lengths = [sum(e.attention_mask) for e in enc]
        out = np.empty(len(enc), dtype=np.float32)
        for batch in _batches(lengths):
            n = max(lengths[i] for i in batch)
            ids = np.array([enc[i].ids[:n] for i in batch], dtype=np.int64)
            mask = np.array([enc[i].attention_mask[:n] for i in batch], dtype=np.int64)
            embeds = np.ascontiguousarray(self.word_table[ids], dtype=np.float32)
            out[batch] = self.session.run(None, {"inputs_embeds": embeds, "attention_mask": mask})[0]
        return out


def _batches(lengths: list[int]) -> list[list[int]]:
    """Indices by length, cut so that count × longest stays within ``BATCH_TOKENS``."""
    out: list[list[int]] = []
    batch: list[int] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if batch and (len(batch) + 1) * lengths[i] > BATCH_TOKENS:
            out.append(batch)
            batch = []
        batch.append(i)
    return out + [batch] if batch else out


def export_reader(e5_folder: Path, folder: Path, target: Path) -> Path:
    """Write the graph of the reader in ``folder`` to ``target``: word vectors and mask in,
    P(the text answers the question) out (via a temporary file, so a failure leaves nothing)."""
    import torch

    model, _ = load_trained(folder, e5_folder, eager=True)

    class Probability(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, inputs_embeds, attention_mask):
            return torch.sigmoid(self.model(inputs_embeds=inputs_embeds, attention_mask=attention_mask)[:, 0])

    table = np.load(e5_folder / "word_embeddings.npy", mmap_mode="r")
    ids = np.array([[0, 6, 7, 2, 2, 8, 9, 10, 2], [0, 6, 2, 2, 8, 9, 2, 1, 1]])
    mask = (ids != 1).astype(np.int64)
    embeds = torch.from_numpy(np.ascontiguousarray(table[ids], dtype=np.float32))
    tmp = target.with_name(target.name + ".tmp")
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Probability(model), (embeds, torch.from_numpy(mask)), str(tmp),
            input_names=["inputs_embeds", "attention_mask"], output_names=["probability"],
            dynamic_axes={"inputs_embeds": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "probability": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
    os.replace(tmp, target)
    return target


def load_reader_from(folder: Path, cache_dir: Path | None = None, threads: int | None = None) -> Reader:
    """The reader whose weights are in ``folder`` (reader.safetensors, reader.json), on the product's
    converted e5 model (converted first if missing); its graph is exported on first use (~10 s,
    PyTorch) into ``folder``, named by the weights' checksum."""
    from pudong_qa.embedding import default_model_folder

    folder = Path(folder)
    weights, meta_path = folder / WEIGHTS, folder / META
    if not weights.is_file() or not meta_path.is_file():
        raise FileNotFoundError(f"no reader weights in {folder}")
    digest = hashlib.sha256(weights.read_bytes() + meta_path.read_bytes()).hexdigest()[:16]
    e5 = default_model_folder(cache_dir)
    graph = folder / f"reader-{digest}.onnx"
    if not graph.is_file():
        export_reader(e5, folder, graph)
    return Reader(e5, graph, json.loads(meta_path.read_text(encoding="utf-8")), threads)
