"""Timing and memory helpers shared by the benchmarks (one copy of the measuring loop)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")


def timed(fn: Callable[[], R]) -> tuple[R, float]:
    """(result, seconds) of one call."""
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def latencies(fn: Callable[[T], R], items: Iterable[T]) -> tuple[list[float], list[R]]:
    """Seconds each call took, and what each returned."""
    times, outs = [], []
    for item in items:
        out, seconds = timed(lambda item=item: fn(item))
        times.append(seconds)
        outs.append(out)
    return times, outs


def percentiles_ms(xs: list[float]) -> dict[str, float]:
    """p50 and p95 in milliseconds."""
    arr = np.asarray(xs, dtype=float)
    if not arr.size:
        return {"p50_ms": float("nan"), "p95_ms": float("nan")}
    return {"p50_ms": round(float(np.percentile(arr, 50)) * 1e3, 2),
            "p95_ms": round(float(np.percentile(arr, 95)) * 1e3, 2)}


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory (VmHWM) of a process, in MiB."""
    with open(f"/proc/{pid or os.getpid()}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")
