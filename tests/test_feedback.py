"""Thumbs up/down kept locally (data/feedback.jsonl) and `pudong-qa feedback --export`."""

import csv
import json

from click.testing import CliRunner

from pudong_qa.cli import cli
from pudong_qa.feedback import export_feedback, feedback_path, read_feedback, record_feedback
from pudong_qa.settings import Settings

SHOWN = {"question": "市民中心有什么作用", "query": "市民中心有什么作用", "answered": True, "confidence": 0.68,
         "results": [{"text": "市民中心的建立,旨在……", "citation": "《报告》 › 三、… › 第14段 · corpus/x.txt [1–9]"}]}


def test_record_read_and_export(tmp_path):
    settings = Settings(root=tmp_path)
    assert feedback_path(settings) == tmp_path / "data" / "feedback.jsonl" and read_feedback(settings) == []
    record_feedback(settings, "up", SHOWN)
    record_feedback(settings, "down", {**SHOWN, "question": "第二个问题"})
    with open(feedback_path(settings), "a", encoding="utf-8") as f:
        f.write('{"cut short')  # a crash mid-write loses one line, not the file
    entries = read_feedback(settings)
    assert [e["rating"] for e in entries] == ["up", "down"] and entries[0]["time"].endswith("+00:00")
    assert entries[0]["results"] == SHOWN["results"]

    assert export_feedback(settings, tmp_path / "out.jsonl") == 2
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[1])["question"] == "第二个问题"
    assert export_feedback(settings, tmp_path / "out.csv") == 2
    rows = list(csv.DictReader((tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()))
    assert rows[0]["rating"] == "up" and rows[0]["first_citation"].startswith("《报告》")


def test_data_dir_from_env(tmp_path):
    settings = Settings.from_env({"PUDONG_QA_ROOT": str(tmp_path), "PUDONG_QA_DATA_DIR": str(tmp_path / "fb")})
    assert feedback_path(settings) == tmp_path / "fb" / "feedback.jsonl"


def test_cli_export(tmp_path, monkeypatch):
    monkeypatch.setenv("PUDONG_QA_ROOT", str(tmp_path))
    monkeypatch.delenv("PUDONG_QA_DATA_DIR", raising=False)
    record_feedback(Settings(root=tmp_path), "up", SHOWN)
    out = tmp_path / "feedback.csv"
    result = CliRunner().invoke(cli, ["feedback", "--export", str(out)], catch_exceptions=False)
    assert result.exit_code == 0 and "1 feedback entries" in result.output
    assert "市民中心有什么作用" in out.read_text(encoding="utf-8")
