"""The audit log: who added, removed or rebuilt what, when, who ran a batch, and who managed
users and keys: one JSON line per event in ``<data dir>/audit.jsonl``, printed by
``pudong-qa audit``. It names people and keys by name only; no password or key ever reaches it.

Each entry: ``time`` (UTC, ISO 8601), ``who`` (a user name, ``key:NAME``, ``local`` or ``cli``),
``action`` (``add``, ``remove``, ``rebuild``, ``batch``, ``refused``, ``signin-failed``,
``user-add`` …), ``kb`` (the knowledge base), ``target`` (files, a user or key name), ``outcome``
(``ok``, ``refused`` or ``error``) and, for some, ``detail``.
"""

from __future__ import annotations

from pathlib import Path

from ..disk.jsonlog import append_entry, read_entries, timestamp

FILE_NAME = "audit.jsonl"


def audit_path(data_dir: Path) -> Path:
    return Path(data_dir) / FILE_NAME


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> AuditLog:
        return cls(audit_path(data_dir))

    def record(self, who: str, action: str, kb: str = "", target: str | list[str] = "", outcome: str = "ok",
               **detail) -> dict:
        entry = {"time": timestamp(), "who": who, "action": action,
                 "kb": kb, "target": target, "outcome": outcome, **({"detail": detail} if detail else {})}
        return append_entry(self.path, entry)

    def read(self, last: int | None = None) -> list[dict]:
        entries = read_entries(self.path)
        return entries[-last:] if last else entries


def format_entry(e: dict) -> str:
    """One line for people: time, who, action, knowledge base, what, and the outcome when not ok."""
    target = e.get("target") or ""
    target = ", ".join(target) if isinstance(target, list) else str(target)
    detail = e.get("detail") or {}
    extra = " ".join(f"{k}={v}" for k, v in detail.items())
    outcome = "" if e.get("outcome") == "ok" else f" [{e.get('outcome')}]"
    kb = f" ({e['kb']})" if e.get("kb") else ""
    return " ".join(x for x in (e.get("time", "?"), e.get("who", "?"), e.get("action", "?") + kb + outcome,
                                target, extra) if x)
