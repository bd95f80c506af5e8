"""The recycle folder: documents replaced or removed from a corpus, kept for a set time so that
nothing an editor does is lost, and put back with ``pudong-qa documents restore``.

Layout: ``<data dir>/recycle/<corpus folder name>/<id>/`` holds the file under its own name and
``record.json`` (its source, its path in the corpus folder, the corpus folder, why, who, when,
its SHA-256 and size). An entry is written into a hidden temporary folder and renamed into place,
so a listed entry is always complete. Entries older than ``recycle_days`` are deleted the next
time a document is added, removed or restored, or a server starts (``prune``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .corpus import relative_source
from .errors import CorpusError
from .index import file_sha256
from .settings import Settings

RECORD = "record.json"
REASONS = ("replaced", "removed")


@dataclass(frozen=True)
class Recycled:
    """One recycled file and where it came from."""

    id: str
    source: str  # its citation source when it was recycled (relative to the root)
    path: str  # relative to the corpus folder: where ``restore`` puts it back
    corpus: str  # the corpus folder it came from (absolute)
    reason: str  # replaced or removed
    who: str  # a user name, ``key:NAME``, ``local`` or ``cli``
    time: str  # UTC, ISO 8601
    sha256: str
    size: int
    folder: Path = field(default=Path(), compare=False, repr=False)

    @property
    def file(self) -> Path:
        return self.folder / Path(self.path).name

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "folder"}


def bin_name(corpus: Path) -> str:
    """The recycle folder's name for a corpus: the corpus folder's name (a knowledge base's default id)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(corpus).resolve().name).strip("-")[:64]
    return name or "default"


class RecycleBin:
    """The recycled files of one corpus folder."""

    def __init__(self, folder: Path, corpus: Path, root: Path, days: float) -> None:
        self.folder, self.corpus, self.root, self.days = Path(folder), Path(corpus), Path(root), days

    @classmethod
    def for_settings(cls, settings: Settings) -> RecycleBin:
        folder = Path(settings.data_dir) / "recycle" / bin_name(settings.corpus)
        return cls(folder, settings.corpus, settings.root, settings.recycle_days)

    def put(self, path: Path, reason: str, who: str) -> Recycled:
        """Move ``path`` (a file of the corpus) into the recycle folder; returns its entry."""
        if reason not in REASONS:
            raise ValueError(reason)
        path = Path(path)
        now = datetime.now(timezone.utc)
        entry = Recycled(
            id=f"{now:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}",
            source=relative_source(path, self.root), path=relative_source(path, self.corpus),
            corpus=str(self.corpus.resolve()), reason=reason, who=who, time=now.isoformat(timespec="seconds"),
            sha256=file_sha256(path), size=path.stat().st_size)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{entry.id}.tmp"
        tmp.mkdir()
        try:
            (tmp / RECORD).write_text(json.dumps(entry.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
            shutil.move(path, tmp / path.name)  # a rename when corpus and data share a file system
            os.replace(tmp, self.folder / entry.id)
        except BaseException:
            if not path.exists() and (tmp / path.name).exists():
                shutil.move(tmp / path.name, path)  # put it back where it was
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return _with_folder(entry, self.folder / entry.id)

    def entries(self) -> list[Recycled]:
        """This corpus's recycled files, newest first (another corpus folder of the same name shares
        the recycle folder; its entries are not listed)."""
        out = []
        corpus = str(self.corpus.resolve())
        for folder in self.folder.glob("*") if self.folder.is_dir() else ():
            if folder.name.startswith("."):
                continue
            entry = _read(folder)
            if entry is not None and entry.corpus == corpus:
                out.append(entry)
        return sorted(out, key=lambda e: e.id, reverse=True)

    def find(self, what: str) -> Recycled:
        """The entry ``what`` names: its id, or the newest of a source (``corpus/notice.txt``), a path
        in the corpus folder or a file name."""
        entries = self.entries()
        for match in (lambda e: e.id == what, lambda e: what in (e.source, e.path),
                      lambda e: Path(e.path).name == what):
            found = [e for e in entries if match(e)]
            if found:
                return found[0]
        raise CorpusError(code="not_recycled" if entries else "recycle_empty", subject=what, folder=str(self.folder))

    def restore(self, what: str, who: str) -> tuple[Recycled, Recycled | None]:
        """Put the entry ``what`` names back where it was. A different file there now is recycled
        first (so restoring undoes a replacement without losing the newer text); an identical one
        stays. Returns the restored entry and the one recycled in its place, if any."""
        entry = self.find(what)
        target = self.corpus / entry.path
        if target.is_symlink() or (target.exists() and not target.is_file()):
            raise CorpusError(code="restore_blocked", subject=entry.path)
        displaced = None
        if target.exists() and file_sha256(target) != entry.sha256:
            displaced = self.put(target, "replaced", who)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.move(entry.file, target)
        shutil.rmtree(entry.folder, ignore_errors=True)
        return entry, displaced

    def prune(self, now: datetime | None = None) -> list[Recycled]:
        """Delete entries older than ``days`` (and temporary folders a crash left that long ago)."""
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=self.days)
        gone = []
        for folder in self.folder.glob("*") if self.folder.is_dir() else ():
            entry = _read(folder)
            when = _parse_time(entry.time) if entry else \
                datetime.fromtimestamp(folder.stat().st_mtime, timezone.utc)
            if when is not None and when < cutoff and (entry is None or entry.corpus == str(self.corpus.resolve())):
                shutil.rmtree(folder, ignore_errors=True)
                if entry is not None:
                    gone.append(entry)
        return gone


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _read(folder: Path) -> Recycled | None:
    try:
        data = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        return _with_folder(Recycled(**{k: data[k] for k in Recycled.__dataclass_fields__ if k != "folder"}), folder)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _with_folder(entry: Recycled, folder: Path) -> Recycled:
    return Recycled(**{**entry.to_dict(), "folder": folder})
