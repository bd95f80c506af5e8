"""A reader from a folder of weights, run through ONNX Runtime: the graph gives what PyTorch gives on
the training tokenizer's tokens, batches keep their order, search reads with it, and ``--reader``
turns it on and off. No reader ships and none trains here: the folder holds e5's first two layers
with a seeded, untrained head, which is all the plumbing needs (test_reader.py tests how search
uses a reader's scores with a scripted one)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from pudong_qa.errors import ModelError
from pudong_qa.reader import Candidate, load_reader_from
from pudong_qa.results import ANSWERED, NOT_FOUND, UNSURE

TITLE = "镇政府干部到上海浦东挂职的学习报告"
QUESTIONS = ["浦东新区的面积有多大", "What is the GDP of Pudong?"]
CANDIDATES = [Candidate(TITLE, "", "浦东新区位于上海市东部,区域面积569平方公里。"),
              Candidate(TITLE, "", "2006年浦东新区生产总值2365亿元。")]


def write_reader(folder, answered: float = 0.5, unsure: float = 0.2):
    """A reader folder as training writes it: fp16 safetensors of what training changes (here only
    a seeded head on e5's first two layers) and reader.json with the policy."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(7)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"classifier.dense.weight": rng.normal(0, 0.05, (384, 384)).astype(np.float16),
               "classifier.dense.bias": np.zeros(384, np.float16),
               "classifier.out_proj.weight": rng.normal(0, 0.05, (1, 384)).astype(np.float16),
               "classifier.out_proj.bias": np.zeros(1, np.float16)}, str(folder / "reader.safetensors"))
    meta = {"layers": 2, "pooling": "mean", "max_length": 96, "input_form": "sent", "separator": "｜",
            "policy": {"depth": 2, "sentences": 2, "rank_penalty": 0.1, "answered": answered, "unsure": unsure}}
    (folder / "reader.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def reader_folder(tmp_path_factory):
    return write_reader(tmp_path_factory.mktemp("reader"))


@pytest.fixture(scope="module")
def reader(model, reader_folder):  # after the encoder: the reader runs from the same converted e5 folder
    return load_reader_from(reader_folder)


def test_the_graph_gives_what_pytorch_gives_on_the_training_tokenizers_tokens(reader, reader_folder):
    import torch
    from transformers import AutoTokenizer

    from pudong_qa.embedding import default_model_folder
    from pudong_qa.reader.export import build_model

    folder = default_model_folder()
    texts = [reader.text(c) for c in CANDIDATES]
    hf = AutoTokenizer.from_pretrained(str(folder))(QUESTIONS, texts, truncation="only_second",
                                                    max_length=reader.max_length)["input_ids"]
    ours = [e.ids[: sum(e.attention_mask)] for e in reader.tokenizer.encode_batch(list(zip(QUESTIONS, texts)))]
    assert hf == ours
    model = build_model(folder, reader_folder / "reader.safetensors", reader.meta)
    got = reader.score(QUESTIONS, CANDIDATES)
    assert ((got > 0) & (got < 1)).all()
    with torch.no_grad():
        for ids, p in zip(hf, got):
            x = torch.tensor([ids])
            states = model.roberta(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state
            pooled = states.mean(1, keepdim=True)
            assert abs(float(torch.sigmoid(model.classifier(pooled))[0, 0]) - float(p)) < 1e-4


def test_reading_batches_keep_input_order(reader):
    q = QUESTIONS[0]
    sentences = ("区域面积569平方公里。", "面积",
                 "浦东新区位于上海市东部,东濒长江口,地处长江三角洲东部,是上海市的一个市辖区。")
    cands = [Candidate(TITLE, "", s) for s in sentences]
    alone = np.array([reader.score([q], [c])[0] for c in cands])
    together = reader.score([q] * 3, cands)
    assert np.allclose(alone, together, atol=1e-5)
    assert len(set(np.round(together, 4))) == 3  # the pairs really differ


def test_search_reads_with_it_and_its_policy_decides(project, model, tmp_path):
    from pudong_qa.search.searcher import Searcher

    question = "浦东新区什么时候开始开发开放"
    plain = Searcher(project[1], model).search(question)
    verdicts = {}
    for name, answered, unsure in (("always", 0.0, 0.0), ("never", 1.01, 1.01), ("between", 1.01, 0.0)):
        reader = load_reader_from(write_reader(tmp_path / name, answered, unsure))
        got = Searcher(project[1], model, reader=reader).search(question)
        assert got.read and got.to_dict()["verdict"] == got.verdict
        assert {r.citation.source for r in got.results} <= {r.citation.source for r in plain.results}
        verdicts[name] = (got.verdict, got.answered)
    assert verdicts == {"always": (ANSWERED, True), "never": (NOT_FOUND, False), "between": (UNSURE, False)}
    assert not plain.read and "verdict" not in plain.to_dict()


def test_the_reader_setting_turns_it_on_and_off(project, model, reader_folder, tmp_path):
    from pudong_qa.cli import cli
    from pudong_qa.service import load_reader_for
    from pudong_qa.settings import Settings

    assert load_reader_for(Settings(reader="off")) is None
    with pytest.raises(ModelError, match="no reader weights"):
        load_reader_for(Settings(reader=str(tmp_path / "missing")))
    settings = project[0]
    questions = tmp_path / "q.txt"
    questions.write_text("浦东新区的面积有多大\n", encoding="utf-8")
    rows = {}
    for setting in ("off", str(reader_folder)):
        out = CliRunner().invoke(cli, ["--corpus", str(settings.corpus), "--index", str(settings.index),
                                       "--reader", setting, "ask", "-q", str(questions), "--format", "jsonl"])
        assert out.exit_code == 0, out.output
        rows[setting] = json.loads(out.output.strip().splitlines()[-1])
    assert "verdict" not in rows["off"] and rows[str(reader_folder)]["verdict"] in (ANSWERED, UNSURE, NOT_FOUND)
