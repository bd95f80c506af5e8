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


def _status_mb(pid: int | None, keys: tuple[str, ...]) -> dict[str, float]:
    """Fields of /proc/PID/status (kB) in MiB."""
    out = {}
    with open(f"/proc/{pid or os.getpid()}/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in keys:
                out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident memory (VmHWM) of a process, in MiB."""
    return _status_mb(pid, ("VmHWM",)).get("VmHWM", float("nan"))


def memory_mb(pid: int | None = None) -> dict[str, float | None]:
    """Resident memory now: all of it, the part that is the process's own (anonymous), the part
    that is mapped files (which the kernel can drop and re-read), and the peak."""
    m = _status_mb(pid, ("VmRSS", "RssAnon", "RssFile", "VmHWM"))
    return {"rss_mb": m.get("VmRSS"), "anon_mb": m.get("RssAnon"), "file_mb": m.get("RssFile"),
            "peak_rss_mb": m.get("VmHWM")}


def stage_percentiles(responses) -> dict[str, dict[str, float]]:
    """p50/p95 of each stage a search reports in ``SearchResponse.timings``."""
    parts: dict[str, list[float]] = {}
    for resp in responses:
        for key, value in resp.timings.items():
            parts.setdefault(key, []).append(value)
    return {key: percentiles_ms(values) for key, values in parts.items()}
