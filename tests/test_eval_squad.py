"""`pudong-qa eval SET.json`: a SQuAD-format set is built into a temporary index and scored."""

import json

from click.testing import CliRunner

from pudong_qa.cli import cli

PARK = "临江公园位于城区东部，始建于1985年，占地四十公顷。公园内有一座百年古桥。"
LIBRARY = "东湖图书馆藏书约六十万册，每天开放十二小时。馆长由市文化局任命。"
ARTICLES = {"data": [
    {"title": "临江公园", "paragraphs": [
        {"context": PARK, "qas": [{"question": "临江公园始建于哪一年？", "answers": [{"text": "1985年"}]}]}]},
    {"title": "东湖图书馆", "paragraphs": [
        {"context": LIBRARY, "qas": [{"question": "东湖图书馆藏书多少册？", "answers": [{"text": "六十万册"}]},
                                     {"question": "图书馆每天开放多久？", "answers": [{"text": "十二小时"}]}]}]},
]}


def test_eval_accepts_a_squad_file(tmp_path, model, monkeypatch):
    path = tmp_path / "set.json"
    path.write_text(json.dumps(ARTICLES, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("PUDONG_QA_ROOT", str(tmp_path))
    res = CliRunner().invoke(cli, ["eval", str(path), "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    metrics = json.loads(res.stdout.strip().splitlines()[-1])
    assert metrics["questions"] == 3 and metrics["documents"] == 2
    assert metrics["doc@1"] == 1.0 and metrics["hit@1"] == 1.0
    assert not (tmp_path / "index").exists()  # the temporary index is not the project's
