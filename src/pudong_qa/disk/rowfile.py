"""Rows of a ``.npy`` file read when asked for, without mapping the file into the process.

A search needs the vectors of a few hundred sentences out of millions. Memory-mapping the
file would do, except that every touched page (and the kernel maps 64 KB around each one)
stays in the process's resident memory, so a long-running server grows towards the file's
size. Reading the rows with ``pread`` leaves them in the operating system's page cache,
shared and reclaimable, and the process holds only what it is using.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np


class NpyRows:
    """A read-only 2-D (or 1-D) ``.npy`` file; ``rows[ids]`` reads just those rows."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            self.offset = f.tell()
        if fortran or dtype.hasobject:
            raise ValueError(f"{path}: not a C-ordered numeric array")
        self.shape, self.dtype = tuple(shape), dtype
        self.row_bytes = dtype.itemsize * math.prod(self.shape[1:])
        if os.path.getsize(path) < self.offset + self.row_bytes * len(self):
            raise ValueError(f"{path} is shorter than its header says")
        self._fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 0

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` in one read (pread is position-free, so threads can share the file)."""
        start, stop = max(0, start), min(len(self), stop)
        n = max(0, stop - start)
        data = os.pread(self._fd, n * self.row_bytes, self.offset + start * self.row_bytes)
        if len(data) != n * self.row_bytes:
            raise OSError("short read: the index file changed underneath")
        return np.frombuffer(data, dtype=self.dtype).reshape((n, *self.shape[1:]))

    def __getitem__(self, rows) -> np.ndarray:
        """The given rows in order, one read per run of consecutive rows."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if not len(rows):
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        if rows.min() < 0 or rows.max() >= len(self):
            raise IndexError("row out of range")
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        starts = np.concatenate([[0], breaks])
        ends = np.concatenate([breaks, [len(rows)]])
        parts = [self.read(int(rows[a]), int(rows[a]) + (b - a)) for a, b in zip(starts, ends)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
