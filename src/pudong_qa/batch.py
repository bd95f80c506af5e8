"""Question files in, answer files out: the batch contract shared by the CLI and the chat page.

Inputs: ``.txt`` (one question a line), ``.csv`` (a ``question`` or ``问题`` column, so the
page's own answer table can be asked again), ``.jsonl`` (a ``question`` or ``问题`` field).
Every input line gets exactly one output entry, in order; a line that cannot be asked (empty,
broken JSON, …) gets an ``error`` instead of results.
Outputs: ``jsonl`` (the evaluation contract), ``csv`` (one row per result) or ``text``; and for
people (the chat page's downloads) the table as shown and every ranked result, with Chinese headers.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .asking import error_record
from .errors import Problem, QuestionFileError
from .rendering import citation_text, file_name
from .results import ANSWERED, NO_ANSWER, NOT_FOUND, UNSURE, Citation, SearchResponse, format_citation
from .search.query import question_problem

INPUT_SUFFIXES = (".txt", ".csv", ".jsonl")
FORMATS = ("jsonl", "csv", "text")
MAX_QUESTION_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class BatchItem:
    line: int  # 1-based line (or CSV row) number in the input
    question: str
    error: Problem | None = None  # why the line cannot be asked
    extra: tuple[tuple[str, str], ...] = ()  # a CSV's other columns (id, note …) as (header, cell), in order
    blank: bool = False  # the whole line (or CSV row) is empty: an error entry, but not a question to people


def read_question_file(path: Path, max_bytes: int = MAX_QUESTION_FILE_BYTES) -> list[BatchItem]:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise QuestionFileError(code="question_file_type", subject=str(path), suffix=suffix or "no extension")
    if not path.exists():
        raise QuestionFileError(code="no_such_file", subject=str(path))
    if not path.is_file():
        raise QuestionFileError(code="not_a_file", subject=str(path))
    size = path.stat().st_size
    if size > max_bytes:
        raise QuestionFileError(code="question_file_too_big", subject=str(path), size_mb=size / 2**20,
                                limit_mb=max_bytes / 2**20)
    from .formats import read_question_text

    return parse_questions(read_question_text(path), suffix, str(path))


def parse_question_bytes(data: bytes, suffix: str, name: str = "questions") -> list[BatchItem]:
    """A question file already read into memory (an upload), decoded as ``read_question_file`` does."""
    from .formats import decode_question_bytes

    if suffix not in INPUT_SUFFIXES:
        raise QuestionFileError(code="question_file_type", subject=name, suffix=suffix or "no extension")
    return parse_questions(decode_question_bytes(data, name), suffix, name)


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
            items.append(_item(n, line, blank=not line.strip()))
    return items


QUESTION_NAMES = ("question", "问题")  # the column (CSV) or field (JSONL) holding the question


def _item(n: int, question: str, extra: tuple[tuple[str, str], ...] = (), blank: bool = False) -> BatchItem:
    return BatchItem(n, question, question_problem(question), extra, blank)


def _parse_jsonl_line(n: int, line: str) -> BatchItem:
    if not line.strip():
        return BatchItem(n, "", Problem("empty_line"), blank=True)
    try:
        row = json.loads(line)
    except ValueError:
        return BatchItem(n, "", Problem("not_json"))
    key = next((k for k in QUESTION_NAMES if isinstance(row.get(k), str)), None) if isinstance(row, dict) else None
    if key is None:
        return BatchItem(n, "", Problem("no_question_field"))
    return _item(n, row[key])


def _parse_csv(text: str, name: str) -> list[BatchItem]:
    """Rows after the header, blank rows included (they get an error entry, like other formats)."""
    reader = csv.reader(io.StringIO(text))
    names = [h.strip() for h in next(reader, [])]
    header = [h.lower() for h in names]
    col = next((header.index(q) for q in QUESTION_NAMES if q in header), None)
    if col is None:
        raise QuestionFileError(code="no_question_column", subject=name, found=", ".join(header) or "none")
    # Columns this program writes itself (re-asking its own answer table) are answered afresh, not kept.
    ours = set(TABLE_COLUMNS) | set(RANKED_COLUMNS)
    others = [i for i, h in enumerate(names) if h and i != col and h not in ours]
    items = []
    try:
        for row in reader:
            n = reader.line_num
            extra = tuple((names[i], row[i] if i < len(row) else "") for i in others)
            blank = not any(cell.strip() for cell in row)
            items.append(_item(n, row[col], extra, blank) if len(row) > col
                         else BatchItem(n, "", Problem("missing_question_cell"), extra, blank))
    except csv.Error as exc:
        items.append(BatchItem(reader.line_num, "", Problem("broken_csv", {"reason": str(exc)})))
    return items


def extra_columns(items: list[BatchItem]) -> list[str]:
    """The input's own columns besides ``question`` (a CSV's id, note …), in the file's order."""
    return list(dict.fromkeys(h for it in items for h, _ in it.extra))


# ---------------------------------------------------------------- output


def response_record(item: BatchItem, response: SearchResponse | None) -> dict:
    """One JSONL entry: the evaluation contract, plus ``error`` for an unusable line."""
    if response is None:
        return error_record(item.question, item.error)
    return response.to_dict()


def write_jsonl(records: Iterable[dict], out: io.TextIOBase) -> None:
    for rec in records:
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")


CSV_COLUMNS = ["line", "question", "answered", "verdict", "rank", "score", "sentence", "answer", "missing", "text",
               "source", "section", "paragraph", "start", "end", "error"]


def csv_rows(items: list[BatchItem], records: list[dict]) -> Iterator[dict]:
    for item, rec in zip(items, records):
        base = {"line": item.line, "question": rec["question"], "answered": rec["answered"],
                "verdict": rec.get("verdict", ""), "error": rec.get("error") or ""}
        if not rec["results"]:
            yield base
        for r in rec["results"]:
            c = r["citation"]
            yield {**base, "rank": r["rank"], "score": r["score"], "sentence": r.get("sentence", r["answer"]),
                   "answer": r["answer"], "missing": "、".join(r.get("missing", ())), "text": r["text"],
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
        lines.append(f"[{r['rank']}] score {r['score']:.3f}  答: {r.get('sentence', r['answer'])}")
        lines.append(f"    {r['text']}")
        if r.get("missing"):
            lines.append(f"    未包含: {'、'.join(r['missing'])}")
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


# ---------------------------------------------------------------- files for people (the chat page's batch tab)

TABLE_COLUMNS = ["问题", "是否回答", "答案", "未包含", "段落", "出处", "行"]  # then the input's own columns
RANKED_COLUMNS = ["行", "问题", "是否回答", "名次", "得分", "答案句", "未包含", "段落原文", "出处", "文件", "起", "止"]
VERDICT_WORDS = {ANSWERED: "是", UNSURE: "未确认", NOT_FOUND: "否"}


def verdict_code(item: BatchItem, response: SearchResponse | None) -> str:
    """The chat page's look of a line's answer (one of ``results.VERDICTS``), or "error" when the
    line could not be asked."""
    if response is None:
        return "error"
    return response.verdict if response.results else NOT_FOUND


def verdict_word(item: BatchItem, response: SearchResponse | None) -> str:
    """是 / 未确认 / 否, or why the line could not be asked: ``verdict_code`` in words."""
    code = verdict_code(item, response)
    if code == "error":
        return "无法提问: " + (item.error.say("zh") if item.error else "无法检索")
    return VERDICT_WORDS[code]


def table(items: list[BatchItem], responses: list[SearchResponse | None]) -> tuple[list[str], list[list]]:
    """(headers, rows): one row per question (blank lines are none), the answer sentence (the one
    the chat marks, ``Result.sentence``), the question's words its passage lacks, and the passage,
    only when the first result answers or may answer (未确认), its citation without any server
    path, the input line, then the input's own columns. The screen and the downloaded table are this."""
    cols = extra_columns(items)
    rows = []
    for item, resp in zip(items, responses):
        if item.blank:
            continue
        best = resp.results[0] if verdict_code(item, resp) in (ANSWERED, UNSURE) else None
        extra = dict(item.extra)
        rows.append([item.question, verdict_word(item, resp), best.sentence if best else "",
                     "、".join(best.missing) if best else "", best.text if best else "",
                     citation_text(best.citation) if best else "", item.line,
                     *[extra.get(c, "") for c in cols]])
    return TABLE_COLUMNS + cols, rows


def ranked_rows(items: list[BatchItem], responses: list[SearchResponse | None]) -> tuple[list[str], list[list]]:
    """(headers, rows): every result of every question, best first, in Chinese columns; a question
    without results (or that could not be asked) has one row. As in the table, a question the
    documents do not answer has no answer sentence."""
    cols = extra_columns(items)
    rows = []
    for item, resp in zip(items, responses):
        if item.blank:
            continue
        extra = dict(item.extra)
        found = verdict_code(item, resp) != NOT_FOUND
        base = [item.line, item.question, verdict_word(item, resp)]
        own = [extra.get(c, "") for c in cols]
        results = resp.results if resp is not None else []
        rows += [[*base, r.rank, round(r.score, 4), r.sentence if found else "", "、".join(r.missing), r.text,
                  citation_text(r.citation), file_name(r.citation.source), r.citation.start, r.citation.end, *own]
                 for r in results]
        if not results:
            rows.append([*base, "", "", "", "", "", "", "", "", "", *own])
    return RANKED_COLUMNS + cols, rows


def write_table_csv(headers: list[str], rows: list[list], out: io.TextIOBase) -> None:
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)


def write_people_files(folder: Path, stem: str, items: list[BatchItem],
                       responses: list[SearchResponse | None]) -> list[Path]:
    """The batch tab's downloads in ``folder``: the table as shown (``…-答案-….csv``), every ranked
    result (``…-全部结果-….csv``), both UTF-8 with a BOM so Excel reads the Chinese, and the JSONL
    contract (every input line, with the input's own columns)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    paths = [folder / f"{stem}-答案-{stamp}.csv", folder / f"{stem}-全部结果-{stamp}.csv",
             folder / f"{stem}-结果数据-{stamp}.jsonl"]
    for path, (headers, rows) in zip(paths, (table(items, responses), ranked_rows(items, responses))):
        with open(path, "w", encoding="utf-8-sig", newline="") as f:
            write_table_csv(headers, rows, f)
    records = [response_record(it, resp) for it, resp in zip(items, responses)]
    with open(paths[2], "w", encoding="utf-8") as f:
        write_jsonl(with_extras(items, records), f)
    return paths


def with_extras(items: list[BatchItem], records: list[dict]) -> list[dict]:
    """Records carrying their input line's own columns (a CSV's id, note …) beside the contract's fields."""
    return [{**rec, **{h: v for h, v in it.extra if h not in rec}} for it, rec in zip(items, records)]


def answer_responses(searcher, items: list[BatchItem], top_k: int,
                     on_progress: Callable[[int], None] | None = None) -> list[SearchResponse | None]:
    """Each usable item's response (batched query embedding), None for a line that cannot be asked;
    in input order. ``on_progress`` gets the number of questions answered since its last call."""
    todo = [i for i, it in enumerate(items) if it.error is None]
    responses: list[SearchResponse | None] = [None] * len(items)
    found = searcher.search_many([items[i].question for i in todo], top_k=top_k, on_progress=on_progress)
    for i, resp in zip(todo, found):
        responses[i] = resp
    return responses


def answer_items(searcher, items: list[BatchItem], top_k: int, progress: bool = False) -> list[dict]:
    """Answer every usable item (batched query embedding), keeping input order: the JSONL records."""
    from tqdm import tqdm

    with tqdm(total=sum(it.error is None for it in items), desc="questions", unit="q", disable=not progress) as bar:
        responses = answer_responses(searcher, items, top_k, on_progress=bar.update)
    return [response_record(it, resp) for it, resp in zip(items, responses)]
