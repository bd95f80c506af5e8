"""The index folder replaced whole or not at all: a build writes a temporary sibling, fsyncs
it and swaps it in under a file lock; a killed build's leftovers are cleaned up next time."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..disk.locking import file_lock


def build_lock(index_dir: Path, timeout: float | None, log: Callable[[str], None]):
    """The cross-process lock that serialises builds of one index."""
    def waiting() -> None:
        log("Another build of this index is running; waiting for it to finish …")

    return file_lock(index_dir.parent / f".{index_dir.name}.lock", timeout=timeout, on_wait=waiting)


def cleanup_strays(index_dir: Path) -> None:
    """Remove temporary folders of killed builds; restore an index a kill left half-swapped."""
    parent = index_dir.parent
    olds = sorted(parent.glob(f".{index_dir.name}.old-*"))
    if not index_dir.exists() and olds:
        os.replace(olds[-1], index_dir)
        olds = olds[:-1]
    for stray in [*parent.glob(f".{index_dir.name}.tmp-*"), *olds]:
        shutil.rmtree(stray, ignore_errors=True)


def _fsync_tree(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())


def _swap_in(tmp: Path, index_dir: Path) -> None:
    old = None
    if index_dir.exists():
        old = index_dir.parent / f".{index_dir.name}.old-{os.getpid()}-{time.time_ns()}"
        os.replace(index_dir, old)
    os.replace(tmp, index_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staging(index_dir: Path) -> Iterator[Path]:
    """A temporary folder beside ``index_dir`` to write into; swapped in when the block ends
    without an error, else removed (the previous index stays)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{index_dir.name}.tmp-", dir=index_dir.parent))
    try:
        yield tmp
        _fsync_tree(tmp)
        _swap_in(tmp, index_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
