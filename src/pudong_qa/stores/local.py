"""``LocalStore``: an index's vectors and lexical postings as files in the index folder.

bm25s indexes the passages and the single sentences, FAISS holds the passage vectors (exact
search, or an HNSW graph from ``ANN_THRESHOLD`` passages) and numpy the sentence vectors,
read from disk for the candidates only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..chunking import Passage
from ..disk.rowfile import NpyRows
from ..errors import IndexUnavailable
from .base import (
    EMPTY_TOKEN,
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    LexicalScores,
    Store,
    StoreInput,
    StoreOptions,
    sentence_layout,
    top_indices,
)

ANN_THRESHOLD = 200_000  # from this many passages "auto" uses HNSW instead of exact search

VECTORS_FILE = "vectors.faiss"
SENTENCES_FILE = "sentences.npy"
PASSAGE_LEXICON = "bm25"
SENTENCE_LEXICON = "bm25_sentences"
DOC_FREQ_FILE = "doc_freq.json"


def choose_ann(n: int, setting: str = "auto") -> str:
    """Exact search while it is fast enough; an HNSW graph for large corpora (or when asked)."""
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

    kind = "local"

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

    # ------------------------------------------------------------ writing and opening

    @classmethod
    def write(cls, directory: Path, data: StoreInput, options: StoreOptions) -> dict[str, Any]:
        """The lexical files first (they need tokens only, so they are written while the model
        still runs), then the vectors."""
        cls.write_lexical(directory, data.passage_tokens, data.sentence_tokens)
        passage_vectors, sentence_vectors = data.vectors()
        cls.write_vectors(directory, passage_vectors, sentence_vectors, ann=options.ann)
        return {"kind": cls.kind}

    @staticmethod
    def write_vectors(directory: Path, passage_vectors: np.ndarray, sentence_vectors: np.ndarray,
                      ann: str) -> None:
        """The passage vectors (FAISS) and sentence vectors (numpy) into ``directory``."""
        import faiss

        kind = choose_ann(len(passage_vectors), ann)
        faiss.write_index(build_ann(passage_vectors, kind), str(directory / VECTORS_FILE))
        np.save(directory / SENTENCES_FILE, sentence_vectors, allow_pickle=False)

    @staticmethod
    def write_lexical(directory: Path, passage_tokens: list[list[str]], sentence_tokens: list[list[str]]) -> None:
        """The BM25 indexes and document frequencies: they need tokens only, not vectors."""
        from ..lexical import ArrayBM25

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
    def load(cls, directory: Path, passages: Sequence[Passage], info: dict[str, Any] | None = None,
             options: StoreOptions | None = None) -> LocalStore:
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
            return top_indices(self.flat @ qvec, k)
        _, ids = self.vectors.search(qvec[None, :], min(len(self.passages), k))
        return ids[0][ids[0] >= 0]

    def passage_vectors(self, ids: np.ndarray) -> np.ndarray:
        if self.flat is not None:
            return self.flat[ids]
        return self.vectors.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def sentence_vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.sentence_matrix[rows]
