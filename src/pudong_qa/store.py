"""Where an index's passages, vectors and lexical postings live, behind one narrow interface.

Search reaches storage only through ``Store``: BM25 scores for a question's tokens, the
document frequency of a word, the nearest passages to a question vector, and the vectors
of given passages and sentences. ``LocalStore`` keeps them in the index folder as bm25s,
FAISS and numpy files; a remote vector database can stand behind the same methods.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .chunking import Passage
from .rowfile import NpyRows

ANN_THRESHOLD = 200_000  # from this many passages "auto" uses HNSW instead of exact search
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 128
EMPTY_TOKEN = "<empty>"  # bm25s needs at least one token per document

VECTORS_FILE = "vectors.faiss"
SENTENCES_FILE = "sentences.npy"
PASSAGE_LEXICON = "bm25"
SENTENCE_LEXICON = "bm25_sentences"
DOC_FREQ_FILE = "doc_freq.json"


@dataclass(frozen=True)
class LexicalScores:
    passages: np.ndarray  # BM25 score of every passage
    sentences: np.ndarray  # BM25 score of every sentence (rows in sentence order)


def bm25_idf(n_docs: int, df: int) -> float:
    """Lucene's BM25 idf (the variant bm25s scores with), for a word in ``df`` of ``n_docs`` passages."""
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))


class Store(ABC):
    """The passages of an index, their dense vectors and their lexical postings."""

    passages: Sequence[Passage]
    sentence_offsets: np.ndarray  # passage i's sentences are rows [offsets[i], offsets[i+1])
    sentence_owner: np.ndarray  # passage of each sentence row

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


def sentence_layout(passages: Sequence[Passage]) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, owner) of the sentence rows, which follow passage order."""
    offsets = getattr(passages, "sentence_offsets", None)  # a PassageTable has them without decoding
    if offsets is None:
        counts = np.array([len(p.sentences) for p in passages], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return offsets, np.repeat(np.arange(len(passages)), np.diff(offsets))


def _top(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values (unordered); linear time, so it scales to millions."""
    return np.argpartition(-x, k)[:k] if len(x) > k else np.arange(len(x))


def choose_ann(n: int, setting: str = "auto") -> str:
    """Exact search while it is fast enough; an HNSW graph for large corpora (or when asked)."""
    from .errors import IndexUnavailable

    if setting == "auto":
        return "hnsw" if n >= ANN_THRESHOLD else "flat"
    if setting not in ("flat", "hnsw"):
        raise IndexUnavailable(f"unknown vector index {setting!r}; use auto, flat or hnsw")
    return setting


def build_ann(vectors: np.ndarray, kind: str):
    """A FAISS inner-product index over normalised vectors (= cosine)."""
    import faiss

    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _bm25_scores(bm25, tokens: list[str], n: int) -> np.ndarray:
    ids = bm25.get_tokens_ids(tokens) if tokens else []
    if not ids:
        return np.zeros(n, dtype=np.float32)
    return np.asarray(bm25.get_scores_from_ids(ids), dtype=np.float32)


class LocalStore(Store):
    """bm25s (passages and single sentences) + FAISS (passages) + numpy (sentences) in one folder."""

    def __init__(self, passages: Sequence[Passage], vectors: Any, sentence_vectors: np.ndarray, bm25: Any,
                 bm25_sentences: Any, doc_freq: dict[str, int]) -> None:
        self.passages = passages
        self.vectors = vectors
        self.sentence_matrix = sentence_vectors
        self.bm25 = bm25
        self.bm25_sentences = bm25_sentences
        self.doc_freq = doc_freq
        self.sentence_offsets, self.sentence_owner = sentence_layout(passages)
        # small corpora: one matrix product beats FAISS calls
        self.flat = vectors.reconstruct_n(0, vectors.ntotal) if type(vectors).__name__ == "IndexFlatIP" else None

    # ------------------------------------------------------------ writing

    @staticmethod
    def write_vectors(directory: Path, passage_vectors: np.ndarray, sentence_vectors: np.ndarray,
                      ann: str) -> None:
        """The passage vectors (FAISS) and sentence vectors (numpy) into ``directory``, which the
        caller swaps in."""
        import faiss

        kind = choose_ann(len(passage_vectors), ann)
        faiss.write_index(build_ann(passage_vectors, kind), str(directory / VECTORS_FILE))
        np.save(directory / SENTENCES_FILE, sentence_vectors, allow_pickle=False)

    @staticmethod
    def write_lexical(directory: Path, passage_tokens: list[list[str]], sentence_tokens: list[list[str]]) -> None:
        """The BM25 indexes and document frequencies: they need tokens only, not vectors."""
        from .lexical import ArrayBM25

        for name, docs in ((PASSAGE_LEXICON, passage_tokens), (SENTENCE_LEXICON, sentence_tokens)):
            bm25 = ArrayBM25()
            bm25.index([tokens or [EMPTY_TOKEN] for tokens in docs], show_progress=False)
            bm25.save(str(directory / name), show_progress=False)
            if name == PASSAGE_LEXICON:
                doc_freq = bm25.document_frequencies()
        doc_freq.pop(EMPTY_TOKEN, None)
        (directory / DOC_FREQ_FILE).write_text(json.dumps(doc_freq, ensure_ascii=False, sort_keys=True),
                                               encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, passages: Sequence[Passage]) -> LocalStore:
        """Open the files; sentence vectors stay on disk, a search reads only its candidates' rows."""
        import bm25s
        import faiss

        vectors = faiss.read_index(str(directory / VECTORS_FILE))
        if hasattr(vectors, "hnsw"):
            vectors.hnsw.efSearch = HNSW_EF_SEARCH
        sentence_vectors = NpyRows(directory / SENTENCES_FILE)
        bm25 = bm25s.BM25.load(str(directory / PASSAGE_LEXICON), load_corpus=False, allow_pickle=False)
        bm25_sentences = bm25s.BM25.load(str(directory / SENTENCE_LEXICON), load_corpus=False, allow_pickle=False)
        doc_freq = json.loads((directory / DOC_FREQ_FILE).read_text(encoding="utf-8"))
        store = cls(passages, vectors, sentence_vectors, bm25, bm25_sentences, doc_freq)
        if vectors.ntotal != len(passages) or sentence_vectors.shape[0] != store.sentence_offsets[-1]:
            raise ValueError("vector counts do not match the passages")
        return store

    # ------------------------------------------------------------ the Store interface

    def lexical_scores(self, tokens: list[str]) -> LexicalScores:
        return LexicalScores(_bm25_scores(self.bm25, tokens, len(self.passages)),
                             _bm25_scores(self.bm25_sentences, tokens, len(self.sentence_owner)))

    def document_frequency(self, word: str) -> int:
        return int(self.doc_freq.get(word, 0))

    def nearest(self, qvec: np.ndarray, k: int) -> np.ndarray:
        if self.flat is not None:
            return _top(self.flat @ qvec, k)
        _, ids = self.vectors.search(qvec[None, :], min(len(self.passages), k))
        return ids[0][ids[0] >= 0]

    def passage_vectors(self, ids: np.ndarray) -> np.ndarray:
        if self.flat is not None:
            return self.flat[ids]
        return self.vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def sentence_vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.sentence_matrix[rows]
