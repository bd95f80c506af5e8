"""Recognised pages (``OcrPage``: lines, boxes, confidences) kept by the file's content hash, so no
page is ever recognised twice.

One JSON file per scanned file, ``<sha256>.json`` (the pages read so far, and the OCR options they were
read with), plus a JPEG of each page for the source view (``<sha256>-<page>.jpg``). Keyed by content,
not by name: a moved or renamed file, a rebuild or a restart finds its pages; a changed file gets a
new key. JSON and JPEG only (nothing is unpickled), each written to a temporary file and renamed into
place, so a crash leaves either the old entry or the new one. ``prune`` drops the entries of files no
longer in the corpus.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class OcrLine:
    """One recognised text line: its text, its box in page pixels (x0, y0, x1, y1) and the model's confidence."""

    text: str
    box: tuple[int, int, int, int]
    confidence: float


@dataclass
class OcrPage:
    """A recognised page: its number in the file (1-based), its size in pixels and its lines as the model gave them."""

    number: int
    width: int
    height: int
    lines: list[OcrLine] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "width": self.width, "height": self.height,
                "lines": [[ln.text, list(ln.box), round(ln.confidence, 4)] for ln in self.lines]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> OcrPage:
        return cls(int(d["number"]), int(d["width"]), int(d["height"]),
                   [OcrLine(str(t), tuple(int(v) for v in box), float(c)) for t, box, c in d["lines"]])


_ENTRY = re.compile(r"^([0-9a-f]{64})(?:\.json|-\d+\.jpg)$")
PAGE_IMAGE_WIDTH = 1240  # pixels: A4 at 150 dpi, sharp enough to read on a screen, ~150-250 KB a page


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def cache_folder(cache_dir: Path, index_dir: Path) -> Path:
    """One index's OCR cache: ``<cache>/ocr/<hash of the index folder>``, so pruning for one knowledge base
    never removes another's pages."""
    key = hashlib.sha256(str(Path(index_dir).resolve()).encode("utf-8")).hexdigest()[:16]
    return Path(cache_dir) / "ocr" / key


class OcrCache:
    """The recognised pages of scanned files in one folder, by content hash."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _entry(self, sha: str) -> Path:
        return self.folder / f"{sha}.json"

    def image_path(self, sha: str, page: int) -> Path:
        return self.folder / f"{sha}-{page}.jpg"

    def pages(self, sha: str, options: dict[str, Any]) -> dict[int, OcrPage]:
        """The pages of this file already read with these options (none if the entry is missing or unreadable)."""
        try:
            record = json.loads(self._entry(sha).read_text(encoding="utf-8"))
            if record.get("options") != options:
                return {}
            return {int(p["number"]): OcrPage.from_json(p) for p in record["pages"]}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    def save(self, sha: str, options: dict[str, Any], pages: dict[int, OcrPage]) -> None:
        record = {"options": options, "pages": [pages[n].to_json() for n in sorted(pages)]}
        write_atomic(self._entry(sha), json.dumps(record, ensure_ascii=False).encode("utf-8"))

    def save_image(self, sha: str, page: int, image: Any) -> str:
        """Keep a JPEG of the page (a PIL image) for the source view; returns its file name."""
        import io

        scale = min(1.0, PAGE_IMAGE_WIDTH / max(1, image.width))
        shown = image.convert("RGB")
        if scale < 1.0:
            shown = shown.resize((round(image.width * scale), round(image.height * scale)))
        buffer = io.BytesIO()
        shown.save(buffer, "JPEG", quality=70, optimize=True)
        path = self.image_path(sha, page)
        write_atomic(path, buffer.getvalue())
        return path.name

    def prune(self, keep: set[str]) -> int:
        """Remove the entries (and page images) of every file not in ``keep``; returns how many files went."""
        if not self.folder.is_dir():
            return 0
        removed = 0
        for path in self.folder.iterdir():
            m = _ENTRY.match(path.name)
            if m and m.group(1) not in keep:
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed += path.suffix == ".json"
        return removed
