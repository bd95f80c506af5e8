"""The passages of an index on disk as columns, read lazily.

A million passages as Python objects cost gigabytes before a question is asked, so the
index keeps them as numpy columns and one UTF-8 text array: a search decodes only the
passages it looks at, reading their texts from the files (``rowfile.NpyRows``). Layout of
``passages/`` (numpy and JSON only, no pickle)::

    columns.npy      one record per passage: source, title, section (ids into strings.json),
                     paragraph, page (0 = none), start, end (character offsets in the document)
    text.npy         every passage's text, UTF-8, one after another (uint8)
    text_offsets.npy byte offset of each passage's text, plus the end (n + 1)
    sentences.npy    each sentence's absolute (start, end), in passage order
    sentence_offsets.npy  passage i's sentences are rows [offsets[i], offsets[i + 1])
    folded.npy       each passage's text and then its sentences, folded by ``tokenize.normalize``
    folded_offsets.npy  byte offset of each of those pieces, plus the end
    strings.json     the distinct sources, titles and sections
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .chunking import Passage
from .disk.rowfile import NpyRows
from .tokenize import normalize_all

FOLDER = "passages"
LEGACY_FILE = "passages.json"  # format 3 indexes, read so their vectors can be reused
COLUMNS = np.dtype([("source", "<i4"), ("title", "<i4"), ("section", "<i4"), ("paragraph", "<i4"),
                    ("page", "<i4"), ("start", "<i8"), ("end", "<i8")])
_STRING_FIELDS = ("source", "title", "section")
CACHE_SIZE = 4096  # decoded passages kept (about 20 questions' candidates)
ITER_BLOCK = 1024  # passages decoded per read when the whole table is walked


def write_passages(directory: Path, passages: Sequence[Passage], folds: Mapping[str, str] | None = None) -> None:
    """``passages`` (ids 0..n-1 in order) as the columns above, in ``directory/passages``.
    ``folds`` are texts already folded (``PassageTable.folds`` of the previous index): an
    incremental build folds only the others."""
    bad = next((i for i, p in enumerate(passages) if p.id != i), None)
    if bad is not None:
        raise ValueError(f"passage ids must be 0..n-1 in order (passage {bad} has id {passages[bad].id})")
    folder = Path(directory) / FOLDER
    folder.mkdir()
    tables: dict[str, dict[str, int]] = {name: {} for name in _STRING_FIELDS}
    columns = np.zeros(len(passages), dtype=COLUMNS)
    texts = []
    for i, p in enumerate(passages):
        for name in _STRING_FIELDS:
            table = tables[name]
            columns[name][i] = table.setdefault(getattr(p, name), len(table))
        columns["paragraph"][i], columns["page"][i] = p.paragraph, p.page or 0
        columns["start"][i], columns["end"][i] = p.start, p.end
        texts.append(p.text.encode("utf-8"))
    folds = folds or {}
    pieces = [piece for p in passages for piece in (p.text, *p.sentence_texts())]
    todo = list(dict.fromkeys(piece for piece in pieces if piece not in folds))
    fresh = dict(zip(todo, normalize_all(todo)))
    folded = [(fresh[piece] if piece in fresh else folds[piece]).encode("utf-8") for piece in pieces]
    text_offsets = np.zeros(len(passages) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=text_offsets[1:])
    sentence_offsets = np.zeros(len(passages) + 1, dtype=np.int64)
    np.cumsum([len(p.sentences) for p in passages], out=sentence_offsets[1:])
    spans = np.array([span for p in passages for span in p.sentences], dtype=np.int64).reshape(-1, 2)
    np.save(folder / "columns.npy", columns, allow_pickle=False)
    np.save(folder / "text.npy", np.frombuffer(b"".join(texts), dtype=np.uint8), allow_pickle=False)
    np.save(folder / "text_offsets.npy", text_offsets, allow_pickle=False)
    np.save(folder / "sentences.npy", spans, allow_pickle=False)
    np.save(folder / "sentence_offsets.npy", sentence_offsets, allow_pickle=False)
    folded_offsets = np.zeros(len(folded) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in folded], out=folded_offsets[1:])
    np.save(folder / "folded.npy", np.frombuffer(b"".join(folded), dtype=np.uint8), allow_pickle=False)
    np.save(folder / "folded_offsets.npy", folded_offsets, allow_pickle=False)
    (folder / "strings.json").write_text(json.dumps({name: list(tables[name]) for name in _STRING_FIELDS},
                                                    ensure_ascii=False), encoding="utf-8")


class PassageTable(Sequence[Passage]):
    """The passages of an index, each decoded into a ``Passage`` when it is asked for."""

    def __init__(self, folder: Path) -> None:
        def load(name: str) -> np.ndarray:
            return np.load(folder / name, allow_pickle=False)

        # the fixed-size columns are held (~100 bytes a passage); texts are read from the file
        # for the passages a search looks at
        self.columns = load("columns.npy")
        self._text_offsets = load("text_offsets.npy")
        self.sentence_offsets = load("sentence_offsets.npy")
        self._spans = load("sentences.npy")
        self._text = NpyRows(folder / "text.npy")
        self._folded_offsets = load("folded_offsets.npy")
        self._folded = NpyRows(folder / "folded.npy")
        strings = json.loads((folder / "strings.json").read_text(encoding="utf-8"))
        self._strings = [strings[name] for name in _STRING_FIELDS]
        n = len(self.columns)
        if len(self._text_offsets) != n + 1 or len(self.sentence_offsets) != n + 1 \
                or self.sentence_offsets[-1] != len(self._spans) or self._text_offsets[-1] != len(self._text) \
                or len(self._folded_offsets) != n + len(self._spans) + 1 \
                or self._folded_offsets[-1] != len(self._folded):
            raise ValueError("passage columns do not agree in length")
        # a question looks at the same few hundred passages several times
        self._cached = lru_cache(maxsize=CACHE_SIZE)(self._passage)
        self._sources = np.asarray(self.columns["source"])
        # passages of one document are consecutive: where each source's run begins and ends
        change = np.flatnonzero(np.diff(self._sources)) + 1 if n else np.array([], dtype=np.int64)
        bounds = np.concatenate([[0], change, [n]]).astype(np.int64)
        self._ranges = {self._strings[0][int(self._sources[a])]: (int(a), int(b))
                        for a, b in zip(bounds[:-1], bounds[1:]) if b > a}

    def __len__(self) -> int:
        return len(self.columns)

    def _passage(self, i: int) -> Passage:
        return self._block(i, i + 1)[0]

    def _block(self, first: int, stop: int) -> list[Passage]:
        """Passages ``first:stop`` decoded from one read of their texts."""
        if stop <= first:
            return []
        bounds = self._text_offsets[first : stop + 1].tolist()
        data = self._text.read(bounds[0], bounds[-1]).tobytes()
        spans = self.sentence_offsets[first : stop + 1].tolist()
        pairs = list(map(tuple, self._spans[spans[0] : spans[-1]].tolist()))
        sources, titles, sections = self._strings
        out = []
        for k, (source, title, section, paragraph, page, start, end) in enumerate(self.columns[first:stop].tolist()):
            out.append(Passage(
                id=first + k, source=sources[source], title=titles[title], section=sections[section],
                paragraph=paragraph, start=start, end=end,
                text=data[bounds[k] - bounds[0] : bounds[k + 1] - bounds[0]].decode("utf-8"),
                sentences=tuple(pairs[spans[k] - spans[0] : spans[k + 1] - spans[0]]), page=page or None))
        return out

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            ids = range(*i.indices(len(self)))
            return self._block(ids.start, ids.stop) if ids.step == 1 else [self._passage(k) for k in ids]
        k = int(i)
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(f"passage {i} out of range")
        return self._cached(k)

    def __iter__(self) -> Iterator[Passage]:
        """Every passage, in order, a block at a time: a build walks the whole table, and one read
        per passage made that 2.5x slower (20,000 passages, docs/benchmarks.md)."""
        for first in range(0, len(self), ITER_BLOCK):
            yield from self._block(first, min(len(self), first + ITER_BLOCK))

    def folds(self) -> dict[str, str]:
        """Every passage text and sentence with its stored folding, by the raw text."""
        out: dict[str, str] = {}
        for first in range(0, len(self), ITER_BLOCK):
            stop = min(len(self), first + ITER_BLOCK)
            raw = [piece for p in self._block(first, stop) for piece in (p.text, *p.sentence_texts())]
            a, b = first + int(self.sentence_offsets[first]), stop + int(self.sentence_offsets[stop])
            bounds = self._folded_offsets[a : b + 1].tolist()
            data = self._folded.read(bounds[0], bounds[-1]).tobytes()
            out.update(zip(raw, (data[x - bounds[0] : y - bounds[0]].decode("utf-8")
                                 for x, y in zip(bounds[:-1], bounds[1:]))))
        return out

    def folded(self, i: int) -> tuple[str, list[str]]:
        """Passage ``i``'s text and sentences as ``tokenize.normalize`` folds them, stored at build
        time, so a search does not fold the texts of its candidates again."""
        first = i + int(self.sentence_offsets[i])  # passage i's text, then its sentences
        bounds = self._folded_offsets[first : i + int(self.sentence_offsets[i + 1]) + 2].tolist()
        data = self._folded.read(bounds[0], bounds[-1]).tobytes()
        base = bounds[0]
        pieces = [data[a - base : b - base].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:])]
        return pieces[0], pieces[1:]

    def of_source(self, source: str) -> range:
        """Ids of one document's passages (empty if it is not indexed)."""
        return range(*self._ranges.get(source, (0, 0)))


def labels(passages: Sequence[Passage], name: str, ids) -> list[str]:
    """The ``source``, ``title`` or ``section`` of the given passages, from the columns when it
    can (ranking needs them for every candidate, but the texts only of a few)."""
    if isinstance(passages, PassageTable):
        strings = passages._strings[_STRING_FIELDS.index(name)]
        return [strings[k] for k in passages.columns[name][np.asarray(ids, dtype=np.int64)].tolist()]
    return [getattr(passages[int(i)], name) for i in ids]


def passages_of(passages: Sequence[Passage], source: str) -> list[Passage]:
    """One document's passages, in order, without scanning a large index."""
    if isinstance(passages, PassageTable):
        return [passages[i] for i in passages.of_source(source)]
    return [p for p in passages if p.source == source]


def outline(passages: Sequence[Passage], source: str) -> tuple[list[str], int]:
    """One document's heading paths in order of first use, and its last paragraph number, from
    the columns alone when it can (the page's welcome lists every document)."""
    if isinstance(passages, PassageTable):
        ids = passages.of_source(source)
        rows = passages.columns[ids.start : ids.stop]
        if not len(rows):
            return [], 0
        ids, first = np.unique(np.asarray(rows["section"]), return_index=True)
        sections = passages._strings[2]
        return [sections[i] for i in ids[np.argsort(first)]], int(rows["paragraph"].max())
    mine = [p for p in passages if p.source == source]
    return list(dict.fromkeys(p.section for p in mine)), max((p.paragraph for p in mine), default=0)


def read_passages(index_dir: Path) -> Sequence[Passage]:
    """The passages of the index in ``index_dir``: columns, or the JSON list of format 3."""
    index_dir = Path(index_dir)
    if (index_dir / FOLDER).is_dir():
        return PassageTable(index_dir / FOLDER)
    records = json.loads((index_dir / LEGACY_FILE).read_text(encoding="utf-8"))
    return [Passage(**{**r, "sentences": tuple(tuple(s) for s in r["sentences"])}) for r in records]
