"""The shared dev set, run as a whole through the real batch CLI (aggregate thresholds only)."""

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT

EVALUATE = ROOT.parent / "shared" / "eval" / "evaluate.py"
CLI = ROOT / ".venv" / "bin" / "pudong-qa"


@pytest.mark.skipif(not EVALUATE.exists() or not CLI.exists(), reason="needs ../shared/eval and .venv")
def test_dev_set_meets_targets():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUDONG_QA_")}
    proc = subprocess.run(
        [sys.executable, str(EVALUATE), "--cmd", str(CLI), "--root", str(ROOT),
         "--min-hit1", "0.95", "--min-hit3", "0.99", "--min-sent1", "0.85", "--min-refusal", "1.0",
         "--max-false-refusal", "0.05"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=900,
    )
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    metrics = json.loads(lines[-2])
    assert metrics["citations_exact"] == 1.0
    assert metrics["texts_over_limit"] == 0
    assert metrics["hit@1"] >= 0.95 and metrics["hit@3"] >= 0.99 and metrics["sentence@1"] >= 0.85
    assert metrics["refusal"] == 1.0 and metrics["false_refusal"] <= 0.05


def test_own_question_set_through_pudong_qa_eval(project, monkeypatch):
    """The project's own questions (written from the report, not from the dev set) via `pudong-qa eval`."""
    from click.testing import CliRunner

    from pudong_qa.cli import cli

    monkeypatch.setenv("PUDONG_QA_ROOT", str(project[0].root))
    res = CliRunner().invoke(cli, ["eval", str(ROOT / "tests" / "data" / "own_questions.jsonl"), "--json",
                                   "--show-misses"], catch_exceptions=False)
    assert res.exit_code == 0
    metrics = json.loads(res.stdout.strip().splitlines()[-1])
    assert metrics["hit@1"] >= 0.95 and metrics["hit@3"] >= 0.99 and metrics["sentence@1"] >= 0.85
    assert metrics["refusal"] == 1.0 and metrics["false_refusal"] <= 0.05


def test_held_out_questions_stay_answered(project, monkeypatch):
    """Questions written after tuning ended and never used to tune (tests/data/heldout_questions.jsonl).
    Looser floors than the dev set: they guard against regressions, they were not optimised for."""
    from click.testing import CliRunner

    from pudong_qa.cli import cli

    monkeypatch.setenv("PUDONG_QA_ROOT", str(project[0].root))
    res = CliRunner().invoke(cli, ["eval", str(ROOT / "tests" / "data" / "heldout_questions.jsonl"), "--json"],
                             catch_exceptions=False)
    metrics = json.loads(res.stdout.strip().splitlines()[-1])
    assert metrics["hit@1"] >= 0.85 and metrics["hit@3"] >= 0.95
    assert metrics["refusal"] >= 0.75 and metrics["false_refusal"] <= 0.05


def test_second_held_out_set_meets_the_unseen_question_targets(project, monkeypatch):
    """tests/data/heldout2_questions.jsonl: 61 questions written before retrieval round 2 and never
    used to choose anything. The round-2 targets for unseen questions that it meets: hit@1 ≥ 0.95,
    refusal ≥ 0.9, false refusal ≤ 0.03 (hit@3 is 0.98: one English question misses)."""
    from click.testing import CliRunner

    from pudong_qa.cli import cli

    monkeypatch.setenv("PUDONG_QA_ROOT", str(project[0].root))
    res = CliRunner().invoke(cli, ["eval", str(ROOT / "tests" / "data" / "heldout2_questions.jsonl"), "--json"],
                             catch_exceptions=False)
    metrics = json.loads(res.stdout.strip().splitlines()[-1])
    assert metrics["hit@1"] >= 0.95 and metrics["hit@3"] >= 0.97 and metrics["sentence@1"] >= 0.85
    assert metrics["refusal"] >= 0.9 and metrics["false_refusal"] <= 0.03


@pytest.mark.parametrize("name, hit1, sentence1, refusal, false_refusal",
                         [("heldout3", 0.95, 0.9, 0.95, 0.03), ("heldout4", 0.95, 0.85, 0.85, 0.03),
                          ("heldout5", 0.85, 0.7, 0.35, 0.1), ("heldout6", 0.95, 0.9, 0.45, 0.03)])
def test_later_held_out_sets_do_not_regress(project, monkeypatch, name, hit1, sentence1, refusal, false_refusal):
    """tests/data/heldout3 (written after round 3), heldout4 (after round 7), heldout5 and heldout6
    (round 9, the last never read): floors a little under what each measures now (docs/retrieval.md),
    so a change that loses unseen questions fails.
    Their refusal misses were "who is the X" and "what was it in another year" questions (round 8),
    refused since round 9 (the role and the year the question names must be in the first passage)."""
    from click.testing import CliRunner

    from pudong_qa.cli import cli

    monkeypatch.setenv("PUDONG_QA_ROOT", str(project[0].root))
    res = CliRunner().invoke(cli, ["eval", str(ROOT / "tests" / "data" / f"{name}_questions.jsonl"), "--json"],
                             catch_exceptions=False)
    metrics = json.loads(res.stdout.strip().splitlines()[-1])
    assert metrics["hit@1"] >= hit1 and metrics["sentence@1"] >= sentence1
    assert metrics["refusal"] >= refusal and metrics["false_refusal"] <= false_refusal
