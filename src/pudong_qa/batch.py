"""Question files in, answer files out: the batch contract shared by the CLI and the chat page.

Inputs: ``.txt`` (one question a line), ``.csv`` (a ``question`` column), ``.jsonl`` (a
``question`` field). Every input line gets exactly one output entry, in order; a line
that cannot be asked (empty, broken JSON, …) gets an ``error`` instead of results.
Outputs: ``jsonl`` (the evaluation contract), ``csv`` (one row per result) or ``text``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import QuestionFileError
from .query import question_problem
from .results import NO_ANSWER, Citation, SearchResponse, format_citation

INPUT_SUFFIXES = (".txt", ".csv", ".jsonl")
FORMATS = ("jsonl", "csv", "text")
MAX_QUESTION_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class BatchItem:
    line: int  # 1-based line (or CSV row) number in the input
    question: str
    error: str | None = None


def read_question_file(path: Path, max_bytes: int = MAX_QUESTION_FILE_BYTES) -> list[BatchItem]:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise QuestionFileError(f"{path}: use a .txt, .csv or .jsonl file (got {suffix or 'no extension'})")
    if not path.exists():
        raise QuestionFileError(f"{path}: no such file")
    if not path.is_file():
        raise QuestionFileError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size > max_bytes:
        raise QuestionFileError(f"{path}: {size / 2**20:.1f} MiB is over the {max_bytes / 2**20:.0f} MiB limit")
    from .formats import read_question_text

    return parse_questions(read_question_text(path), suffix, str(path))


def parse_questions(text: str, suffix: str, name: str = "questions") -> list[BatchItem]:
    """Parse question-file text; whole-file problems raise, per-line problems become errors."""
    if suffix == ".csv":
        return _parse_csv(text, name)
    lines = text.splitlines()
    items = []
    for n, line in enumerate(lines, 1):
        if suffix == ".jsonl":
            items.append(_parse_jsonl_line(n, line))
        else:
            items.append(_item(n, line))
    return items


def _item(n: int, question: str) -> BatchItem:
    return BatchItem(n, question, question_problem(question))


def _parse_jsonl_line(n: int, line: str) -> BatchItem:
    if not line.strip():
        return BatchItem(n, "", "empty line")
    try:
        row = json.loads(line)
    except ValueError:
        return BatchItem(n, "", "not valid JSON")
    if not isinstance(row, dict) or not isinstance(row.get("question"), str):
        return BatchItem(n, "", "no 'question' string field")
    return _item(n, row["question"])


def _parse_csv(text: str, name: str) -> list[BatchItem]:
    """Rows after the header, blank rows included (they get an error entry, like other formats)."""
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if "question" not in header:
        raise QuestionFileError(f"{name}: the CSV needs a 'question' column (found: {', '.join(header) or 'none'})")
    col = header.index("question")
    items = []
    try:
        for row in reader:
            n = reader.line_num
            items.append(_item(n, row[col]) if len(row) > col else BatchItem(n, "", "missing question cell"))
    except csv.Error as exc:
        items.append(BatchItem(reader.line_num, "", f"broken CSV ({exc})"))
    return items


# ---------------------------------------------------------------- output


def response_record(item: BatchItem, response: SearchResponse | None) -> dict:
    """One JSONL entry: the evaluation contract, plus ``error`` for an unusable line."""
    if response is None:
        return {"question": item.question, "answered": False, "results": [], "error": item.error}
    return response.to_dict()


def write_jsonl(records: Iterable[dict], out: io.TextIOBase) -> None:
    for rec in records:
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")


CSV_COLUMNS = ["line", "question", "answered", "rank", "score", "answer", "text",
               "source", "section", "paragraph", "start", "end", "error"]


def csv_rows(items: list[BatchItem], records: list[dict]) -> Iterator[dict]:
    for item, rec in zip(items, records):
        base = {"line": item.line, "question": rec["question"], "answered": rec["answered"],
                "error": rec.get("error") or ""}
        if not rec["results"]:
            yield base
        for r in rec["results"]:
            c = r["citation"]
            yield {**base, "rank": r["rank"], "score": r["score"], "answer": r["answer"], "text": r["text"],
                   "source": c["source"], "section": c["section"], "paragraph": c["paragraph"],
                   "start": c["start"], "end": c["end"]}


def write_csv(items: list[BatchItem], records: list[dict], out: io.TextIOBase) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(csv_rows(items, records))


def format_text(record: dict) -> str:
    """A readable block for one answered question (also used by ``ask`` on the terminal)."""
    lines = [f"问: {record['question']}"]
    if record.get("error"):
        lines.append(f"  error: {record['error']}")
        return "\n".join(lines)
    if not record["answered"]:
        lines.append(f"  {NO_ANSWER} (no confident answer); closest passages:")
    for r in record["results"]:
        lines.append(f"[{r['rank']}] score {r['score']:.3f}  答: {r['answer']}")
        lines.append(f"    {r['text']}")
        lines.append(f"    — {format_citation(Citation.from_dict(r['citation']))}")
    return "\n".join(lines)


def write_text(records: list[dict], out: io.TextIOBase) -> None:
    for rec in records:
        out.write(format_text(rec) + "\n\n")


def write_records(fmt: str, items: list[BatchItem], records: list[dict], out: io.TextIOBase) -> None:
    if fmt == "jsonl":
        write_jsonl(records, out)
    elif fmt == "csv":
        write_csv(items, records, out)
    elif fmt == "text":
        write_text(records, out)
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def answer_items(searcher, items: list[BatchItem], top_k: int, progress: bool = False) -> list[dict]:
    """Answer every usable item (batched query embedding), keeping input order."""
    from tqdm import tqdm

    records: list[dict] = [response_record(it, None) for it in items]  # error entries stay as they are
    todo = [i for i, it in enumerate(items) if it.error is None]
    with tqdm(total=len(todo), desc="questions", unit="q", disable=not progress) as bar:
        responses = searcher.search_many([items[i].question for i in todo], top_k=top_k, on_progress=bar.update)
    for i, resp in zip(todo, responses):
        records[i] = response_record(items[i], resp)
    return records
