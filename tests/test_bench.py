"""The benchmark stays runnable: a quick run at tiny sizes (figures are not asserted, only sanity)."""


from conftest import ROOT

from pudong_qa import bench
from pudong_qa.settings import Settings


def test_quick_benchmark_runs_and_reports(tmp_path):
    questions = ["浦东新区下辖多少个街道办事处", "政府怎样服务企业", "市民中心有什么作用", "What is the GDP of Pudong?"]
    results = bench.run(Settings(root=ROOT), questions, eval_file=ROOT / "tests" / "data" / "own_questions.jsonl",
                        quick=True, sizes=[1500], page=False, log=lambda _: None)
    assert results["cold_start_ask"]["median_s"] > 0
    assert results["query"]["total"]["p50_ms"] > 0 and results["batch"]["cli_answering_q_per_s"] > 0
    scale = results["scale"][0]
    assert scale["passages"] == 1500 and scale["approx"]["recall_at_10"] >= 0.9
    whole = scale["whole"]
    assert whole["write"]["passages"] == whole["ask"]["passages"] == 1500
    assert whole["ask"]["total"]["p50_ms"] > 0 and 0 < whole["ask"]["anon_mb"] <= whole["ask"]["rss_mb"]
    assert whole["ask"]["answered"] > 0  # the synthetic passages are real sentences: questions find them
    report = bench.to_markdown(results, "pudong-qa bench --quick")
    assert "| 1,500 |" in report and "warm single question" in report and "| 1,500 (" in report
    onnx, fp32, int8 = results["backends"]
    assert onnx["within_0.01"] and fp32["within_0.01"]  # same numbers, only faster
    assert onnx["batch_independent"] and fp32["batch_independent"]
    assert "PyTorch int8" in report


def test_distinct_questions_are_distinct():
    qs = bench.distinct_questions(["浦东新区位于上海市东部,东濒长江口。", "区域面积569平方公里。"], 30)
    assert len(qs) == len(set(qs)) == 30
