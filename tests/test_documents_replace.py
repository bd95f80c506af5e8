"""One index for every process, vectors reused by content, and revised documents that replace
without losing anything: a running service (and the HTTP server) takes in an index that
``pudong-qa build`` made in another process while questions go on; a moved file is not embedded
again; a same-name upload replaces only when asked, the old file kept in the recycle folder and
restored from there. Uses the real model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from pudong_qa.index import load_index
from pudong_qa.indexing import build_index
from pudong_qa.passages import read_passages
from pudong_qa.search.searcher import Searcher
from pudong_qa.settings import Settings

FIXTURES = ROOT / "tests" / "fixtures" / "formats"
MEALS = "八十岁以上老人吃饭有什么补贴"  # answered by news_gbk.html only
SEEN_WITHIN = 15.0  # seconds after the CLI build ends, at most, until the new index is in use


def _corpus(root: Path, *names: str, sub: str = "") -> Settings:
    (root / "corpus" / sub).mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(FIXTURES / name, root / "corpus" / sub / name)
    return Settings(root=root)


def _cli_build(root: Path) -> subprocess.Popen:
    """``pudong-qa build`` in another process, over the folder ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUDONG_QA_")} | {"PUDONG_QA_ROOT": str(root)}
    return subprocess.Popen([sys.executable, "-m", "pudong_qa.cli", "build"], env=env, cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


class SwapClock:
    """When the index folder was swapped (watched every 10 ms from another thread)."""

    def __init__(self, index_dir: Path) -> None:
        from pudong_qa.index_watch import index_stamp

        self.swapped: float | None = None
        first = index_stamp(index_dir)

        def watch() -> None:
            while self.swapped is None:
                now = index_stamp(index_dir)
                if now is not None and now != first:
                    self.swapped = time.monotonic()
                time.sleep(0.01)

        threading.Thread(target=watch, daemon=True).start()

    def seconds_until(self, seen, timeout: float) -> float:
        """Seconds from the swap until ``seen()`` is true (fails the test after ``timeout``)."""
        t0 = time.monotonic()
        while not seen():
            assert time.monotonic() - t0 < timeout, "the new index was not taken in"
            time.sleep(0.05)
        assert self.swapped is not None
        return time.monotonic() - self.swapped


# ---------------------------------------------------------------- one index for every process


def test_a_running_service_takes_in_an_index_a_cli_build_made(tmp_path, model):
    from pudong_qa.service import QAService

    settings = _corpus(tmp_path, "report_gbk.txt")
    build_index(settings, model=model)
    service = QAService(settings, log=lambda _: None)
    assert service.settings.index_poll == 2.0  # the default is what is measured here
    first = service.ask(MEALS)[1].results
    assert all(r.citation.source != "corpus/news_gbk.html" for r in first)
    _corpus(tmp_path, "news_gbk.html")
    failures, asked, stop = [], [0], threading.Event()

    def keep_asking() -> None:  # questions all through the build and the swap
        while not stop.is_set():
            try:
                resp = service.ask(MEALS)[1]
                assert resp.results, "no results"
                asked[0] += 1
            except Exception as exc:  # collected, the test fails below
                failures.append(repr(exc))

    asker = threading.Thread(target=keep_asking)
    asker.start()
    clock = SwapClock(settings.index)
    try:
        proc = _cli_build(tmp_path)
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        seconds = clock.seconds_until(
            lambda: "corpus/news_gbk.html" in {d["source"] for d in service.status().documents}, SEEN_WITHIN)
    finally:
        stop.set()
        asker.join()
    print(f"\nservice: new index in use {seconds:.2f} s after the CLI build swapped it in; "
          f"{asked[0]} questions meanwhile, {len(failures)} failed")
    assert not failures and asked[0] > 0
    assert service.status().stale == []
    assert service.ask(MEALS)[1].results[0].citation.source == "corpus/news_gbk.html"
    assert service.refresh_index() is False  # nothing new: a stat, no reload


def test_the_http_server_answers_from_an_index_a_cli_build_made(tmp_path, model):
    from fastapi.testclient import TestClient

    from pudong_qa.office.server import build_app, make_office

    settings = _corpus(tmp_path, "report_gbk.txt")
    build_index(settings, model=model)
    client = TestClient(build_app(make_office(settings, log=lambda _: None), page=False))
    _corpus(tmp_path, "news_gbk.html")
    clock = SwapClock(settings.index)
    proc = _cli_build(tmp_path)
    codes = []
    while proc.poll() is None:  # asked all through the build
        codes.append(client.post("/api/ask", json={"question": MEALS}).status_code)
    assert proc.returncode == 0, proc.stdout.read()

    def seen() -> bool:
        codes.append(client.post("/api/ask", json={"question": MEALS}).status_code)
        status = client.get("/api/status").json()
        return "corpus/news_gbk.html" in {d["source"] for d in status["documents"]} and not status["stale"]

    seconds = clock.seconds_until(seen, SEEN_WITHIN)
    print(f"\nHTTP: /api/status and /api/ask on the new index {seconds:.2f} s after the CLI build swapped it in; "
          f"{len(codes)} asks, all {set(codes)}")
    assert set(codes) == {200}
    top = client.post("/api/ask", json={"question": MEALS}).json()["results"][0]
    assert top["citation"]["source"] == "corpus/news_gbk.html"


def test_a_damaged_or_foreign_index_is_not_swapped_in(tmp_path, model):
    from pudong_qa.service import QAService

    settings = _corpus(tmp_path, "report_gbk.txt")
    build_index(settings, model=model)
    lines = []
    service = QAService(Settings(root=tmp_path, index_poll=0), log=lines.append)  # checked by hand here
    before = service.searcher.index
    other = _corpus(tmp_path / "other", "report_gbk.txt", "news_gbk.html")
    build_index(other, model=model)
    damaged = tmp_path / "damaged"
    shutil.copytree(other.index, damaged)
    (damaged / "userdict.json").write_text("[]", encoding="utf-8")  # its checksum no longer matches
    os.replace(settings.index, tmp_path / "old")
    os.replace(damaged, settings.index)
    assert service.refresh_index() is False and service.searcher.index is before
    assert "cannot be used" in lines[-1]
    assert service.ask(MEALS)[1].results  # still answering, from the old index
    assert service.refresh_index() is False and len(lines) == 1  # not loaded (nor logged) again
    shutil.rmtree(settings.index)
    shutil.copytree(other.index, settings.index)
    manifest = json.loads((settings.index / "manifest.json").read_text(encoding="utf-8"))
    manifest["state"]["model"] = "another-model"  # its vectors are not the loaded model's
    (settings.index / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert service.refresh_index() is False and service.searcher.index is before
    assert "built with another model (another-model)" in lines[-1]
    shutil.rmtree(settings.index)
    shutil.copytree(other.index, settings.index)  # a good one
    assert service.refresh_index() is True
    assert service.ask(MEALS)[1].results[0].citation.source == "corpus/news_gbk.html"


# ---------------------------------------------------------------- vectors reused by content


def test_a_moved_document_is_not_embedded_again(tmp_path, model):
    settings = _corpus(tmp_path / "a", "report_gbk.txt", sub="notices")
    _corpus(tmp_path / "a", "news_gbk.html", sub="news")
    build_index(settings, model=model)
    (settings.corpus / "archive").mkdir()
    os.replace(settings.corpus / "notices" / "report_gbk.txt", settings.corpus / "archive" / "report_gbk.txt")
    moved = build_index(settings, model=model)
    assert moved.rebuilt and moved.embedded == 0 and moved.tokenized == 0
    assert "new document corpus/archive/report_gbk.txt" in map(str, moved.reasons)
    # a server started from another folder: every source changes, no text does
    elsewhere = Settings(root=tmp_path, corpus=settings.corpus, index=settings.index)
    again = build_index(elsewhere, model=model)
    assert again.rebuilt and again.embedded == 0
    full_settings = Settings(root=tmp_path, corpus=_corpus(tmp_path / "b", "report_gbk.txt", sub="archive").corpus,
                             index=tmp_path / "b" / "index")
    _corpus(tmp_path / "b", "news_gbk.html", sub="news")
    full = build_index(full_settings, model=model, force=True)
    assert full.embedded > 0
    strip = lambda p: {**p.__dict__, "source": p.source.split("/corpus/", 1)[1]}  # noqa: E731
    assert [strip(p) for p in read_passages(elsewhere.index)] == [strip(p) for p in read_passages(full_settings.index)]
    a, b = load_index(elsewhere.index), load_index(full_settings.index)
    rows = np.arange(len(a.passages))
    assert np.allclose(a.store.passage_vectors(rows), b.store.passage_vectors(rows), atol=1e-5)
    for question in (MEALS, "区政务服务平台上线了多少事项"):
        ra, rb = Searcher(a, model).search(question).results, Searcher(b, model).search(question).results
        assert [(r.text, r.citation.start) for r in ra] == [(r.text, r.citation.start) for r in rb]
        assert np.allclose([r.score for r in ra], [r.score for r in rb], atol=1e-4)


# ---------------------------------------------------------------- a revised document replaces

WEDNESDAY = "会议通知\n一、时间\n本周例会改在周三下午三点举行,地点在三楼会议室。\n"
FRIDAY = "会议通知\n一、时间\n本周例会改在周五下午三点举行,地点在三楼会议室。\n"
WHEN = "本周例会什么时候举行"


def _notice(root: Path, text: str = WEDNESDAY, folder: str = "uploads") -> Path:
    (root / folder).mkdir(parents=True, exist_ok=True)
    path = root / folder / "notice.txt"
    path.write_text(text, encoding="utf-8")
    return path


def _office_corpus(tmp_path: Path) -> Settings:
    settings = _corpus(tmp_path, "report_gbk.txt")
    _notice(tmp_path, folder="corpus")
    return settings


def test_recycle_bin_keeps_restores_and_prunes(tmp_path):
    from pudong_qa.errors import CorpusError
    from pudong_qa.recycle import RecycleBin

    settings = Settings(root=tmp_path, recycle_days=30)
    current = _notice(tmp_path, folder="corpus/notices")
    bin_ = RecycleBin.for_settings(settings)
    assert bin_.folder == tmp_path / "data" / "recycle" / "corpus"
    old = bin_.put(current, "replaced", "ed")
    assert not current.exists() and old.file.read_text(encoding="utf-8") == WEDNESDAY
    assert (old.source, old.path, old.reason, old.who) == ("corpus/notices/notice.txt", "notices/notice.txt",
                                                           "replaced", "ed")
    assert json.loads((old.folder / "record.json").read_text(encoding="utf-8"))["who"] == "ed"
    current.write_text(FRIDAY, encoding="utf-8")
    restored, displaced = bin_.restore("notice.txt", "cli")  # by file name: the newest of that name
    assert restored.id == old.id and current.read_text(encoding="utf-8") == WEDNESDAY
    assert displaced is not None and displaced.file.read_text(encoding="utf-8") == FRIDAY  # nothing lost
    assert [e.id for e in bin_.entries()] == [displaced.id]
    with pytest.raises(CorpusError, match="nothing of that name"):
        bin_.restore(old.id, "cli")
    assert bin_.prune(datetime.now(timezone.utc) + timedelta(days=29)) == []
    assert [e.id for e in bin_.prune(datetime.now(timezone.utc) + timedelta(days=31))] == [displaced.id]
    assert bin_.entries() == [] and list(bin_.folder.iterdir()) == []


def test_a_revised_document_replaces_only_when_asked(tmp_path, model):
    from pudong_qa.service import DocumentExists, QAService

    settings = _office_corpus(tmp_path)
    service = QAService(settings, log=lambda _: None)
    revised = _notice(tmp_path, FRIDAY)
    with pytest.raises(DocumentExists) as refused:
        service.add_documents([revised])
    assert refused.value.existing == [("notice.txt", "corpus/notice.txt")]
    assert (settings.corpus / "notice.txt").read_text(encoding="utf-8") == WEDNESDAY
    (stored,) = service.store_documents([revised], replace=True, who="ed")
    assert (stored.source, stored.outcome) == ("corpus/notice.txt", "replaced")
    assert stored.recycled.who == "ed" and stored.recycled.reason == "replaced"
    assert stored.recycled.file.read_text(encoding="utf-8") == WEDNESDAY
    assert sorted(p.name for p in settings.corpus.iterdir()) == ["notice.txt", "report_gbk.txt"]  # no notice-1
    service.rebuild()
    top = service.ask(WHEN)[1].results[0]
    assert "周五" in top.text and top.citation.source == "corpus/notice.txt"
    assert [d["source"] for d in service.status().documents].count("corpus/notice.txt") == 1
    again = service.store_documents([revised], who="ed")  # the same content again: nothing to do
    assert [s.outcome for s in again] == ["unchanged"] and service.add_documents([revised]) == []
    assert service.status().stale == []
    removed = service.remove_document("corpus/notice.txt", who="ed")
    assert removed.reason == "removed" and not (settings.corpus / "notice.txt").exists()
    entry, displaced = service.restore_document(stored.recycled.id, who="ed")  # the Wednesday version
    assert displaced is None and (settings.corpus / "notice.txt").read_text(encoding="utf-8") == WEDNESDAY
    assert [e.id for e in service.recycle.entries()] == [removed.id]  # the Friday one, still kept


def test_a_subfolder_document_of_the_same_name_is_the_one_replaced(tmp_path, model):
    from pudong_qa.service import DocumentExists, QAService

    settings = _corpus(tmp_path, "report_gbk.txt")
    _notice(tmp_path, folder="corpus/notices")
    service = QAService(settings, log=lambda _: None)
    with pytest.raises(DocumentExists, match="corpus/notices/notice.txt"):
        service.add_documents([_notice(tmp_path, FRIDAY)])
    assert service.add_documents([_notice(tmp_path, FRIDAY)], replace=True) == ["corpus/notices/notice.txt"]
    assert not (settings.corpus / "notice.txt").exists()


def test_the_api_replaces_only_with_replace_true_and_restores(tmp_path, model):
    from fastapi.testclient import TestClient
    from office import FAST, add_people, bearer

    from pudong_qa.office.audit import AuditLog
    from pudong_qa.office.server import build_app, make_office

    _office_corpus(tmp_path)
    settings = Settings(root=tmp_path, host="0.0.0.0")  # beyond loopback: keys needed
    creds = add_people(settings)
    served = make_office(settings, log=lambda _: None)
    served.access.users.hasher = FAST
    client = TestClient(build_app(served, page=False))
    editor, reader = bearer(creds.editor_key), bearer(creds.reader_key)
    files = {"files": ("notice.txt", FRIDAY.encode(), "text/plain")}
    r = client.post("/api/documents", files=files, headers=editor)
    assert r.status_code == 409, r.text
    assert r.json()["detail"]["existing"] == [{"name": "notice.txt", "existing": "corpus/notice.txt"}]
    assert r.json()["code"] == "document_exists" and "corpus/notice.txt" in r.json()["message"]
    assert (settings.corpus / "notice.txt").read_text(encoding="utf-8") == WEDNESDAY
    r = client.post("/api/documents?replace=true", files=files, headers=editor)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["replaced"] == ["corpus/notice.txt"] and body["added"] == [] and body["rebuild"]["rebuilt"]
    answer = client.post("/api/ask", json={"question": WHEN}, headers=reader).json()["results"][0]
    assert "周五" in answer["text"]
    r = client.post("/api/documents", files=files, headers=editor)  # identical: already there
    assert r.status_code == 200 and r.json()["unchanged"] == ["corpus/notice.txt"] and r.json()["rebuild"] is None
    assert "已在知识库中" in r.json()["message"]
    assert client.get("/api/documents/recycled", headers=reader).status_code == 403
    (entry,) = client.get("/api/documents/recycled", headers=editor).json()["recycled"]
    assert (entry["source"], entry["reason"], entry["who"]) == ("corpus/notice.txt", "replaced", "key:ops")
    assert client.post("/api/documents/restore?document=notice.txt", headers=reader).status_code == 403
    r = client.post("/api/documents/restore?document=notice.txt", headers=editor)
    assert r.status_code == 200, r.text
    assert r.json()["restored"]["id"] == entry["id"] and r.json()["recycled"]["reason"] == "replaced"
    answer = client.post("/api/ask", json={"question": WHEN}, headers=reader).json()["results"][0]
    assert "周三" in answer["text"]
    assert client.delete("/api/documents?source=corpus/notice.txt", headers=editor).status_code == 200
    log = [(e["who"], e["action"], e["target"], e["outcome"]) for e in AuditLog.for_data_dir(settings.data_dir).read()]
    assert ("key:ops", "add", ["notice.txt"], "refused") in log
    assert ("key:ops", "replace", "corpus/notice.txt", "ok") in log
    assert ("key:ops", "restore", "corpus/notice.txt", "ok") in log
    assert ("key:ops", "remove", "corpus/notice.txt", "ok") in log
    assert len(client.get("/api/documents/recycled", headers=editor).json()["recycled"]) == 2  # both versions


def test_the_page_asks_before_replacing(tmp_path, model):
    from pudong_qa.service import QAService
    from pudong_qa.web.handlers import ChatPage

    settings = _office_corpus(tmp_path)
    page = ChatPage(QAService(settings, log=lambda _: None))
    quiet = lambda *a, **k: None  # noqa: E731 - Gradio's progress
    fresh = tmp_path / "uploads" / "fresh.txt"
    _notice(tmp_path)  # makes the folder
    fresh.write_text("新通知\n食堂下周一起延长营业到晚上八点。\n", encoding="utf-8")
    shown, _, asking = page.add_prompt([str(fresh)])
    assert not shown["visible"] and asking is None
    revised = str(_notice(tmp_path, FRIDAY))
    shown, text, asking = page.add_prompt([revised])
    assert shown["visible"] and "确认替换 notice.txt (corpus/notice.txt)?" in text and asking == [revised]
    assert page.add_unless_asked([revised], asking, progress=quiet) == {"__type__": "update"}  # it waits
    assert (settings.corpus / "notice.txt").read_text(encoding="utf-8") == WEDNESDAY
    status = page.add_documents([revised], progress=quiet)  # not confirmed: refused, with why
    assert "未添加 notice.txt:已有同名文档 corpus/notice.txt" in status
    status = page.replace_documents(asking, progress=quiet)
    assert "已替换 1 个文档" in status and "重建完成" in status
    assert "周五" in page.service.ask(WHEN)[1].results[0].text
    status = page.add_documents([revised], progress=quiet)
    assert "notice.txt 已在知识库中 (内容相同),无需重建" in status and "重建完成" not in status


def test_cli_lists_and_restores_recycled_documents(tmp_path, model, monkeypatch):
    from click.testing import CliRunner

    from pudong_qa.cli import cli
    from pudong_qa.office.audit import AuditLog
    from pudong_qa.service import QAService

    settings = _office_corpus(tmp_path)
    service = QAService(settings, log=lambda _: None)
    service.remove_document("corpus/notice.txt", who="ed")
    service.rebuild()
    monkeypatch.setenv("PUDONG_QA_ROOT", str(tmp_path))
    for var in ("PUDONG_QA_INDEX", "PUDONG_QA_CORPUS", "PUDONG_QA_DATA_DIR"):
        monkeypatch.delenv(var, raising=False)
    listed = CliRunner().invoke(cli, ["documents", "recycled"])
    assert listed.exit_code == 0 and "removed" in listed.stdout and "corpus/notice.txt" in listed.stdout
    assert CliRunner().invoke(cli, ["documents", "recycled", "--kb", "corpus"]).stdout == listed.stdout
    other = CliRunner().invoke(cli, ["documents", "recycled", "--kb", "plans"])
    assert other.exit_code == 2 and "no knowledge base 'plans'; there is corpus" in other.stderr
    missing = CliRunner().invoke(cli, ["documents", "restore", "nothing.txt"])
    assert missing.exit_code == 2 and "nothing of that name" in missing.stderr
    res = CliRunner().invoke(cli, ["documents", "restore", "corpus/notice.txt"])
    assert res.exit_code == 0, res.stderr
    assert "Restored corpus/notice.txt (removed by ed" in res.stdout and "Built" in res.stdout
    assert (settings.corpus / "notice.txt").read_text(encoding="utf-8") == WEDNESDAY
    assert service.refresh_index() is True  # the running service takes in the CLI's build
    assert "周三" in service.ask(WHEN)[1].results[0].text
    (entry,) = [e for e in AuditLog.for_data_dir(settings.data_dir).read() if e["action"] == "restore"]
    assert entry["who"] == "cli" and entry["target"] == "corpus/notice.txt"
    assert CliRunner().invoke(cli, ["documents", "recycled"]).stdout == ""


def test_an_edited_document_embeds_only_its_changed_texts(tmp_path, model):
    settings = Settings(root=tmp_path)
    shutil.copytree(ROOT / "corpus", settings.corpus)
    full = build_index(settings, model=model)
    (path,) = settings.corpus.iterdir()
    text = path.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines()[len(text.splitlines()) // 2:] if len(x) > 40)
    path.write_text(text.replace(line, line + "本段为修订时新增的一句说明。"), encoding="utf-8")
    edited = build_index(settings, model=model)
    assert "changed document corpus/" + path.name in map(str, edited.reasons)
    assert 0 < edited.embedded < full.embedded / 4  # the paragraph's passages and sentences, not the document
