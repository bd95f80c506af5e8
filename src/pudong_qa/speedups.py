"""Process-level speed measures, each kept for a gain measured on 2 cores (docs/benchmarks.md)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for a build. A build makes and drops hundreds of
    thousands of small lists and dicts (token lists, caches by text), all freed by reference
    counting, and each of the collector's passes walks the whole growing heap. Cycles made
    meanwhile are collected once it runs again."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
