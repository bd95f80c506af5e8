"""The ``Store`` interface search reads through, and what every store shares.

Search reaches storage only through ``Store``: BM25 scores for a question's tokens, the
document frequency of a word, the nearest passages to a question vector, and the vectors
of given passages and sentences. A build writes a store through the same class
(``Store.write``), so neither side names a particular one.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..chunking import Passage

EMPTY_TOKEN = "<empty>"  # BM25 needs at least one token per text; no question has this one
K1, B = 1.5, 0.75  # BM25's (Lucene's, bm25s's) term-frequency saturation and length normalisation
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128  # graph degree, build and search breadth

Vectors = Callable[[], tuple[np.ndarray, np.ndarray]]  # waits for (passage vectors, sentence vectors)


@dataclass(frozen=True)
class LexicalScores:
    passages: np.ndarray  # BM25 score of every passage
    sentences: np.ndarray  # BM25 score of every sentence (rows in sentence order)


@dataclass(frozen=True)
class StoreOptions:
    """Where and how a build writes its store, and the credentials a reader needs to open it."""

    uri: str = ""  # "" = the local store; a path ending in .db = Milvus Lite; http://host:19530 = a server
    token: str = ""  # a Milvus server's token, if it needs one
    ann: str = "auto"  # the local vector index: auto, flat or hnsw


@dataclass(frozen=True)
class StoreInput:
    """What a build hands a store to write: the passages, their tokens, and the vectors to come."""

    index_dir: Path  # where the index will live once swapped in (names a remote collection)
    passages: Sequence[Passage]
    passage_tokens: list[list[str]]
    sentence_tokens: list[list[str]]
    vectors: Vectors  # called once the files that need no vectors are written
    identity: dict[str, Any]  # what the vectors and tokens were made from (model, pipeline …)


def bm25_idf(n_docs: int, df: int) -> float:
    """Lucene's BM25 idf (the variant bm25s scores with), for a word in ``df`` of ``n_docs`` texts."""
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))


def top_indices(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values (unordered); linear time, so it scales to millions."""
    return np.argpartition(-x, k)[:k] if len(x) > k else np.arange(len(x))


def sentence_layout(passages: Sequence[Passage]) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, owner) of the sentence rows, which follow passage order."""
    offsets = getattr(passages, "sentence_offsets", None)  # a PassageTable has them without decoding
    if offsets is None:
        counts = np.array([len(p.sentences) for p in passages], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return offsets, np.repeat(np.arange(len(passages)), np.diff(offsets))


class Store(ABC):
    """The passages of an index, their dense vectors and their lexical postings."""

    kind: str  # recorded in the manifest; ``open_store`` picks the class by it
    passages: Sequence[Passage]
    sentence_offsets: np.ndarray  # passage i's sentences are rows [offsets[i], offsets[i+1])
    sentence_owner: np.ndarray  # passage of each sentence row

    @classmethod
    def write(cls, directory: Path, data: StoreInput, options: StoreOptions) -> dict[str, Any]:
        """Write the store's part of an index into ``directory`` (the folder a build swaps in);
        returns the manifest's ``store`` entry. A store that only serves searches need not."""
        raise NotImplementedError(f"{cls.__name__} cannot be written by a build")

    @classmethod
    def load(cls, directory: Path, passages: Sequence[Passage], info: dict[str, Any],
             options: StoreOptions) -> Store:
        """Open the store of the index in ``directory`` (``info``: its manifest entry)."""
        raise NotImplementedError(f"{cls.__name__} cannot be opened from an index folder")

    @abstractmethod
    def lexical_scores(self, tokens: list[str]) -> LexicalScores:
        """BM25 of the question's tokens against every passage and every sentence."""

    @abstractmethod
    def document_frequency(self, word: str) -> int:
        """In how many passages ``word`` occurs (0 if never)."""

    @abstractmethod
    def nearest(self, qvec: np.ndarray, k: int) -> np.ndarray:
        """Ids of (up to) the ``k`` passages closest to the question vector, in any order."""

    @abstractmethod
    def passage_vectors(self, ids: np.ndarray) -> np.ndarray:
        """The passages' normalised vectors, one row per id."""

    @abstractmethod
    def sentence_vectors(self, rows: np.ndarray) -> np.ndarray:
        """The sentences' normalised vectors, one row per sentence row."""

    def prefetch(self, token_lists: list[list[str]], qvecs: np.ndarray, n: int) -> None:
        """A chance to fetch a batch of questions' candidates at once before each is searched
        (a remote store saves round trips); local stores have nothing to do."""
        return None

    def idf(self, word: str) -> float:
        return bm25_idf(len(self.passages), self.document_frequency(word))
