"""How search uses a reader, with a scripted one: which results it reads, which goes first, which
sentence becomes the answer, and the three-way verdict. (The trained reader's own behaviour is
tested in test_reader_model.py.)"""

import json

import numpy as np
import pytest

from pudong_qa.index import load_index
from pudong_qa.indexing import build_index
from pudong_qa.reader import Candidate, ReadPolicy
from pudong_qa.results import ANSWERED, NOT_FOUND, UNSURE
from pudong_qa.search.ranking import SearchConfig
from pudong_qa.search.searcher import Searcher
from pudong_qa.settings import Settings

DOCS = {
    "a.txt": "浦东开发报告\n\n一、概况\n\n1990年4月18日，党中央、国务院正式宣布开发、开放浦东。浦东新区位于上海市东部，"
             "区域面积569平方公里。\n\n二、经验\n\n浦东坚持“小政府、大社会”的管理体制，精简机构，提高行政效率。"
             "陆家嘴金融贸易区是全国唯一以金融贸易命名的国家级开发区。",
    "b.txt": "张江科学城\n\n张江高科技园区成立于1992年，重点发展集成电路、生物医药和软件产业。园区内有上海光源等"
             "大科学设施。\n\n人才政策吸引了大量海外留学人员回国创业。",
}


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


def test_without_a_reader_the_verdict_follows_the_confidence_and_the_contract_is_unchanged(index, fake_encoder):
    resp = Searcher(index, fake_encoder).search("浦东新区面积多大", top_k=3)
    assert resp.verdict == (NOT_FOUND if not resp.answered else ANSWERED if resp.confidence >= 0.5 else UNSURE)
    assert list(resp.to_dict()) == ["question", "answered", "verdict", "expansions", "results"]
    assert resp.to_dict()["verdict"] == resp.verdict  # the verdict is in every record, reader or not
    never_sure = SearchConfig(min_confidence=0.0, sure_confidence=1.01)  # every answer below "sure"
    low = Searcher(index, fake_encoder, never_sure).search("浦东新区面积多大", top_k=3)
    assert low.answered and low.verdict == UNSURE  # answered for the contract, not confirmed for people


def test_the_sentence_the_reader_confirms_is_the_answer_and_the_first_result_answers(index, fake_encoder):
    reader = ScriptedReader(marks=["569平方公里"])
    resp = Searcher(index, fake_encoder, reader=reader).search("浦东新区面积多大", top_k=3)
    assert resp.answered and resp.verdict == ANSWERED and resp.confidence == pytest.approx(0.9)
    assert "569平方公里" in resp.results[0].answer and resp.results[0].answer in resp.results[0].text
    assert [r.rank for r in resp.results] == [1, 2, 3]
    assert json.loads(json.dumps(resp.to_dict()))["verdict"] == ANSWERED
    read_passages = {c.title for c in reader.read}
    assert len(read_passages) == 1  # the first result answered clearly: nothing else was read


def test_a_lower_result_that_answers_goes_first(index, fake_encoder):
    question = "张江园区有什么"
    plain = Searcher(index, fake_encoder).search(question, top_k=3)
    second = plain.results[1]
    mark = next(s for s in second.text.split("。") if s and s not in plain.results[0].text)
    reader = ScriptedReader(marks=[mark])
    resp = Searcher(index, fake_encoder, reader=reader).search(question, top_k=3)
    assert resp.results[0].citation == second.citation and mark in resp.results[0].answer
    assert resp.verdict == ANSWERED and plain.results[0].citation in [r.citation for r in resp.results[1:]]
    assert len({c.title + c.sentence for c in reader.read}) > 1  # the first did not answer: the next were read


def test_nothing_confirmed_is_not_found_and_a_middling_read_is_unsure(index, fake_encoder):
    nothing = Searcher(index, fake_encoder, reader=ScriptedReader()).search("浦东新区的区长是谁", top_k=3)
    assert not nothing.answered and nothing.verdict == NOT_FOUND and nothing.results  # closest passages still shown
    middling = ScriptedReader(marks=["569平方公里"], yes=0.3)
    unsure = Searcher(index, fake_encoder, reader=middling).search("浦东新区面积多大", top_k=3)
    assert not unsure.answered and unsure.verdict == UNSURE


def test_a_strong_first_result_is_not_displaced_by_a_slightly_better_read_lower_one(index, fake_encoder):
    policy = ReadPolicy(answered=0.95, rank_penalty=0.2)  # the first reads 0.9: the next ones are read too

    class Graded(ScriptedReader):
        def score(self, questions, candidates):
            self.read.extend(candidates)
            return np.array([0.9 if "569" in c.sentence else 0.95 if "1990年4月18日" in c.sentence else 0.0
                             for c in candidates], dtype=np.float32)

    first = Searcher(index, fake_encoder).search("浦东新区面积多大", top_k=3).results[0]
    resp = Searcher(index, fake_encoder, reader=Graded(policy=policy)).search("浦东新区面积多大", top_k=3)
    assert resp.results[0].citation == first.citation  # 0.95 - 0.2 per rank does not beat 0.9
