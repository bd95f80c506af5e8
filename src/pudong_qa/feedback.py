"""Thumbs up/down from the chat page, kept locally: one JSON line per click in
``<data_dir>/feedback.jsonl`` (``data_dir`` defaults to ``<root>/data``; set
``PUDONG_QA_DATA_DIR`` to move it). Each entry has the time (UTC, ISO 8601), the rating
(``up``/``down``), the question, the query searched, whether it was answered, and the
passages shown with their citations. ``pudong-qa feedback --export FILE`` writes them out
as JSONL, or CSV when FILE ends in ``.csv``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .disk.jsonlog import append_entry, read_entries, timestamp
from .settings import Settings

FILE_NAME = "feedback.jsonl"
CSV_COLUMNS = ["time", "who", "rating", "question", "query", "answered", "confidence", "first_result", "first_citation",
               "results"]


def feedback_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / FILE_NAME


def record_feedback(settings: Settings, rating: str, shown: dict, who: str = "") -> dict:
    """Append one rating with what was shown (the reply's question, query, answered flag, results)
    and who gave it (a user name, ``key:NAME``, or ``local`` on a sign-in-free server)."""
    entry = {"time": timestamp(), "who": who, "rating": rating,
             "question": shown.get("question", ""), "query": shown.get("query", ""),
             "answered": bool(shown.get("answered")), "confidence": shown.get("confidence"),
             "results": shown.get("results", [])}
    return append_entry(feedback_path(settings), entry)


def read_feedback(settings: Settings) -> list[dict]:
    return read_entries(feedback_path(settings))


def export_feedback(settings: Settings, out: Path) -> int:
    """Write every entry to ``out`` (CSV if it ends in .csv, else JSONL); returns how many."""
    entries = read_feedback(settings)
    out = Path(out)
    if out.suffix.lower() == ".csv":
        with open(out, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for e in entries:
                first = (e.get("results") or [{}])[0]
                writer.writerow({**e, "first_result": first.get("text", ""),
                                 "first_citation": first.get("citation", ""),
                                 "results": json.dumps(e.get("results", []), ensure_ascii=False)})
    else:
        with open(out, "w", encoding="utf-8") as f:
            for e in entries:
                f.write(json.dumps(e, ensure_ascii=False) + "\n")
    return len(entries)
