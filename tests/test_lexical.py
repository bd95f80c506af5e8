"""The BM25 postings built with array operations must be bm25s's own, entry for entry."""

import random

import bm25s
import numpy as np
import pytest

from pudong_qa.lexical import ArrayBM25


def _corpus(seed: int = 0) -> list[list[str]]:
    rnd = random.Random(seed)
    words = [f"词{i}" for i in range(300)]
    weights = [1 / (i + 1) for i in range(300)]  # a few common words, a long tail
    return [rnd.choices(words, weights, k=rnd.randint(1, 60)) for _ in range(400)] + [["孤词"], ["词0"] * 5]


def _matrix(bm25: bm25s.BM25) -> dict[str, np.ndarray]:
    """Word → dense column of scores over the documents, whatever the vocabulary's order."""
    s = bm25.scores
    out = {}
    for word, i in bm25.vocab_dict.items():
        if i + 1 < len(s["indptr"]):
            col = np.zeros(s["num_docs"], dtype=np.float32)
            a, b = s["indptr"][i], s["indptr"][i + 1]
            col[s["indices"][a:b]] = s["data"][a:b]
            out[word] = col
    return out


def test_the_array_build_gives_bm25s_matrix_and_scores():
    corpus = _corpus()
    ours, theirs = ArrayBM25(), bm25s.BM25()
    ours.index(corpus, show_progress=False)
    theirs.index(corpus, show_progress=False)
    a, b = _matrix(ours), _matrix(theirs)
    assert a.keys() == b.keys() and all(np.array_equal(a[w], b[w]) for w in a)
    for query in (["词0"], ["词3", "词150", "孤词"], ["词7", "词7", "不在"]):
        got = ours.get_scores_from_ids(ours.get_tokens_ids(query))
        want = theirs.get_scores_from_ids(theirs.get_tokens_ids(query))
        assert np.array_equal(got, want) and got.max() > 0


def test_document_frequencies_count_documents_not_occurrences():
    bm25 = ArrayBM25()
    bm25.index([["甲", "甲", "乙"], ["乙"], ["丙", "甲"]], show_progress=False)
    assert bm25.document_frequencies() == {"甲": 2, "乙": 2, "丙": 1}


def test_the_saved_index_loads_in_bm25s(tmp_path):
    corpus = _corpus(1)
    ours = ArrayBM25()
    ours.index(corpus, show_progress=False)
    ours.save(str(tmp_path / "bm25"), show_progress=False)
    loaded = bm25s.BM25.load(str(tmp_path / "bm25"), load_corpus=False, allow_pickle=False)
    query = ["词2", "词40"]
    want = ours.get_scores_from_ids(ours.get_tokens_ids(query))
    assert np.array_equal(loaded.get_scores_from_ids(loaded.get_tokens_ids(query)), want) and want.max() > 0


@pytest.mark.parametrize("method", ["robertson", "bm25+"])
def test_other_bm25_variants_use_bm25s_own_build(method):
    corpus = _corpus(2)
    ours, theirs = ArrayBM25(method=method), bm25s.BM25(method=method)
    ours.index(corpus, show_progress=False)
    theirs.index(corpus, show_progress=False)
    a, b = _matrix(ours), _matrix(theirs)
    assert all(np.allclose(a[w], b[w]) for w in a)


def test_token_ids_number_words_in_order_of_first_use():
    from pudong_qa.tokenize import token_ids

    vocab, ids = token_ids([["浦东", "新区", "浦东"], [], ["面积", "新区"]])
    assert list(vocab.items()) == [("浦东", 0), ("新区", 1), ("面积", 2)]
    assert ids.tolist() == [0, 1, 0, 2, 1]
    vocab, ids = token_ids([])
    assert vocab == {} and ids.tolist() == []
