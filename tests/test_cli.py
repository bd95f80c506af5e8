"""The CLI in-process (click's runner), on a private copy of the corpus and index."""

import csv
import io
import json
from pathlib import Path

import pytest

QUESTIONS = ["浦东新区下辖多少个街道办事处", "", "政府购买服务是怎么做的"]




def _check_contract(record, question, source_root: Path):
    assert record["question"] == question
    assert isinstance(record["answered"], bool)
    for r in record["results"]:
        c = r["citation"]
        text = (source_root / c["source"]).read_text(encoding="utf-8")
        assert text[c["start"]:c["end"]] == r["text"] and len(r["text"]) <= 300
        assert r["answer"] in r["text"]
        assert isinstance(c["paragraph"], int) and isinstance(c["section"], str)


@pytest.mark.parametrize("suffix", [".txt", ".csv", ".jsonl"])
def test_batch_contract_for_every_input_format(run, project, tmp_path, suffix):
    qfile = tmp_path / f"q{suffix}"
    if suffix == ".txt":
        qfile.write_text("\n".join(QUESTIONS) + "\n", encoding="utf-8")
    elif suffix == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["question"])
        w.writerows([[q] for q in QUESTIONS])
        qfile.write_text(buf.getvalue(), encoding="utf-8")
    else:
        qfile.write_text("\n".join(json.dumps({"question": q}, ensure_ascii=False) for q in QUESTIONS) + "\n",
                         encoding="utf-8")
    out = tmp_path / "out.jsonl"
    res = run("ask", "--questions", str(qfile), "--top-k", "4", "--format", "jsonl", "--output", str(out))
    assert res.exit_code == 0, res.output
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == len(QUESTIONS)
    for rec, q in zip(records, QUESTIONS):
        _check_contract(rec, q, project[0].root)
    assert len(records[0]["results"]) == 4 and records[0]["answered"]
    assert records[1]["results"] == [] and records[1]["error"]
    assert "error" not in records[0]


def test_single_question_prints_readable_citation(run):
    res = run("ask", "浦东新区下辖多少个街道办事处")
    assert res.exit_code == 0
    assert "[1] score" in res.output and "第" in res.output and "段" in res.output
    assert "一、浦东新区概况" in res.output and "corpus/pudong-government-innovation-report.txt [" in res.output


def test_csv_and_text_output(run, tmp_path):
    qfile = tmp_path / "q.txt"
    qfile.write_text("浦东新区下辖多少个街道办事处\n", encoding="utf-8")
    res = run("ask", "-q", str(qfile), "--format", "csv", "-k", "2")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["rank"] for r in rows] == ["1", "2"] and rows[0]["source"].startswith("corpus/")
    res = run("ask", "-q", str(qfile), "--format", "text", "-k", "1")
    assert res.stdout.startswith("问: 浦东新区下辖多少个街道办事处")
    out = tmp_path / "answers.csv"
    assert run("ask", "-q", str(qfile), "--format", "csv", "--output", str(out)).exit_code == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and "浦东新区" in data.decode("utf-8-sig")  # Excel needs the BOM


def test_unusable_input_exits_2_with_one_line(run, tmp_path):
    bad = tmp_path / "bin.txt"
    bad.write_bytes(b"\x00\x01\x02binary\x00" * 50)
    res = run("ask", "--questions", str(bad))
    assert res.exit_code == 2
    assert "bin.txt" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = run("ask", "   ")
    assert res.exit_code == 2 and "empty" in res.stderr


def test_build_reports_up_to_date(run):
    res = run("build")
    assert res.exit_code == 0 and "up to date" in res.output


def test_ask_rebuilds_a_stale_index(run, project, tmp_path):
    settings = project[0]
    extra = settings.corpus / "extra.md"
    extra.write_text("# 附录\n附录只有一句话。\n", encoding="utf-8")
    try:
        res = run("ask", "附录")
        assert res.exit_code == 0
        assert "new document corpus/extra.md" in res.stderr
        assert "corpus/extra.md" in res.output
    finally:
        extra.unlink()
        assert run("build").exit_code == 0
