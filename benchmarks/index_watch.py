"""How soon a running service answers from an index that ``pudong-qa build`` made in another process.

    python -m benchmarks.index_watch [--rounds N] [--corpus FOLDER]

Copies FOLDER (default: the project's corpus) into a temporary folder, builds its index and starts
one ``QAService`` (watching every ``PUDONG_QA_INDEX_POLL`` seconds, default 2). Each round adds or
removes a document and runs ``pudong-qa build`` in a subprocess while a thread asks a question
without pause. Prints per round: seconds from the swap (the index folder renamed in, seen by a
10 ms ``stat`` loop) until the service answers from the new index, and the questions asked and
failed meanwhile. Figures in docs/reliability.md ("One index for every process").
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pudong_qa.index_watch import index_stamp
from pudong_qa.indexing import build_index
from pudong_qa.service import QAService
from pudong_qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
EXTRA = ROOT / "tests" / "fixtures" / "formats" / "news_gbk.html"
QUESTION = "八十岁以上老人吃饭有什么补贴"


def one_round(service: QAService, root: Path) -> tuple[float, int, int]:
    """Add (or remove) the extra document, build in another process; (seconds until in use, asked, failed)."""
    extra = service.settings.corpus / EXTRA.name
    if extra.exists():
        extra.unlink()
    else:
        shutil.copy(EXTRA, extra)
    before, first = service.searcher.index, index_stamp(service.settings.index)
    swapped: list[float] = []
    counts, stop = [0, 0], threading.Event()

    def watch() -> None:
        while not swapped and not stop.is_set():
            stamp = index_stamp(service.settings.index)
            if stamp is not None and stamp != first:
                swapped.append(time.monotonic())
            time.sleep(0.01)

    def ask() -> None:
        while not stop.is_set():
            try:
                service.ask(QUESTION)
            except Exception:  # counted: the figure is how many failed
                counts[1] += 1
            counts[0] += 1

    threads = [threading.Thread(target=watch), threading.Thread(target=ask)]
    for t in threads:
        t.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUDONG_QA_")} | {"PUDONG_QA_ROOT": str(root)}
    subprocess.run([sys.executable, "-m", "pudong_qa.cli", "build"], env=env, cwd=root, check=True,
                   capture_output=True)
    while service.searcher.index is before:
        time.sleep(0.01)
    seen = time.monotonic()
    stop.set()
    for t in threads:
        t.join()
    return seen - swapped[0], counts[0], counts[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pudong-qa-watch-") as tmp:
        root = Path(tmp)
        shutil.copytree(args.corpus, root / "corpus")
        settings = Settings(root=root)
        build_index(settings)
        service = QAService(settings, log=lambda _: None)
        print(f"poll every {settings.index_poll:g} s; {len(service.searcher.index.passages)} passages")
        for n in range(args.rounds):
            seconds, asked, failed = one_round(service, root)
            print(f"round {n + 1}: in use {seconds:.2f} s after the swap; {asked} questions meanwhile, {failed} failed",
                  flush=True)


if __name__ == "__main__":
    main()
