"""Append-only JSON Lines logs (feedback, audit): one JSON object per line, appended whole under a
lock so concurrent writers never interleave, and read back skipping a line a crash cut short."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

_lock = threading.Lock()


def timestamp() -> str:
    """Now, UTC, ISO 8601 to the second: every entry's ``time``."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def append_entry(path: Path, entry: dict) -> dict:
    """Append ``entry`` as one line of ``path`` (made with its folder if missing); returns it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock, open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry


def read_entries(path: Path) -> list[dict]:
    """Every entry of ``path``, oldest first; none when it does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a crash: skip it, keep the rest
    return entries
