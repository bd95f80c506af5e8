"""The BM25 postings of a local index, built with array operations.

bm25s scores and stores them; only its documented override points, ``build_index_from_tokens``
and ``build_index_from_ids``, are replaced, because its own versions loop in Python over every
document and token, and an incremental build rebuilds the postings of the whole corpus while the
model runs beside it: on drcd-dev's 20,371 passages and sentences 1.7 s of a core with bm25s's
build, 0.5 s with this one (docs/benchmarks.md). The matrix is the same, entry for entry (tests
compare it with bm25s's own).
"""

from __future__ import annotations

from itertools import chain

import bm25s
import numpy as np

from .tokenize import token_ids


class ArrayBM25(bm25s.BM25):
    """bm25s.BM25 whose index is built by numpy (Lucene BM25, bm25s's default); other methods fall
    back to bm25s's own build."""

    def build_index_from_tokens(self, corpus_tokens, show_progress=True, leave_progress=False):
        if (self.method, self.idf_method) != ("lucene", "lucene"):
            return super().build_index_from_tokens(corpus_tokens, show_progress, leave_progress)
        vocab, ids = token_ids(corpus_tokens)
        lengths = np.fromiter(map(len, corpus_tokens), dtype=np.int64, count=len(corpus_tokens))
        return self._lucene(ids, lengths, len(vocab)), vocab

    def build_index_from_ids(self, unique_token_ids, corpus_token_ids, show_progress=True, leave_progress=False):
        if (self.method, self.idf_method) != ("lucene", "lucene"):
            return super().build_index_from_ids(unique_token_ids, corpus_token_ids, show_progress, leave_progress)
        lengths = np.fromiter(map(len, corpus_token_ids), dtype=np.int64, count=len(corpus_token_ids))
        ids = np.fromiter(chain.from_iterable(corpus_token_ids), dtype=np.int64, count=int(lengths.sum()))
        return self._lucene(ids, lengths, len(unique_token_ids))

    def _lucene(self, ids: np.ndarray, lengths: np.ndarray, n_vocab: int) -> dict:
        """The score matrix of documents whose token ids, one after another, are ``ids``."""
        self.nonoccurrence_array = None  # as bm25s sets it for Lucene BM25
        n_docs = len(lengths)
        docs = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        # one entry per (token, document), sorted by token then document: the CSC layout bm25s stores
        pairs, tf = np.unique(ids * n_docs + docs, return_counts=True)
        token, doc = np.divmod(pairs, n_docs)
        df = np.bincount(token, minlength=n_vocab)
        with np.errstate(divide="ignore"):
            idf = np.where(df > 0, np.log(1 + (n_docs - df + 0.5) / (df + 0.5)), 0).astype(self.dtype)
        # bm25s's Robertson/Lucene term part, in its order of operations (float64, then stored float32)
        l_avg = lengths.mean()
        tfc = tf / (self.k1 * ((1 - self.b) + self.b * lengths[doc] / l_avg) + tf)
        indptr = np.zeros(n_vocab + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        return {"data": (idf[token] * tfc).astype(self.dtype), "indices": doc.astype(self.int_dtype),
                "indptr": indptr, "num_docs": n_docs}

    def document_frequencies(self) -> dict[str, int]:
        """In how many documents each word occurs (words of no document left out)."""
        df = np.diff(np.asarray(self.scores["indptr"]))
        return {word: int(df[i]) for word, i in self.vocab_dict.items() if i < len(df) and df[i]}
