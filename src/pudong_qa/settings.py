"""Settings with defaults that work from the project folder, each overridable by env var."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .chunking import DEFAULT_MAX_CHARS
from .embedding import DEFAULT_MODEL

ENV_PREFIX = "PUDONG_QA_"


def project_root() -> Path:
    """The folder citations are relative to: ``PUDONG_QA_ROOT``, else the current folder
    if it has a ``corpus/``, else the checkout this package was installed from."""
    env = os.environ.get(ENV_PREFIX + "ROOT")
    if env:
        return Path(env).expanduser()
    cwd = Path.cwd()
    if (cwd / "corpus").is_dir():
        return cwd
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "corpus").is_dir() else cwd


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name) or default


@dataclass(frozen=True)
class Settings:
    root: Path = field(default_factory=project_root)
    corpus: Path | None = None  # default: <root>/corpus
    index: Path | None = None  # default: <root>/index
    model: str = DEFAULT_MODEL
    max_chars: int = DEFAULT_MAX_CHARS
    overlap: bool = True  # also index half-overlapping windows, so no answer is cut in two
    ann: str = "auto"  # vector index: auto (exact below 200k passages, else HNSW), flat or hnsw

    def __post_init__(self) -> None:
        object.__setattr__(self, "corpus", Path(self.corpus) if self.corpus else self.root / "corpus")
        object.__setattr__(self, "index", Path(self.index) if self.index else self.root / "index")

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """Defaults, then ``PUDONG_QA_*`` variables, then explicit (non-None) overrides."""
        values: dict = {
            "corpus": os.environ.get(ENV_PREFIX + "CORPUS") or None,
            "index": os.environ.get(ENV_PREFIX + "INDEX") or None,
            "model": _env("MODEL", DEFAULT_MODEL),
            "max_chars": int(_env("MAX_CHARS", str(DEFAULT_MAX_CHARS))),
            "overlap": _env("OVERLAP", "1").lower() not in ("0", "false", "no"),
            "ann": _env("ANN", "auto"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def chunking(self) -> dict:
        """Settings that change what gets built (passages, vector index); recorded in the manifest."""
        return {"max_chars": self.max_chars, "overlap": self.overlap, "ann": self.ann}
