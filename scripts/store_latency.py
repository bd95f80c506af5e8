"""Warm question latency and batch rate of the local store and Milvus Lite, side by side.

Usage: .venv/bin/python scripts/store_latency.py WORKDIR [QUESTIONS.jsonl]

Builds the project's corpus into WORKDIR/index-local and into Milvus Lite (WORKDIR/m.db), then
in one process asks the questions 10 times each (after a warm-up) and 1,000 different questions
through ``search_many``. Figures in docs/scale-out.md ("Measured").
"""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

from pudong_qa.bench import bench_queries, distinct_questions
from pudong_qa.search import Searcher
from pudong_qa.settings import Settings
from pudong_qa.timing import timed

ROOT = Path(__file__).resolve().parents[1]


def main(work: Path, questions_file: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    questions = [json.loads(line)["question"] for line in questions_file.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    figures = {}
    for name, extra in (("local", {}), ("milvus-lite", {"milvus_uri": str(work / "m.db")})):
        searcher = Searcher.open(Settings(root=ROOT, index=work / f"index-{name}", **extra), log=lambda _: None)
        single = bench_queries(searcher, questions, 10)
        many = distinct_questions([s for p in searcher.index.passages for s in p.sentence_texts()], 1000)
        searcher.search_many(many[:50], top_k=10)
        _, seconds = timed(partial(searcher.search_many, many, top_k=10))
        figures[name] = {"p50_ms": single["total"]["p50_ms"], "p95_ms": single["total"]["p95_ms"],
                         "batch_q_per_s": round(len(many) / seconds, 1),
                         "stages_p50_ms": {k: v["p50_ms"] for k, v in single.items()
                                           if k not in ("questions", "total")}}
        print(name, json.dumps(figures[name]), flush=True)
    print("p50 Milvus Lite / local:", round(figures["milvus-lite"]["p50_ms"] / figures["local"]["p50_ms"], 2))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT.parent / "shared/eval/dev_questions.jsonl")
