"""Adding and removing one document the way the chat page's index tab does, timed.

    python -m benchmarks.page_add FOLDER DOCUMENT [--rounds N]

FOLDER holds ``corpus/`` and its built ``index/`` (e.g. the folder ``external_bench.py prepare
drcd-dev FOLDER`` makes, built once with ``pudong-qa --corpus corpus --index index build`` run in
it). In one process that has answered a question (model, jieba and index loaded, as in the page),
each round adds DOCUMENT (``QAService.add_documents`` + ``rebuild``), asks the question again and
removes it. Prints one line per process: seconds per add and remove, texts embedded, the first
question after the add, and the process's RSS. Figures in docs/benchmarks.md ("Incremental builds").
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import psutil

from pudong_qa.service import QAService
from pudong_qa.settings import Settings

QUESTION = "浦东新区的面积有多大"


def rss_mb() -> int:
    return psutil.Process().memory_info().rss // 2**20


def one_round(service: QAService, document: Path) -> str:
    """Add ``document``, ask, remove it: one line of figures."""
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
    return (f"add {added:.2f} s ({report.embedded} texts embedded, first question {first * 1000:.0f} ms, "
            f"RSS {rss} MB), remove {time.perf_counter() - t:.2f} s")


def measure(settings: Settings, document: Path, rounds: int) -> str:
    service = QAService(settings, log=lambda _: None)
    service.ask(QUESTION)
    line = [f"start: RSS {rss_mb()} MB"]
    line += [one_round(service, document) for _ in range(rounds)]
    return " | ".join(line)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.page_add", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, help="a folder with corpus/ and its built index/")
    ap.add_argument("document", type=Path, help="the document added and removed again")
    ap.add_argument("--rounds", type=int, default=2, help="add/remove rounds in this process")
    args = ap.parse_args(argv)
    settings = replace(Settings.from_env(), root=args.folder, corpus=args.folder / "corpus",
                       index=args.folder / "index", data_dir=args.folder / "data")
    print(measure(settings, args.document, args.rounds), flush=True)


if __name__ == "__main__":
    main()
