"""The benchmarks (``benchmarks/``, outside the package) stay runnable: a quick run at tiny sizes
and the Milvus scale part at a tiny size (figures are not asserted, only sanity)."""

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks import bench
from benchmarks.markdown import to_markdown
from benchmarks.report import distinct_questions
from pudong_qa.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["浦东新区下辖多少个街道办事处", "政府怎样服务企业", "市民中心有什么作用", "What is the GDP of Pudong?"]


@pytest.mark.slow
def test_quick_benchmark_runs_and_reports(tmp_path):
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")  # its own index: the project's index/ is not touched
    results = bench.run(Settings(root=tmp_path), QUESTIONS, eval_file=ROOT / "tests" / "data" / "own_questions.jsonl",
                        quick=True, sizes=[1500], page=False, log=lambda _: None)
    assert results["cold_start_ask"]["median_s"] > 0
    assert results["query"]["total"]["p50_ms"] > 0 and results["batch"]["cli_answering_q_per_s"] > 0
    scale = results["scale"][0]
    assert scale["passages"] == 1500 and scale["approx"]["recall_at_10"] >= 0.9
    whole = scale["whole"]
    assert whole["write"]["passages"] == whole["ask"]["passages"] == 1500
    assert whole["ask"]["total"]["p50_ms"] > 0 and 0 < whole["ask"]["anon_mb"] <= whole["ask"]["rss_mb"]
    assert whole["ask"]["answered"] > 0  # the synthetic passages are real sentences: questions find them
    report = to_markdown(results, "python -m benchmarks.bench --quick")
    assert "| 1,500 |" in report and "warm single question" in report and "| 1,500 (" in report
    onnx, fp32, int8 = results["backends"]
    assert onnx["within_0.01"] and fp32["within_0.01"]  # same numbers, only faster
    assert onnx["batch_independent"] and fp32["batch_independent"]
    assert "PyTorch int8" in report


@pytest.mark.slow
def test_scale_milvus_at_a_tiny_size(tmp_path):
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from benchmarks.scale import scale_milvus
    from pudong_qa.stores.milvus import connect

    uri = str(tmp_path / "scale.db")
    out = scale_milvus(Settings(root=ROOT), 300, 40, QUESTIONS, uri, extra_queries=10)
    assert out["passages"] == 300 and out["real_vectors"] == 40 and out["build_s"] > 0
    assert out["dense"]["recall_at_10"] >= 0.9 and out["dense"]["p50_ms"] > 0
    assert out["lexical_top100"]["p50_ms"] > 0 and out["db_mb"] is not None
    assert not connect(uri).has_collection("pudong_qa_scale_300")  # dropped when done


def test_distinct_questions_are_distinct():
    qs = distinct_questions(["浦东新区位于上海市东部,东濒长江口。", "区域面积569平方公里。"], 30)
    assert len(qs) == len(set(qs)) == 30


def test_command_line_runs_by_default_and_has_child_modes():
    runner = CliRunner()
    missing = runner.invoke(bench.main, ["no-such-questions.txt", "--quick"])
    assert missing.exit_code == 2 and "no-such-questions.txt" in missing.output  # QUESTIONS → the run command
    listed = runner.invoke(bench.main, ["--help"])
    assert all(mode in listed.output for mode in ("run", "scale", "write-index", "ask-index", "milvus-scale"))
    assert "--eval-file" in runner.invoke(bench.main, ["run", "--help"]).output
