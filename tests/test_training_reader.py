"""The reader in training/ (research code, not the product): how ``ReadingSearcher`` uses a
reader's scores, with a scripted reader (which results it reads, which goes first, which sentence
becomes the answer, the three-way verdict), and a reader folder run through its ONNX graph (the
graph gives what the PyTorch model gives on the training tokenizer's tokens, batches keep their
order). No reader trains here: the folder holds e5's first two layers with a seeded, untrained
head, which is all the plumbing needs."""

import json
import sys

import numpy as np
import pytest
from conftest import ROOT

from pudong_qa.index import load_index
from pudong_qa.indexing import build_index
from pudong_qa.results import ANSWERED, NOT_FOUND, UNSURE
from pudong_qa.search.searcher import Searcher
from pudong_qa.settings import Settings

sys.path.insert(0, str(ROOT / "training"))  # the training scripts import each other by name
from reader_onnx import Candidate, ReadPolicy, load_reader_from
from reader_search import ReadingSearcher

DOCS = {
    "a.txt": "浦东开发报告\n\n一、概况\n\n1990年4月18日，党中央、国务院正式宣布开发、开放浦东。浦东新区位于上海市东部，"
             "区域面积569平方公里。\n\n二、经验\n\n浦东坚持“小政府、大社会”的管理体制，精简机构，提高行政效率。"
             "陆家嘴金融贸易区是全国唯一以金融贸易命名的国家级开发区。",
    "b.txt": "张江科学城\n\n张江高科技园区成立于1992年，重点发展集成电路、生物医药和软件产业。园区内有上海光源等"
             "大科学设施。\n\n人才政策吸引了大量海外留学人员回国创业。",
}
TITLE = "镇政府干部到上海浦东挂职的学习报告"
QUESTIONS = ["浦东新区的面积有多大", "What is the GDP of Pudong?"]
CANDIDATES = [Candidate(TITLE, "", "浦东新区位于上海市东部,区域面积569平方公里。"),
              Candidate(TITLE, "", "2006年浦东新区生产总值2365亿元。")]


class ScriptedReader:
    """P(answers) = ``yes`` for a sentence containing one of ``marks``, else ``no``; records what it read."""

    def __init__(self, marks=(), yes=0.9, no=0.05, policy: ReadPolicy | None = None) -> None:
        self.marks, self.yes, self.no, self.policy = marks, yes, no, policy or ReadPolicy()
        self.read: list[Candidate] = []

    def score(self, questions, candidates):
        self.read.extend(candidates)
        return np.array([self.yes if any(m in c.sentence for m in self.marks) else self.no for c in candidates],
                        dtype=np.float32)


@pytest.fixture(scope="module")
def index(tmp_path_factory, fake_encoder):
    root = tmp_path_factory.mktemp("reader")
    (root / "corpus").mkdir()
    for name, text in DOCS.items():
        (root / "corpus" / name).write_text(text, encoding="utf-8")
    settings = Settings(root=root)
    build_index(settings, model=fake_encoder)
    return load_index(settings.index)


def test_the_sentence_the_reader_confirms_is_the_answer_and_the_first_result_answers(index, fake_encoder):
    reader = ScriptedReader(marks=["569平方公里"])
    resp = ReadingSearcher(index, fake_encoder, reader).search("浦东新区面积多大", top_k=3)
    assert resp.answered and resp.verdict == ANSWERED and resp.confidence == pytest.approx(0.9)
    assert "569平方公里" in resp.results[0].answer and resp.results[0].answer in resp.results[0].text
    assert [r.rank for r in resp.results] == [1, 2, 3]
    read_passages = {c.title for c in reader.read}
    assert len(read_passages) == 1  # the first result answered clearly: nothing else was read


def test_a_lower_result_that_answers_goes_first(index, fake_encoder):
    question = "张江园区有什么"
    plain = Searcher(index, fake_encoder).search(question, top_k=3)
    second = plain.results[1]
    mark = next(s for s in second.text.split("。") if s and s not in plain.results[0].text)
    reader = ScriptedReader(marks=[mark])
    resp = ReadingSearcher(index, fake_encoder, reader).search(question, top_k=3)
    assert resp.results[0].citation == second.citation and mark in resp.results[0].answer
    assert resp.verdict == ANSWERED and plain.results[0].citation in [r.citation for r in resp.results[1:]]
    assert len({c.title + c.sentence for c in reader.read}) > 1  # the first did not answer: the next were read


def test_nothing_confirmed_is_not_found_and_a_middling_read_is_unsure(index, fake_encoder):
    nothing = ReadingSearcher(index, fake_encoder, ScriptedReader()).search("浦东新区的区长是谁", top_k=3)
    assert not nothing.answered and nothing.verdict == NOT_FOUND and nothing.results  # closest passages still shown
    middling = ScriptedReader(marks=["569平方公里"], yes=0.3)
    unsure = ReadingSearcher(index, fake_encoder, middling).search("浦东新区面积多大", top_k=3)
    assert not unsure.answered and unsure.verdict == UNSURE


def test_a_strong_first_result_is_not_displaced_by_a_slightly_better_read_lower_one(index, fake_encoder):
    policy = ReadPolicy(answered=0.95, rank_penalty=0.2)  # the first reads 0.9: the next ones are read too

    class Graded(ScriptedReader):
        def score(self, questions, candidates):
            self.read.extend(candidates)
            return np.array([0.9 if "569" in c.sentence else 0.95 if "1990年4月18日" in c.sentence else 0.0
                             for c in candidates], dtype=np.float32)

    first = Searcher(index, fake_encoder).search("浦东新区面积多大", top_k=3).results[0]
    resp = ReadingSearcher(index, fake_encoder, Graded(policy=policy)).search("浦东新区面积多大", top_k=3)
    assert resp.results[0].citation == first.citation  # 0.95 - 0.2 per rank does not beat 0.9


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
    return write_reader(tmp_path_factory.mktemp("reader-weights"))


@pytest.fixture(scope="module")
def reader(model, reader_folder):  # after the encoder: the reader runs from the same converted e5 folder
    return load_reader_from(reader_folder)


def test_the_graph_gives_what_pytorch_gives_on_the_training_tokenizers_tokens(reader, reader_folder):
    import torch
    from reader_common import load_trained
    from transformers import AutoTokenizer

    from pudong_qa.embedding import default_model_folder

    folder = default_model_folder()
    texts = [reader.text(c) for c in CANDIDATES]
    hf = AutoTokenizer.from_pretrained(str(folder))(QUESTIONS, texts, truncation="only_second",
                                                    max_length=reader.max_length)["input_ids"]
    ours = [e.ids[: sum(e.attention_mask)] for e in reader.tokenizer.encode_batch(list(zip(QUESTIONS, texts)))]
    assert hf == ours
    model, _ = load_trained(reader_folder, folder)  # the model training trains and evaluates
    got = reader.score(QUESTIONS, CANDIDATES)
    assert ((got > 0) & (got < 1)).all()
    with torch.no_grad():
        for ids, p in zip(hf, got):
            x = torch.tensor([ids])
            assert abs(float(torch.sigmoid(model(x, torch.ones_like(x)))[0, 0]) - float(p)) < 1e-4


def test_reading_batches_keep_input_order(reader):
    q = QUESTIONS[0]
    sentences = ("区域面积569平方公里。", "面积",
                 "浦东新区位于上海市东部,东濒长江口,地处长江三角洲东部,是上海市的一个市辖区。")
    cands = [Candidate(TITLE, "", s) for s in sentences]
    alone = np.array([reader.score([q], [c])[0] for c in cands])
    together = reader.score([q] * 3, cands)
    assert np.allclose(alone, together, atol=1e-5)
    assert len(set(np.round(together, 4))) == 3  # the pairs really differ


def test_a_reader_folder_searches_and_its_policy_decides(project, model, tmp_path):
    question = "浦东新区什么时候开始开发开放"
    plain = Searcher(project[1], model).search(question)
    verdicts = {}
    for name, answered, unsure in (("always", 0.0, 0.0), ("never", 1.01, 1.01), ("between", 1.01, 0.0)):
        got = ReadingSearcher(project[1], model, load_reader_from(write_reader(tmp_path / name, answered, unsure)))
        resp = got.search(question)
        assert {r.citation.source for r in resp.results} <= {r.citation.source for r in plain.results}
        verdicts[name] = (resp.verdict, resp.answered)
    assert verdicts == {"always": (ANSWERED, True), "never": (NOT_FOUND, False), "between": (UNSURE, False)}
