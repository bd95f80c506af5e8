"""Real reports in: each format indexed and answered with an exact citation; unreadable files
skipped by name; incremental builds that embed only what changed. Uses the real model."""

import shutil

import numpy as np
import pytest
from conftest import ROOT

from pudong_qa.index import load_index, read_source
from pudong_qa.indexing import build_index
from pudong_qa.indexing.tokens import TOKENS, load_tokens
from pudong_qa.passages import read_passages
from pudong_qa.search.searcher import Searcher
from pudong_qa.settings import Settings

FIXTURES = ROOT / "tests" / "fixtures" / "formats"

CASES = [  # file, question, a snippet of the passage that answers, its heading, its page
    ("report.docx", "哪里的托育和养老服务供给不足", "北部新建小区配套设施建设滞后", "（一）区域发展不均衡", None),
    ("report.pdf", "怎样提高窗口服务的质量", "加强窗口人员培训和考核", "（二）队伍能力有待提高", 2),
    ("news_gbk.html", "八十岁以上老人吃饭有什么补贴", "每餐三元的补贴", "助餐服务走进家门口", None),
    ("report_gbk.txt", "区政务服务平台上线了多少事项", "上线事项1270项", "一、基本情况", None),
]


def _corpus(tmp_path, *names):
    (tmp_path / "corpus").mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(FIXTURES / name, tmp_path / "corpus" / name)
    return Settings(root=tmp_path, ocr=False)  # scanned.pdf stands for a file that cannot be read (tests/test_ocr.py)


@pytest.mark.parametrize("name,question,snippet,heading,page", CASES)
def test_each_format_answers_with_an_exact_citation(tmp_path, model, name, question, snippet, heading, page):
    settings = _corpus(tmp_path, name, "corrupt.docx", "scanned.pdf")
    report = build_index(settings, model=model)
    assert report.documents == 1
    reasons = {k.source: k.reason for k in report.skipped}
    assert reasons["corpus/corrupt.docx"].startswith("not a readable Word file")
    assert reasons["corpus/scanned.pdf"].startswith("no text layer (scanned?)")
    index = load_index(settings.index)
    top = Searcher(index, model).search(question, top_k=3).results[0]
    assert snippet in top.text
    c = top.citation
    assert c.source == f"corpus/{name}" and c.section.endswith(heading) and c.page == page
    assert read_source(settings.index, c.source)[c.start:c.end] == top.text  # exact in the extracted text
    assert top.to_dict()["citation"]["page"] == page
    manifest = index.manifest
    assert {d["source"] for d in manifest["skipped"]} == {"corpus/corrupt.docx", "corpus/scanned.pdf"}
    (doc,) = manifest["documents"]
    assert doc["format"] == name.rsplit(".", 1)[1] and doc["passages"] == len(index.passages)
    if name.endswith(".txt"):
        assert doc["encoding"] == "gb18030"


def test_extraction_is_deterministic(tmp_path, model):
    settings = _corpus(tmp_path, "report.pdf", "report.docx", "news_gbk.html")
    build_index(settings, model=model)
    first = list(read_passages(settings.index))
    build_index(settings, model=model, force=True)
    assert list(read_passages(settings.index)) == first


def test_adding_and_removing_a_document_embeds_only_what_changed(tmp_path, model):
    settings = _corpus(tmp_path, "report.docx")
    full = build_index(settings, model=model)
    n_before = len(load_index(settings.index).passages)
    _corpus(tmp_path, "news_gbk.html")
    added = build_index(settings, model=model)
    index = load_index(settings.index)
    new = [p for p in index.passages if p.source == "corpus/news_gbk.html"]
    new_texts = len(new) + sum(len(p.sentences) for p in new)
    assert new and 0 < added.embedded <= new_texts < full.embedded + added.embedded
    assert 0 < added.tokenized < full.tokenized + added.tokenized  # the old document's tokens are reused
    assert len(index.passages) == n_before + len(new)
    question = "八十岁以上老人吃饭有什么补贴"
    assert Searcher(index, model).search(question).results[0].citation.source == "corpus/news_gbk.html"
    (settings.corpus / "news_gbk.html").unlink()
    removed = build_index(settings, model=model)
    index = load_index(settings.index)
    assert removed.embedded == 0 and all(p.source != "corpus/news_gbk.html" for p in index.passages)
    results = Searcher(index, model).search(question, top_k=10).results
    assert all(r.citation.source != "corpus/news_gbk.html" for r in results)


def test_build_names_skipped_files_and_strict_exits_2(tmp_path, model, monkeypatch):
    from click.testing import CliRunner

    from pudong_qa.cli import cli

    settings = _corpus(tmp_path, "report_gbk.txt")
    build_index(settings, model=model)
    before = (settings.index / "manifest.json").read_text(encoding="utf-8")
    _corpus(tmp_path, "corrupt.docx", "scanned.pdf")
    (settings.corpus / "notes.xyz").write_text("?", encoding="utf-8")
    monkeypatch.setenv("PUDONG_QA_ROOT", str(tmp_path))
    monkeypatch.setenv("PUDONG_QA_OCR", "0")
    res = CliRunner().invoke(cli, ["build", "--strict"])
    assert res.exit_code == 2 and "corrupt.docx" in res.stderr and "Traceback" not in res.stderr
    assert (settings.index / "manifest.json").read_text(encoding="utf-8") == before
    res = CliRunner().invoke(cli, ["build"])
    assert res.exit_code == 0, res.stderr
    for name, reason in (("corrupt.docx", "not a readable Word file"), ("scanned.pdf", "no text layer (scanned?)"),
                         ("notes.xyz", "unsupported file type")):
        assert f"skipped corpus/{name}: {reason}" in res.stderr


def test_service_adds_uploads_safely_and_removes_documents(tmp_path, model):
    from pudong_qa.errors import CorpusError
    from pudong_qa.service import DocumentExists, QAService

    settings = _corpus(tmp_path, "report_gbk.txt")
    service = QAService(settings, log=lambda _: None)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "..\\..\\evil.html").write_bytes((FIXTURES / "news_gbk.html").read_bytes())
    (uploads / "report_gbk.txt").write_bytes("另一份报告\n一、概况\n内容不同的报告。\n".encode("gbk"))
    with pytest.raises(DocumentExists, match="corpus/report_gbk.txt"):  # no silent overwrite: nothing stored
        service.add_documents([uploads / "..\\..\\evil.html", uploads / "report_gbk.txt"])
    assert not (settings.corpus / "evil.html").exists()
    assert (settings.corpus / "report_gbk.txt").read_bytes() == (FIXTURES / "report_gbk.txt").read_bytes()
    added = service.add_documents([uploads / "..\\..\\evil.html", uploads / "report_gbk.txt"], replace=True)
    assert added == ["corpus/evil.html", "corpus/report_gbk.txt"]  # no traversal; replaced only when asked
    (uploads / "x.exe").write_bytes(b"MZ")
    with pytest.raises(CorpusError, match="unsupported file type"):
        service.add_documents([uploads / "x.exe"])
    report = service.rebuild()
    assert report.documents == 2 and report.embedded > 0
    assert service.ask("八十岁以上老人吃饭有什么补贴")[1].results[0].citation.source == "corpus/evil.html"
    service.remove_document("corpus/evil.html")
    with pytest.raises(CorpusError):
        service.remove_document("../outside.txt")
    service.rebuild()
    assert {d["source"] for d in service.status().documents} == {"corpus/report_gbk.txt"}


def test_an_incremental_build_equals_a_full_build(tmp_path, model):
    def build(root, *names, glossary=True):
        settings = _corpus(root, *names)
        (settings.corpus / "notes.txt").write_text("笔记\n街道也推行一门式服务，群众少跑腿。\n", encoding="utf-8")
        if glossary:  # its quoted term becomes a jieba word, which changes how notes.txt is cut
            (settings.corpus / "glossary.txt").write_text("术语\n本区推行“一门式”受理。\n", encoding="utf-8")
        build_index(settings, model=model)
        return settings

    def tokens(settings):
        return dict(zip([p.text for p in load_index(settings.index).passages], load_tokens(settings.index / TOKENS)))

    settings = build(tmp_path / "a", "report_gbk.txt")
    assert "一门式" in tokens(settings)["街道也推行一门式服务，群众少跑腿。"]
    build(tmp_path / "a", "news_gbk.html")
    (settings.corpus / "glossary.txt").unlink()
    build_index(settings, model=model)
    assert "一门式" not in tokens(settings)["街道也推行一门式服务，群众少跑腿。"]
    fresh = build(tmp_path / "b", "report_gbk.txt", "news_gbk.html", glossary=False)
    assert list(read_passages(settings.index)) == list(read_passages(fresh.index))
    for name in ("userdict.json", "doc_freq.json"):
        assert (settings.index / name).read_text(encoding="utf-8") == (fresh.index / name).read_text(encoding="utf-8")
    assert load_tokens(settings.index / TOKENS) == load_tokens(fresh.index / TOKENS)
    a, b = load_index(settings.index).store, load_index(fresh.index).store
    rows = np.arange(len(a.passages))
    assert np.allclose(a.passage_vectors(rows), b.passage_vectors(rows), atol=1e-5)
    rows = np.arange(len(a.sentence_owner))
    assert np.allclose(a.sentence_vectors(rows), b.sentence_vectors(rows), atol=1e-5)
