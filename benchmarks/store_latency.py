"""Warm question latency and batch rate of the local store and Milvus Lite, side by side.

    python -m benchmarks.store_latency WORKDIR [--questions QUESTIONS.jsonl]

Builds the project's corpus into WORKDIR/index-local and into Milvus Lite (WORKDIR/m.db), then
in one process asks the questions 10 times each (after a warm-up) and 1,000 different questions
through ``search_many``. Figures in docs/scale-out.md ("Measured").
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from functools import partial
from pathlib import Path

from pudong_qa.service import open_searcher
from pudong_qa.settings import Settings

from .report import bench_queries, distinct_questions
from .timing import timed

ROOT = Path(__file__).resolve().parents[1]


def figures(settings: Settings, questions: list[str]) -> dict:
    """One store: single questions (p50, p95, stages) and the rate of 1,000 different ones."""
    searcher = open_searcher(settings, log=lambda _: None)
    single = bench_queries(searcher, questions, 10)
    many = distinct_questions([s for p in searcher.index.passages for s in p.sentence_texts()], 1000)
    searcher.search_many(many[:50], top_k=10)
    _, seconds = timed(partial(searcher.search_many, many, top_k=10))
    return {"p50_ms": single["total"]["p50_ms"], "p95_ms": single["total"]["p95_ms"],
            "batch_q_per_s": round(len(many) / seconds, 1),
            "stages_p50_ms": {k: v["p50_ms"] for k, v in single.items() if k not in ("questions", "total")}}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.store_latency", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path, help="folder for the two indexes")
    ap.add_argument("--questions", type=Path, default=ROOT.parent / "shared/eval/dev_questions.jsonl",
                    help="questions (JSONL with a question field)")
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    questions = [json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    base = Settings.from_env()
    results = {}
    for name, uri in (("local", ""), ("milvus-lite", str(args.work / "m.db"))):
        settings = replace(base, index=args.work / f"index-{name}", milvus_uri=uri)
        results[name] = figures(settings, questions)
        print(name, json.dumps(results[name]), flush=True)
    print("p50 Milvus Lite / local:", round(results["milvus-lite"]["p50_ms"] / results["local"]["p50_ms"], 2))


if __name__ == "__main__":
    main()
