"""The reader: a small cross-encoder that reads a question and a candidate sentence together and
says how likely the sentence states the answer.

Retrieval finds passages *about* what is asked; whether a passage *states* the asked fact (a
figure, a date, a name) is what word and vector evidence cannot tell and a reader might. A reader
is e5's first layers fine-tuned by ``training/train_reader.py`` from the material in ``../shared``
(training/README.md: the data, its licences, the held-out figures). None ships with the package:
the one trained so far does not beat word evidence (docs/retrieval.md, "The reader"), so it is
opt-in (``--reader FOLDER``). At run time it sits on the same converted e5 model as the encoder:
its graph is exported once into the model's cache folder and run with ONNX Runtime.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..locking import file_lock

WEIGHTS = "reader.safetensors"
META = "reader.json"
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


class Reader:
    """P(sentence answers question) for (question, sentence) pairs, batched; thread-safe."""

    def __init__(self, e5_folder: Path, graph: Path, meta: dict, threads: int | None = None) -> None:
        import onnxruntime as ort
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
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
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


_loaded: dict[str, Reader] = {}
_load_lock = threading.Lock()


def load_reader_from(folder: Path, cache_dir: Path | None = None, progress: bool = False) -> Reader:
    """The reader whose weights are in ``folder`` (reader.safetensors, reader.json), once per
    process; its graph is exported on first use (~10 s, PyTorch) into the bundled model's cache
    folder, keyed by the weights' checksum."""
    from ..embedding import default_model_folder

    weights, meta_path = Path(folder) / WEIGHTS, Path(folder) / META
    if not weights.is_file() or not meta_path.is_file():
        raise ModelError(f"no reader weights in {folder}")
    digest = hashlib.sha256(weights.read_bytes() + meta_path.read_bytes()).hexdigest()[:16]
    with _load_lock:
        key = f"{cache_dir}/{digest}"
        if key not in _loaded:
            e5 = default_model_folder(cache_dir, progress)
            graph = e5 / f"reader-{digest}.onnx"
            if not graph.is_file():
                with file_lock(e5.parent / (e5.name + ".reader.lock")):
                    if not graph.is_file():
                        if progress:
                            print("Preparing the reader model (once)…", flush=True)
                        from .export import export_reader

                        export_reader(e5, weights, meta_path, graph)
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            try:
                _loaded[key] = Reader(e5, graph, meta)
            except Exception as exc:  # noqa: BLE001
                raise ModelError(f"could not load the reader {graph}: {exc}") from exc
        return _loaded[key]
