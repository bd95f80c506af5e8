"""The readers, by file suffix: ``@loader(".docx")`` registers a function
``(path, source, max_bytes) -> Document``; ``corpus.load_document`` picks one by suffix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..document import Document

Loader = Callable[[Path, str, int], Document]
LOADERS: dict[str, Loader] = {}


def loader(*suffixes: str) -> Callable[[Loader], Loader]:
    """Register a reader for files ending in ``suffixes``."""
    def register(func: Loader) -> Loader:
        for suffix in suffixes:
            LOADERS[suffix.lower()] = func
        return func
    return register


def supported_suffixes() -> tuple[str, ...]:
    return tuple(sorted(LOADERS))
