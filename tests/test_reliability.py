"""Bad input, damaged or half-built indexes, concurrent builds, no pickle, no network.

Each test here is a row of docs/reliability.md.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from pudong_qa.corpus import CorpusError
from pudong_qa.index import load_index, read_manifest
from pudong_qa.indexing import build_index, stale_reasons
from pudong_qa.search.query import MAX_QUERY_CHARS
from pudong_qa.service import open_searcher
from pudong_qa.settings import Settings

CLI = [sys.executable, "-c", "from pudong_qa.cli import main; main()"]




@pytest.fixture()
def copy(tmp_path, project):
    """A private copy of the built project (corpus + index) that a test may damage."""
    settings = project[0]
    shutil.copytree(settings.corpus, tmp_path / "corpus")
    shutil.copytree(settings.index, tmp_path / "index")
    return Settings(root=tmp_path)


def _env(root: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUDONG_QA_")}
    env.update(PUDONG_QA_ROOT=str(root), **extra)
    return env


def test_a_finished_command_ends_with_its_output_whole_and_its_exit_status(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "r.txt").write_text("小型报告\n一、概况\n浦东新区区域面积569平方公里。\n", encoding="utf-8")
    # an atexit handler shows whether Python's teardown ran (it is skipped once a command's work is done)
    cli = [sys.executable, "-c", "import atexit, sys; atexit.register(lambda: print('teardown', file=sys.stderr)); "
                                 "from pudong_qa.cli import main; main()"]

    def run(*args):
        return subprocess.run([*cli, *args], env=_env(tmp_path), capture_output=True, text=True, timeout=300)

    built = run("build")  # stdout is a pipe here: block-buffered, flushed before the process ends
    assert built.returncode == 0 and built.stdout.startswith("Built ") and built.stdout.endswith("index)\n")
    assert "teardown" not in built.stderr
    asked = run("ask", "--format", "jsonl", "浦东新区的面积有多大")
    assert asked.returncode == 0 and json.loads(asked.stdout)["results"][0]["text"].startswith("浦东新区区域面积")
    assert "teardown" not in asked.stderr
    refused = run("ask", "？？")
    assert refused.returncode == 2 and "no words" in refused.stderr and "teardown" in refused.stderr


# ---------------------------------------------------------------- bad questions


@pytest.mark.parametrize("question,message", [
    ("   ", "empty question"), ("？？！！…", "no words"), ("😀🎉", "no words"), ("\x00\x07\x1b", "no words"),
])
def test_unusable_single_question_exits_2_with_one_line(run, question, message):
    res = run("ask", question)
    assert res.exit_code == 2
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_huge_question_is_answered_from_a_bounded_prefix(searcher):
    question = "浦东新区下辖多少个街道办事处" + "很长的问题" * 20_000  # 100,000+ characters
    resp = searcher.search(question, top_k=3)
    assert len(resp.query) <= MAX_QUERY_CHARS and resp.results
    assert "11个街道办事处" in " ".join(r.text for r in resp.results)


@pytest.mark.parametrize("question", [
    "浦东\x00新区\x07下辖多少个街道办事处", "<script>alert('x')</script>浦东新区下辖多少个街道",
    "Pudong 新区 has how many 街道办事处?", "浦东新区下辖多少个街道办事处😀",
])
def test_odd_but_usable_questions_are_answered(searcher, question):
    resp = searcher.search(question, top_k=3)
    assert resp.results and "\x00" not in resp.query
    assert "11个街道办事处" in " ".join(r.text for r in resp.results)


def test_batch_with_bad_lines_keeps_order_and_exit_0(run, tmp_path):
    lines = ["浦东新区下辖多少个街道办事处", "", "？？？", "\x00", "市民中心有什么作用", "x" * 100_000]
    qfile = tmp_path / "q.txt"
    qfile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = run("ask", "--questions", str(qfile), "--format", "jsonl")
    assert res.exit_code == 0
    records = [json.loads(x) for x in res.stdout.splitlines()]
    assert [bool(r.get("error")) for r in records] == [False, True, True, True, False, True]
    assert "at most 2000" in records[5]["error"]  # the ask contract's limit, the same for every door
    assert [r["question"] for r in records] == lines
    assert "4 unusable lines" in res.stderr


@pytest.mark.parametrize("kind", ["missing", "directory", "huge", "binary", "wrong-type"])
def test_unusable_question_files_exit_2(run, tmp_path, kind):
    path = tmp_path / "q.txt"
    if kind == "directory":
        path.mkdir()
    elif kind == "huge":
        with open(path, "wb") as f:
            f.truncate(21 * 1024 * 1024)
    elif kind == "binary":
        path.write_bytes(b"\x00\x01\x02binary\x00" * 50)
    elif kind == "wrong-type":
        path = tmp_path / "q.docx"
        path.write_bytes(b"PK")
    res = run("ask", "--questions", str(path))
    assert res.exit_code == 2 and res.stderr.startswith("pudong-qa: error: ")
    assert len(res.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- bad corpora


def test_empty_corpus_folder_keeps_previous_index(copy, model):
    before = read_manifest(copy.index)
    for f in copy.corpus.iterdir():
        f.unlink()
    with pytest.raises(CorpusError, match="files to index"):
        build_index(copy, model=model, force=True)
    assert read_manifest(copy.index) == before and load_index(copy.index).passages


def test_file_without_punctuation_is_indexed_in_bounded_passages(tmp_path, model):
    (tmp_path / "corpus").mkdir()
    text = "没有标点的报告\n" + "这是一段完全没有任何标点符号的文字" * 60 + "\n第二行同样没有标点\n"
    (tmp_path / "corpus" / "raw.txt").write_text(text, encoding="utf-8")
    settings = Settings(root=tmp_path)
    build_index(settings, model=model)
    passages = load_index(settings.index).passages
    assert len(passages) > 3 and all(len(p.text) <= 300 for p in passages)
    assert all(text[p.start:p.end] == p.text for p in passages)


def test_huge_corpus_file_is_skipped_by_name_or_with_strict_previous_index_kept(copy, model):
    before = read_manifest(copy.index)
    with open(copy.corpus / "huge.txt", "wb") as f:
        f.write("很大的文件。\n".encode() * (20 * 1024 * 1024 // 19 + 1))
    with pytest.raises(CorpusError, match=r"corpus/huge\.txt: .* over the 10 MiB limit"):
        build_index(copy, model=model, strict=True)
    assert read_manifest(copy.index) == before
    report = build_index(copy, model=model)
    assert report.skipped[0].source == "corpus/huge.txt" and "over the 10 MiB limit" in report.skipped[0].reason
    assert report.embedded == 0  # nothing else changed: every vector was reused


# ---------------------------------------------------------------- damaged indexes


@pytest.mark.parametrize("damage", ["truncate", "delete", "other-model"])
def test_damaged_or_foreign_index_is_rebuilt_on_open(copy, damage):
    if damage == "truncate":
        path = copy.index / "sentences.npy"
        path.write_bytes(path.read_bytes()[:1000])
    elif damage == "delete":
        shutil.rmtree(copy.index / "bm25_sentences")
    else:
        manifest = read_manifest(copy.index)
        manifest["state"]["model"] = "some-other-model"
        (copy.index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        assert list(map(str, stale_reasons(copy))) == ["model changed"]
    messages = []
    searcher = open_searcher(copy, log=messages.append)
    assert any("needs rebuilding" in m for m in messages)
    assert searcher.search("浦东新区下辖多少个街道办事处").results
    assert stale_reasons(copy) == []


def test_killed_build_leaves_previous_index_and_next_build_cleans_up(copy):
    before = read_manifest(copy.index)
    big = (copy.corpus / "pudong-government-innovation-report.txt").read_text(encoding="utf-8")
    for i in range(6):  # enough text that the build is still embedding when killed
        (copy.corpus / f"copy{i}.txt").write_text(big.replace("浦东", f"浦东{i}"), encoding="utf-8")
    proc = subprocess.Popen(CLI + ["build", "--force"], env=_env(copy.root), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(copy.root.glob(".index.tmp-*")):
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert read_manifest(copy.index) == before and load_index(copy.index).passages  # still usable
    done = subprocess.run(CLI + ["build"], env=_env(copy.root), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert len(read_manifest(copy.index)["documents"]) == 7
    assert not [p for p in copy.root.iterdir() if p.name.startswith((".index.tmp-", ".index.old-"))]


def test_two_builds_at_once_serialise(copy):
    procs = [subprocess.Popen(CLI + ["build", "--force"], env=_env(copy.root), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert any("waiting for it to finish" in err for _, err in outs)
    assert stale_reasons(copy) == [] and load_index(copy.index).passages
    assert not [p for p in copy.root.iterdir() if p.name.startswith((".index.tmp-", ".index.old-"))]


# ---------------------------------------------------------------- security


def test_no_pickle_anywhere(project):
    for path in (ROOT / "src").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import pickle" not in text and "allow_pickle=True" not in text, path
    for path in project[0].index.rglob("*"):
        if path.is_file():
            head = path.read_bytes()[:2]
            assert head not in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"), path


def test_works_offline_from_a_fresh_model_cache(tmp_path):
    """Model conversion and answering with the hub unreachable and Hugging Face set offline."""
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "r.txt").write_text("小报告\n一、概况\n浦东新区区域面积569平方公里。\n", encoding="utf-8")
    unreachable = "http://127.0.0.1:9"
    env = _env(tmp_path, PUDONG_QA_CACHE=str(tmp_path / "cache"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", HTTP_PROXY=unreachable, HTTPS_PROXY=unreachable, ALL_PROXY=unreachable,
               http_proxy=unreachable, https_proxy=unreachable, HF_ENDPOINT=unreachable, NO_PROXY="", no_proxy="")
    res = subprocess.run(CLI + ["ask", "浦东新区面积", "-k", "1"], env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    assert "569平方公里" in res.stdout
    assert (tmp_path / "cache" / "models").is_dir()


def test_server_listens_on_loopback_only(app_server):
    import psutil

    _, pid, _ = app_server
    addresses = {c.laddr.ip for c in psutil.Process(pid).net_connections(kind="inet") if c.status == "LISTEN"}
    assert addresses and addresses <= {"127.0.0.1"}
