"""The Milvus store against Milvus Lite (a file on disk, no server): build, incremental add and
remove, the same answers as the local store, and one-line errors for an unreachable server or a
collection built with other settings. Uses the fake encoder, so it runs in seconds."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from pudong_qa.errors import IndexUnavailable
from pudong_qa.index import load_index
from pudong_qa.indexing import build_index
from pudong_qa.search.searcher import Searcher
from pudong_qa.settings import Settings
from pudong_qa.stores import milvus

DOCS = {
    "a.txt": "浦东开发报告\n\n一、概况\n\n1990年4月18日，党中央、国务院正式宣布开发、开放浦东。浦东新区位于上海市东部，"
             "区域面积569平方公里。\n\n二、经验\n\n浦东坚持“小政府、大社会”的管理体制，精简机构，提高行政效率。"
             "陆家嘴金融贸易区是全国唯一以金融贸易命名的国家级开发区。",
    "b.txt": "张江科学城\n\n张江高科技园区成立于1992年，重点发展集成电路、生物医药和软件产业。园区内有上海光源等"
             "大科学设施。\n\n人才政策吸引了大量海外留学人员回国创业。",
}
EXTRA = ("c.txt", "外高桥保税区\n\n外高桥保税区是中国第一个保税区，于1990年6月经国务院批准设立。区内企业享受"
                  "进出口货物保税的政策。")
QUESTIONS = ["浦东什么时候开始开发开放", "浦东新区面积多大", "张江重点发展哪些产业", "什么是小政府大社会",
             "陆家嘴金融贸易区有什么特点", "海外留学人员"]


def _project(tmp_path, name: str, uri: str = "", docs: dict[str, str] = DOCS) -> Settings:
    root = tmp_path / name
    (root / "corpus").mkdir(parents=True)
    for fname, text in docs.items():
        (root / "corpus" / fname).write_text(text, encoding="utf-8")
    return Settings(root=root, milvus_uri=uri)


def _answers(settings: Settings, encoder) -> list[list[tuple[str, int, str, float]]]:
    searcher = Searcher(load_index(settings.index), encoder)
    return [[(r.citation.source, r.citation.start, r.answer, round(r.score, 4)) for r in
             searcher.search(q, top_k=3).results] for q in QUESTIONS]


def _rows(settings: Settings) -> list[dict]:
    info = json.loads((settings.index / "manifest.json").read_text(encoding="utf-8"))["store"]
    client = milvus.connect(info["uri"])
    return client.query(info["alias"], filter="pk >= 0", output_fields=["source", "text", "start"])


@pytest.fixture(scope="module")
def built(tmp_path_factory, fake_encoder):
    """The same corpus built into the local store and into Milvus Lite: (local, remote) settings."""
    tmp_path = tmp_path_factory.mktemp("milvus")
    local = _project(tmp_path, "local")
    remote = _project(tmp_path, "remote", str(tmp_path / "m.db"))
    build_index(local, model=fake_encoder)
    build_index(remote, model=fake_encoder)
    return local, remote


def test_build_search_same_answers_as_local(built, fake_encoder, tmp_path):
    local, remote = built
    manifest = json.loads((remote.index / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["store"]["kind"] == "milvus" and manifest["store"]["uri"].endswith("m.db")
    assert not (remote.index / "vectors.faiss").exists()  # vectors and postings live in Milvus
    index = load_index(remote.index)
    assert type(index.store).__name__ == "MilvusStore"
    rows = _rows(remote)
    assert len(rows) == len(index.passages) and {r["source"] for r in rows} == {"corpus/a.txt", "corpus/b.txt"}
    assert _answers(remote, fake_encoder) == _answers(local, fake_encoder)
    # the lexical scores are the local store's BM25 (Milvus fills only its top-N; here that is every passage)
    local_store, remote_store = load_index(local.index).store, index.store
    tokens = index.tokenizer.tokens("浦东开发开放的管理体制")
    a, b = local_store.lexical_scores(tokens), remote_store.lexical_scores(tokens)
    np.testing.assert_allclose(a.passages, b.passages, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(a.sentences, b.sentences, rtol=1e-4, atol=1e-5)
    ids = np.arange(len(index.passages))
    np.testing.assert_allclose(remote_store.passage_vectors(ids), local_store.passage_vectors(ids), atol=1e-6)


def test_incremental_add_and_remove(tmp_path, fake_encoder):
    settings = _project(tmp_path, "p", str(tmp_path / "m.db"))
    first = build_index(settings, model=fake_encoder)
    assert not build_index(settings, model=fake_encoder).rebuilt  # up to date: nothing written
    (settings.corpus / EXTRA[0]).write_text(EXTRA[1], encoding="utf-8")
    second = build_index(settings, model=fake_encoder)
    assert second.rebuilt and second.passages > first.passages
    info = json.loads((settings.index / "manifest.json").read_text(encoding="utf-8"))["store"]
    assert {r["source"] for r in _rows(settings)} == {"corpus/a.txt", "corpus/b.txt", "corpus/c.txt"}
    searcher = Searcher(load_index(settings.index), fake_encoder)
    assert searcher.search("外高桥保税区是什么时候设立的").results[0].citation.source == "corpus/c.txt"

    (settings.corpus / "b.txt").unlink()
    third = build_index(settings, model=fake_encoder)
    info3 = json.loads((settings.index / "manifest.json").read_text(encoding="utf-8"))["store"]
    assert info3["collection"] != info["collection"]  # built into the standby, then the alias switched
    client = milvus.connect(info3["uri"])
    assert client.describe_alias(info3["alias"])["collection_name"] == info3["collection"]
    rows = _rows(settings)
    assert len(rows) == third.passages and "corpus/b.txt" not in {r["source"] for r in rows}
    index = load_index(settings.index)
    results = Searcher(index, fake_encoder).search("张江重点发展哪些产业", top_k=5).results
    assert all(r.citation.source != "corpus/b.txt" for r in results)


def test_unreachable_server_is_one_line(tmp_path, fake_encoder, monkeypatch):
    from click.testing import CliRunner

    from pudong_qa.cli import cli
    from tests.conftest import free_port

    monkeypatch.setattr(milvus, "TIMEOUT_S", 1)
    uri = f"http://127.0.0.1:{free_port()}"
    settings = _project(tmp_path, "p", uri)
    with pytest.raises(IndexUnavailable, match=f"cannot reach Milvus at {uri}"):
        build_index(settings, model=fake_encoder)
    monkeypatch.setenv("PUDONG_QA_ROOT", str(settings.root))
    result = CliRunner().invoke(cli, ["--milvus-uri", uri, "build"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("pudong-qa: error: cannot reach Milvus at") and "Traceback" not in result.output
    assert not (settings.index / "manifest.json").exists()  # nothing half-written


def test_collection_of_other_settings_is_refused(built, tmp_path):
    import shutil

    settings = built[1]
    shutil.copytree(settings.index, tmp_path / "index")
    path = tmp_path / "index" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["store"]["identity"]["model"] = "another-model"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexUnavailable, match="belongs to another model or settings"):
        load_index(tmp_path / "index", verify=False)
    manifest["store"]["collection"] = "pudong_qa_missing_a"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexUnavailable, match="no collection pudong_qa_missing_a"):
        load_index(tmp_path / "index", verify=False)


def test_a_batch_of_questions_is_fetched_in_a_few_calls_with_the_same_answers(built, fake_encoder):
    _, remote = built
    searcher = Searcher(load_index(remote.index), fake_encoder)
    one_by_one = [searcher.search(q, top_k=3) for q in QUESTIONS]
    store = searcher.index.store
    calls = []
    search, get = store.client.search, store.client.get
    fields = []
    store.client.search = lambda *a, **k: calls.append("search") or fields.append(k["output_fields"]) or search(*a, **k)
    store.client.get = lambda *a, **k: calls.append("get") or get(*a, **k)
    batch = searcher.search_many(QUESTIONS, top_k=3)
    assert len(calls) <= 4 < 3 * len(QUESTIONS)  # 2 lexical + 1 dense searches and a get, for all of them
    assert all(f == ["pk"] for f in fields)  # a hit's vectors come once in the get, not with every hit
    for a, b in zip(one_by_one, batch):
        assert [(r.citation.source, r.citation.start, r.answer, round(r.score, 5)) for r in a.results] == \
               [(r.citation.source, r.citation.start, r.answer, round(r.score, 5)) for r in b.results]
        assert a.answered == b.answered


def test_a_text_without_words_is_stored(tmp_path, fake_encoder):
    # a sentence of only stop-words and punctuation has no BM25 terms; Milvus refuses all-zero vectors
    docs = {"a.txt": "标题\n\n浦东新区位于上海市东部。我们的。区域面积569平方公里。"}
    settings = _project(tmp_path, "remote", str(tmp_path / "m.db"), docs)
    build_index(settings, model=fake_encoder)
    top = Searcher(load_index(settings.index), fake_encoder).search("浦东新区面积多大").results[0]
    assert top.citation.source == "corpus/a.txt" and "569" in top.text
