"""Step 1: inference cost of an L-layer reader in ONNX Runtime (2 threads), fp32 and dynamic int8.

  python training/bench_reader_speed.py [--layers 2 3 4 6 12] [--out training/work/speed]
Prints a markdown table: ms per batch for 6 pairs of ~64 tokens, 6 of ~100, 64 of ~100.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reader_common import SCRATCH, build_model
from reader_onnx import cpu_session


def export(layers: int, path: str) -> None:
    import torch

    model = build_model(layers).eval()
    ids = torch.randint(5, 1000, (2, 16))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        torch.onnx.export(model, (ids, mask), path, input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "attention_mask": {0: "batch", 1: "seq"}, "logits": {0: "batch"}})


def time_session(path: str, shapes, reps: int = 30, threads: int = 2) -> list[float]:
    sess = cpu_session(path, threads)
    rng = np.random.default_rng(0)
    out = []
    for b, n in shapes:
        feed = {"input_ids": rng.integers(5, 200000, (b, n)).astype(np.int64),
                "attention_mask": np.ones((b, n), np.int64)}
        feed["input_ids"][:, 0] = 0
        feed["input_ids"][:, -1] = 2
        for _ in range(3):
            sess.run(None, feed)
        ts = []
        for _ in range(reps if b < 32 else max(5, reps // 4)):
            t = time.perf_counter()
            sess.run(None, feed)
            ts.append((time.perf_counter() - t) * 1000)
        out.append((float(np.min(ts)), float(np.median(ts))))  # min: least disturbed by other work on the 2 cores
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, nargs="+", default=[2, 3, 4, 6, 12])
    ap.add_argument("--out", default=str(SCRATCH / "speed"))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    torch.set_num_threads(2)
    os.makedirs(a.out, exist_ok=True)
    shapes = [(6, 64), (6, 100), (64, 100)]
    rows = []
    print("| L | weights | 6x64 ms | 6x100 ms | 64x100 ms | per pair in 64-batch ms "
          "| per question (6 pairs) ms | medians |")
    print("|---|---|---|---|---|---|---|---|")
    for L in a.layers:
        f32 = os.path.join(a.out, f"reader_L{L}.onnx")
        if not os.path.exists(f32):
            export(L, f32)
        q8 = os.path.join(a.out, f"reader_L{L}.int8.onnx")
        if not os.path.exists(q8):
            quantize_dynamic(f32, q8, weight_type=QuantType.QInt8)
        for name, path in (("fp32", f32), ("int8", q8)):
            got = time_session(path, shapes, threads=a.threads)
            ms = [g[0] for g in got]
            rows.append({"layers": L, "kind": name, "min_ms": dict(zip(["6x64", "6x100", "64x100"], ms)),
                         "median_ms": dict(zip(["6x64", "6x100", "64x100"], [g[1] for g in got]))})
            print(f"| {L} | {name} | {ms[0]:.1f} | {ms[1]:.1f} | {ms[2]:.1f} | {ms[2] / 64:.2f} "
                  f"| {ms[2] / 64 * 6:.1f} | {' / '.join(f'{g[1]:.0f}' for g in got)} |", flush=True)
    with open(os.path.join(a.out, f"speed_t{a.threads}.json"), "w") as fh:
        json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
