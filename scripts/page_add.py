"""Adding and removing one document the way the chat page's index tab does, timed.

Usage: .venv/bin/python scripts/page_add.py FOLDER DOCUMENT [ROUNDS]

FOLDER holds ``corpus/`` and its built ``index/`` (e.g. the folder ``external_bench.py prepare
drcd-dev FOLDER`` makes, built once with ``pudong-qa --corpus corpus --index index build`` run in
it). In one process that has answered a question (model, jieba and index loaded, as in the page),
each round adds DOCUMENT (``QAService.add_documents`` + ``rebuild``), asks the question again and
removes it. Prints one line per process: seconds per add and remove, texts embedded, the first
question after the add, and the process's RSS. Figures in docs/benchmarks.md ("Incremental builds").
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil

from pudong_qa.service import QAService
from pudong_qa.settings import Settings

QUESTION = "浦东新区的面积有多大"


def rss_mb() -> int:
    return psutil.Process().memory_info().rss // 2**20


def main(folder: Path, document: Path, rounds: int) -> None:
    settings = replace(Settings.from_env(), root=folder, corpus=folder / "corpus", index=folder / "index")
    service = QAService(settings, log=lambda _: None)
    service.ask(QUESTION)
    line = [f"start: RSS {rss_mb()} MB"]
    for _ in range(rounds):
        t = time.perf_counter()
        (source,) = service.add_documents([document])
        report = service.rebuild()
        added = time.perf_counter() - t
        t = time.perf_counter()
        service.ask(QUESTION)
        first = time.perf_counter() - t
        rss = rss_mb()
        t = time.perf_counter()
        service.remove_document(source)
        service.rebuild()
        line.append(f"add {added:.2f} s ({report.embedded} texts embedded, first question {first * 1000:.0f} ms, "
                    f"RSS {rss} MB), remove {time.perf_counter() - t:.2f} s")
    print(" | ".join(line), flush=True)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) == 4 else 2)
