"""Thumbs up/down from the chat page, kept locally: one JSON line per click in
``<data_dir>/feedback.jsonl`` (``data_dir`` defaults to ``<root>/data``; set
``PUDONG_QA_DATA_DIR`` to move it). Each entry has the time (UTC, ISO 8601), the rating
(``up``/``down``), the question, the query searched, whether it was answered, and the
passages shown with their citations. ``pudong-qa feedback --export FILE`` writes them out
as JSONL, or CSV when FILE ends in ``.csv``."""

from __future__ import annotations

import csv
import json
import threading
from datetime import datetime, timezone
from pathlib import Path

from .settings import Settings

FILE_NAME = "feedback.jsonl"
CSV_COLUMNS = ["time", "who", "rating", "question", "query", "answered", "confidence", "first_result", "first_citation",
               "results"]
_lock = threading.Lock()


def feedback_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / FILE_NAME


def record_feedback(settings: Settings, rating: str, shown: dict, who: str = "") -> dict:
    """Append one rating with what was shown (the reply's question, query, answered flag, results)
    and who gave it (a user name, ``key:NAME``, or ``local`` on a sign-in-free server)."""
    entry = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "who": who, "rating": rating,
             "question": shown.get("question", ""), "query": shown.get("query", ""),
             "answered": bool(shown.get("answered")), "confidence": shown.get("confidence"),
             "results": shown.get("results", [])}
    path = feedback_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock, open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry


def read_feedback(settings: Settings) -> list[dict]:
    path = feedback_path(settings)
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a crash: skip it, keep the rest
    return entries


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
