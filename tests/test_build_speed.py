"""Faster builds (embedding/late.py): sentence and window vectors pooled from passages' token
states. These check behaviour, never timings (docs/benchmarks.md has those)."""

from concurrent.futures import Future

import numpy as np
import pytest

from pudong_qa.chunking import Passage
from pudong_qa.embedding.encoders import BULK_BATCHES, length_batches, side_by_side
from pudong_qa.embedding.late import choose_cover, late_vectors
from pudong_qa.index import embed_texts

SENTENCES = ["浦东新区位于上海市东部。", "二〇二〇年常住人口约五百六十八万。", "区政府推进一网通办改革，",
             "企业开办时间压缩到一天。", "张江科学城集聚了大批研发机构。"]


def _windows():
    """Three half-overlapping windows over five sentences, as chunking makes them."""
    runs = [[0, 1, 2], [1, 2, 3], [3, 4]]
    texts, spans, keys = [], [], []
    for run in runs:
        head = "浦东概况\n"
        text, sp = head, []
        for u in run:
            sp.append((len(text), len(text) + len(SENTENCES[u])))
            text += SENTENCES[u]
        texts.append(text)
        spans.append(sp)
        keys.append([("doc", u) for u in run])
    return texts, spans, keys


def test_cover_holds_every_sentence_with_few_windows():
    assert choose_cover([[0, 1, 2], [1, 2, 3], [3, 4]]) == [0, 2]
    assert choose_cover([[0, 1], [1, 2], [2, 3], [3, 4], [5]]) == [0, 2, 3, 4]
    runs = [[i, i + 1, i + 2] for i in range(0, 20)]
    chosen = choose_cover(runs)
    assert {u for i in chosen for u in runs[i]} == set(range(22)) and len(chosen) <= 8


def test_token_graph_gives_the_query_graph_vectors(model):
    texts, _, _ = _windows()
    direct = model.encode_passages(texts)
    tokens = model.encode_tokens(texts)
    assert np.abs(np.stack([t[0] for t in tokens]) - direct).max() < 1e-5
    vec, states, offsets, inside = tokens[0]
    assert states.shape == (len(offsets), model.dim) and inside.sum() < len(offsets)  # <s>, prompt, </s>
    assert offsets[inside].min() >= 0 and offsets[inside].max() < len(texts[0])


def test_pooled_vectors_are_close_to_separately_encoded_ones(model):
    texts, spans, keys = _windows()
    direct = model.encode_passages(texts)
    alone = model.encode_passages(SENTENCES)
    windows, sentences, encoded = late_vectors(model, texts, spans, keys, mode="sentences")
    assert np.abs(windows - direct).max() < 1e-5 and encoded == 3  # every window encoded as before
    got = np.stack([sentences[("doc", u)] for u in range(5)])
    assert got.shape == (5, model.dim) and np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    cos = (got * alone).sum(1)
    assert cos.mean() > 0.85 and cos.min() > 0.75
    # each pooled sentence is nearer its own separately encoded vector than any other sentence's
    assert (np.argmax(got @ alone.T, axis=1) == np.arange(5)).all()
    windows, late, encoded = late_vectors(model, texts, spans, keys, mode="late")
    assert encoded == 2 and np.abs(windows[[0, 2]] - direct[[0, 2]]).max() < 1e-5
    assert windows[1] @ direct[1] > 0.95  # the window in the middle is pooled from the other two


def test_batches_do_not_change_pooled_vectors(model):
    texts, spans, keys = _windows()
    one, s1, _ = late_vectors(model, texts, spans, keys, batch_size=1)
    many, s32, _ = late_vectors(model, texts, spans, keys, batch_size=32)
    assert np.abs(one - many).max() < 1e-4
    assert max(np.abs(s1[k] - s32[k]).max() for k in s1) < 1e-4


def test_embed_texts_pools_sentence_rows_and_reuses_the_cache(model, fake_encoder):
    texts, _, _ = _windows()
    starts = np.cumsum([0] + [len(x) for x in SENTENCES])  # offsets in the document
    runs = [[0, 1, 2], [1, 2, 3], [3, 4]]
    passages = [Passage(i, "doc", "浦东概况", "", 0, int(starts[r[0]]), int(starts[r[-1] + 1]),
                        "".join(SENTENCES[u] for u in r), tuple((int(starts[u]), int(starts[u + 1])) for u in r))
                for i, r in enumerate(runs)]
    assert [f"浦东概况\n{p.text}" for p in passages] == texts
    rows = texts + [s for p in passages for s in p.sentence_texts()]
    vecs, embedded = embed_texts(model, rows, {}, passages=passages, mode="late")
    assert vecs.shape == (len(rows), model.dim) and embedded == 3 + 5
    assert np.abs(vecs[4] - vecs[6]).max() < 1e-6  # the same sentence in two windows: one vector
    cache = dict(zip(rows, vecs))
    again, embedded = embed_texts(model, rows, cache, passages=passages, mode="late")
    assert embedded == 0 and np.abs(again - vecs).max() == 0
    fake, embedded = embed_texts(fake_encoder, rows, {}, passages=passages, mode="late")  # no token states
    assert embedded == len(set(rows)) and np.abs(fake - fake_encoder.encode_passages(rows)).max() < 1e-6


def test_unknown_mode_is_refused(model):
    texts, spans, keys = _windows()
    with pytest.raises(ValueError):
        late_vectors(model, texts, spans, keys, mode="fast")


def test_side_by_side_returns_every_batch_in_order_and_passes_errors_on():
    batches = [[i, i + 1] for i in range(0, 40, 2)]
    seen: list[str] = []

    def run(worker, batch):
        seen.append(worker)
        return [10 * x for x in batch]

    assert side_by_side(["a", "b"], batches, run) == [[10 * x for x in b] for b in batches]
    assert len(seen) == len(batches)
    assert side_by_side(["a"], batches[:3], run) == [[0, 10], [20, 30], [40, 50]]

    def failing(worker, batch):
        if batch[0] == 20:
            raise RuntimeError("batch 10 failed")
        return batch

    with pytest.raises(RuntimeError, match="batch 10 failed"):
        side_by_side(["a", "b"], batches, failing)


def test_a_build_encodes_with_one_thread_sessions_side_by_side_and_gives_the_same_vectors(model):
    threads = model._opts.intra_op_num_threads
    if threads < 2:
        pytest.skip("one core: the build uses the query session")
    texts = [s * k + str(r) for r in range(4) for k in (4, 6, 8) for s in SENTENCES]  # enough batches
    assert len(length_batches([len(t) for t in texts], 32)) >= BULK_BATCHES
    alone = model.encode_passages(texts)
    calls: list[int] = []

    class Counted:  # the one-thread session, counting its forward passes
        def __init__(self, session):
            self.session = session

        def run(self, *args):
            calls.append(id(self))
            return self.session.run(*args)

    with model.bulk():
        with model.bulk():  # a nested build shares them
            sessions = [made.result() for made in model._bulk]
        assert len(sessions) == threads
        assert all(s.get_session_options().intra_op_num_threads == 1 for s in sessions)
        model._bulk = [Future() for _ in sessions]
        for made, session in zip(model._bulk, sessions):
            made.set_result(Counted(session))
        together = model.encode_passages(texts)
    assert model._bulk is None  # dropped with the build
    assert np.abs(together - alone).max() < 1e-6  # each text's own vector, in input order
    assert len(set(calls)) == threads and len(calls) >= BULK_BATCHES


def test_an_encoder_loaded_for_a_build_makes_its_bulk_sessions_while_loading(model):
    from pudong_qa.embedding import OnnxEncoder

    threads = model._opts.intra_op_num_threads
    if threads < 2:
        pytest.skip("one core: the build uses the query session")
    assert model._ready is None  # loaded for questions: no build sessions held
    encoder = OnnxEncoder(model.folder, model.identity, for_build=True)
    ready = encoder._ready
    assert ready is not None and len(ready) == threads
    with encoder.bulk():
        assert encoder._bulk is ready and encoder._ready is None  # the build takes those, makes none
        assert all(made.result().get_session_options().intra_op_num_threads == 1 for made in ready)
        texts = SENTENCES * 4
        assert np.abs(encoder.encode_passages(texts) - model.encode_passages(texts)).max() < 1e-6
    assert encoder._bulk is None
