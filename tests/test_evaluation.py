"""The one definition of the metrics: what a question's outcome is (report evidence or a SQuAD
article and answers) and how outcomes add up."""

import pytest

from pudong_qa.evaluation import Outcome, evidence_outcome, score, squad_outcome, summarize
from pudong_qa.results import Citation, Result, SearchResponse


def _result(rank: int, text: str, answer: str, source: str = "corpus/doc0001.txt") -> Result:
    return Result(rank, 1.0, text, answer, 0, len(answer), Citation(source, "t", "", 1, 0, len(text)), rank)


def _resp(answered: bool, *results: Result) -> SearchResponse:
    return SearchResponse("q", "q", answered, list(results))


def test_an_outcome_finds_the_evidence_after_folding_and_checks_the_first_answer():
    resp = _resp(True, _result(1, "浦东新区面积很大。", "浦东新区面积很大。"),
                 _result(2, "区域面积 569 平方公里。", "区域面积 569 平方公里。"))
    got = evidence_outcome(["569平方公里"], resp)  # spaces and full-width forms fold away
    assert got == Outcome(True, True, 2, False)
    assert evidence_outcome(["５６９平方公里"], resp, top_k=1) == Outcome(True, True, None, False)
    assert evidence_outcome([], resp) == Outcome(False, True)  # should have been refused


def test_a_squad_outcome_counts_only_the_gold_article():
    other = _result(1, "面积569平方公里", "面积569平方公里", source="corpus/doc0002.txt")
    gold = _result(2, "面积569平方公里", "面积", source="corpus/doc0001.txt")
    assert squad_outcome("doc0001", ["569平方公里"], _resp(False, other, gold)) == Outcome(True, False, 2, False, False)
    assert squad_outcome("doc0001", ["569平方公里"], _resp(True, gold)).document is True


def test_outcomes_add_up_to_the_metrics():
    outcomes = [Outcome(True, True, 1, True), Outcome(True, True, 2, False), Outcome(True, False, None),
                Outcome(True, True, 11, True), Outcome(False, False), Outcome(False, True)]
    m = summarize(outcomes)
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (6, 4, 2)
    assert m["hit@1"] == 0.25 and m["hit@3"] == 0.5 and m["sentence@1"] == 0.5
    assert m["mrr@10"] == pytest.approx((1 + 1 / 2) / 4)  # rank 11 is past @10
    assert m["false_refusal"] == 0.25 and m["refusal"] == 0.5 and "doc@1" not in m
    assert summarize([Outcome(True, True, 1)])["refusal"] is None  # nothing to refuse
    assert summarize([Outcome(True, True, 1, True, False)], ks=(5,))["doc@1"] == 0.0


def test_a_report_lists_the_wrong_refusals_and_acceptances_and_the_misses():
    questions = [{"id": "a", "question": "有", "evidence": ["569"]}, {"id": "b", "question": "无", "evidence": []},
                 {"id": "c", "question": "远", "evidence": ["569"]}]
    hit = _result(1, "569平方公里", "569平方公里")
    report = score(questions, [_resp(False, hit), _resp(True, hit), _resp(True, _result(1, "别的", "别的"), hit)])
    assert report.refused_wrongly == ["有"] and report.accepted_wrongly == ["无"]
    assert [(m.id, m.rank, m.first) for m in report.misses] == [("c", 2, "别的")]
