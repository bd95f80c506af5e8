"""A chat question's latency with and without a reader, through the product's Searcher on the
report (the project's index, built if missing): p50 / p95 over the shared dev questions, warm.

    python training/chat_latency.py WEIGHTS [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", type=Path, help="a reader's folder (reader.safetensors + reader.json)")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from reader_onnx import load_reader_from
    from reader_search import ReadingSearcher

    from pudong_qa.service import open_searcher
    from pudong_qa.settings import Settings

    plain = open_searcher(Settings(root=ROOT))
    read = ReadingSearcher(plain.index, plain.model, load_reader_from(a.weights))
    lines = (ROOT.parent / "shared" / "eval" / "dev_questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    for searcher in (plain, read):
        searcher.search(questions[0])
    times: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(a.rounds):
        for q in questions:
            for name, searcher in (("off", plain), ("on", read)):
                t = time.perf_counter()
                searcher.search(q)
                times[name].append((time.perf_counter() - t) * 1000)
    for name, ms in times.items():
        print(json.dumps({"reader": name, "questions": len(ms), "p50_ms": round(float(np.median(ms)), 1),
                          "p95_ms": round(float(np.percentile(ms, 95)), 1)}))


if __name__ == "__main__":
    main()
