"""The HTTP API and Dify's External Knowledge API, in-process over a private copy of the built
project served with sign-in: the same answers as the CLI, the contract's fields, Dify's request and
response examples, and an editor adding and removing a document."""

import json

import pytest
from fastapi.testclient import TestClient
from office import FAST, add_people, bearer, contract, copy_project, dify_request, own_questions, same_answer

from pudong_qa.office.server import build_app, make_office
from pudong_qa.results import VERDICTS
from pudong_qa.settings import Settings

# Dify's documented examples (docs: use-dify/knowledge/external-knowledge-api): the request, a response
# record and an error body. Our answers must have the same shape.
SPEC_REQUEST = {"knowledge_id": "your-knowledge-id", "query": "your question",
                "retrieval_setting": {"top_k": 2, "score_threshold": 0.5}}
SPEC_RECORD = {"metadata": {"path": "s3://dify/knowledge.txt", "description": "dify knowledge document"},
               "score": 0.98, "title": "knowledge.txt", "content": "This is the document for external knowledge."}
SPEC_ERROR = {"error_code": 1001,
              "error_msg": "Invalid Authorization header format. Expected 'Bearer <api-key>' format."}
META = {"source", "title", "section", "paragraph", "start", "end", "answer"}


@pytest.fixture(scope="module")
def office(project, tmp_path_factory):
    root = copy_project(project[0], tmp_path_factory.mktemp("office-api"))
    settings = Settings(root=root, host="0.0.0.0")  # beyond loopback: sign-in required
    creds = add_people(settings)
    served = make_office(settings, log=lambda _: None)
    served.access.users.hasher = FAST
    return served, TestClient(build_app(served, page=False)), creds


def test_answers_are_the_clis(office, run, tmp_path):
    _, client, creds = office
    questions = own_questions()
    (tmp_path / "q.txt").write_text("\n".join(questions) + "\n", encoding="utf-8")
    cli = [json.loads(x) for x in run("ask", "--questions", str(tmp_path / "q.txt"), "--format", "jsonl").stdout
           .splitlines()]
    h = bearer(creds.reader_key)
    asked = [client.post("/api/ask", json={"question": q}, headers=h).json() for q in questions]
    assert all(same_answer(a, c) for a, c in zip(asked, cli, strict=True))
    many = client.post("/api/ask-many", json={"questions": questions}, headers=bearer(creds.reader_key)).json()
    assert [contract(r) for r in many["records"]] == cli and many["kb"] == "corpus"  # the same batches: exact


def test_records_carry_verdict_query_and_knowledge_base(office):
    _, client, creds = office
    r = client.post("/api/ask", json={"question": "管办评 是什么", "top_k": 2}, headers=bearer(creds.reader_key)).json()
    assert r["answered"] and r["verdict"] == "answered" and r["kb"] == "corpus" and r["query"]
    assert len(r["results"]) == 2 and set(r["results"][0]["citation"]) >= {"source", "title", "section", "paragraph",
                                                                            "start", "end"}
    refused = client.post("/api/ask", json={"question": "明天去北京的高铁票怎么买"},
                          headers=bearer(creds.reader_key)).json()
    assert not refused["answered"] and refused["verdict"] in VERDICTS and refused["verdict"] != "answered"
    follow = client.post("/api/ask", json={"question": "它是什么时候组建的?", "previous": ["医疗联合体怎么运作"]},
                         headers=bearer(creds.reader_key)).json()
    assert "医疗联合体" in follow["query"]
    assert client.post("/api/ask", json={"question": "？？"}, headers=bearer(creds.reader_key)).status_code == 422
    assert client.post("/api/ask", json={"question": "x", "kb": "nope"}, headers=bearer(creds.reader_key)).status_code \
        == 404
    many = client.post("/api/ask-many", json={"questions": ["管办评 是什么", "", "？？"]},
                       headers=bearer(creds.reader_key)).json()["records"]
    assert [(m["answered"], m.get("error")) for m in many][:2] == [(True, None), (False, "empty question")]


def test_documents_status_and_knowledge_bases(office):
    _, client, creds = office
    h = bearer(creds.reader_key)
    docs = client.get("/api/documents", headers=h).json()
    assert docs["kb"] == "corpus" and docs["documents"][0]["title"] == "镇政府干部到上海浦东挂职的学习报告"
    status = client.get("/api/status", headers=h).json()
    assert status["passages"] > 0 and status["stale"] == [] and status["rebuilding"] is False
    assert client.get("/api/knowledge-bases", headers=h).json()[0] | {"built_at": "?"} == {
        "id": "corpus", "default": True, "documents": 1, "passages": status["passages"], "built_at": "?",
        "rebuilding": False}
    assert client.get("/openapi.json", headers=h).json()["paths"].keys() >= {"/api/ask", "/retrieval"}


def test_dify_spec_examples(office):
    _, client, creds = office
    h = bearer(creds.reader_key)
    unknown = client.post("/retrieval", json=SPEC_REQUEST, headers=h)  # the example's id is not a knowledge base here
    assert unknown.status_code == 404 and unknown.json().keys() == SPEC_ERROR.keys()
    assert unknown.json()["error_code"] == 2001
    found = client.post("/retrieval", json=SPEC_REQUEST | {"knowledge_id": "corpus", "query": "管办评 是什么"},
                        headers=h)
    assert found.status_code == 200 and list(found.json()) == ["records"]
    records = found.json()["records"]
    assert 1 <= len(records) <= 2
    for rec in records:
        assert rec.keys() == SPEC_RECORD.keys()
        for key, value in SPEC_RECORD.items():
            assert isinstance(rec[key], type(value)), key
        assert 0.5 <= rec["score"] <= 1 and rec["metadata"].keys() >= META and rec["metadata"]["kb"] == "corpus"
    assert [r["score"] for r in records] == sorted((r["score"] for r in records), reverse=True)
    asked = client.post("/api/ask", json={"question": "管办评 是什么", "top_k": 2}, headers=h).json()
    assert records[0]["content"] == asked["results"][0]["text"]
    assert records[0]["metadata"]["answer"] == asked["results"][0]["answer"]


def test_dify_refuses_honestly_and_filters(office):
    _, client, creds = office
    h = bearer(creds.reader_key)
    ask = lambda **kw: client.post("/retrieval", json=dify_request("corpus", **kw), headers=h).json()  # noqa: E731
    assert ask(query="明天去北京的高铁票怎么买", threshold=0.0) == {"records": []}  # the report does not answer
    assert ask(query="？？", threshold=0.0) == {"records": []}
    assert ask(query="管办评 是什么", top_k=0) == {"records": []}
    every = ask(query="浦东新区下辖多少个街道办事处", top_k=5, threshold=0.0)["records"]
    assert len(every) == 5 and all(0 <= r["score"] <= 1 for r in every)
    high = ask(query="浦东新区下辖多少个街道办事处", top_k=5, threshold=every[1]["score"])["records"]
    assert high == [r for r in every if r["score"] >= every[1]["score"]]
    cond = {"logical_operator": "and", "conditions": [
        {"name": ["section"], "comparison_operator": "contains", "value": "浦东新区概况"},
        {"name": "paragraph", "comparison_operator": "≤", "value": 3}]}
    filtered = client.post("/retrieval", json=dify_request("corpus", "浦东新区下辖多少个街道办事处", 5, 0.0)
                           | {"metadata_condition": cond}, headers=h).json()["records"]
    assert filtered and all("浦东新区概况" in r["metadata"]["section"] and r["metadata"]["paragraph"] <= 3
                            for r in filtered)
    cond["conditions"][0]["comparison_operator"] = "not contains"
    body = dify_request("corpus", "浦东新区下辖多少个街道办事处", 5, 0.0) | {"metadata_condition": cond}
    others = client.post("/retrieval", json=body, headers=h).json()["records"]
    assert all("浦东新区概况" not in r["metadata"]["section"] for r in others)


def test_dify_auth_errors_are_difys(office):
    _, client, creds = office
    body = dify_request("corpus", "管办评 是什么")
    for headers, status, code in [({}, 401, 1001), ({"Authorization": "Basic YWxpY2U6eA=="}, 401, 1001),
                                  ({"Authorization": "Bearer"}, 401, 1001),
                                  ({"Authorization": "Bearer pqa_not-a-key"}, 403, 1002)]:
        res = client.post("/retrieval", json=body, headers=headers)
        assert (res.status_code, res.json()["error_code"]) == (status, code)
        assert res.json().keys() == SPEC_ERROR.keys()


def test_an_editor_adds_and_removes_a_document(office):
    served, client, creds = office
    h = bearer(creds.editor_key)
    text = "临港新片区报告\n一、概况\n临港新片区的滴水湖面积约5.56平方公里,是人工湖。\n".encode()
    added = client.post("/api/documents", files=[("files", ("lingang.txt", text, "text/plain"))], headers=h)
    assert added.status_code == 200, added.text
    assert added.json()["added"] == ["corpus/lingang.txt"] and added.json()["rebuild"]["documents"] == 2
    answer = client.post("/api/ask", json={"question": "滴水湖面积多大"}, headers=bearer(creds.reader_key)).json()
    assert answer["answered"] and answer["results"][0]["citation"]["source"] == "corpus/lingang.txt"
    bad = client.post("/api/documents", files=[("files", ("x.exe", b"MZ", "application/octet-stream"))], headers=h)
    assert bad.status_code == 400 and bad.json()["detail"]["refused"][0]["name"] == "x.exe"
    removed = client.delete("/api/documents", params={"source": "corpus/lingang.txt"}, headers=h)
    assert removed.status_code == 200 and removed.json()["rebuild"]["documents"] == 1
    assert client.delete("/api/documents", params={"source": "corpus/lingang.txt"}, headers=h).status_code == 404
    rebuilt = client.post("/api/rebuild", headers=h)
    assert rebuilt.status_code == 200 and rebuilt.json()["documents"] == 1
    log = [(e["who"], e["action"], e["outcome"]) for e in served.audit.read()]
    for action in ("add", "remove", "rebuild"):
        assert ("key:ops", action, "ok") in log
    assert ("key:ops", "add", "refused") in log
