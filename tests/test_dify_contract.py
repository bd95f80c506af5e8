"""``POST /retrieval`` as Dify itself sends it, over fake services (the door, not retrieval).

The shapes are taken from Dify's source (langgenius/dify), not only the spec page's examples:
- ``api/services/external_knowledge_service.py``, ``fetch_external_knowledge_retrieval``: the body
  is ``{"retrieval_setting": {"top_k": external_retrieval_parameters.get("top_k"), "score_threshold":
  <0.0 unless score_threshold_enabled>}, "query", "knowledge_id"}`` (so ``top_k`` is null when the
  app sets none), plus ``"metadata_condition": metadata_condition.model_dump()`` when there is one;
  the URL is ``f"{settings.get('endpoint')}/retrieval"`` (an endpoint saved with a trailing slash
  posts to ``//retrieval``); any status but 200 is taken as no records.
- ``api/core/rag/entities/metadata_entities.py``: ``MetadataCondition(logical_operator:
  Literal["and", "or"] | None = "and", conditions: list[Condition] | None = None)`` and
  ``Condition(name: str, comparison_operator: <contains … in, not in, =, ≠, >, <, ≥, ≤, before,
  after>, value: str | Sequence[str] | Sequence[int] | Sequence[float] | None | int | float)``; so
  ``model_dump()`` sends nulls for both fields. Dify splits an ``in`` value given as a comma-separated
  string, and compares numbers with ``before``/``after`` as ``<``/``>``.
"""

import pytest
from fake_office import fake_office
from fastapi.testclient import TestClient
from office import bearer

from pudong_qa.office.server import build_app
from pudong_qa.settings import DEFAULT_TOP_K

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def dify(tmp_path_factory):
    office, creds = fake_office(tmp_path_factory.mktemp("dify"))
    client = TestClient(build_app(office, page=False))
    return client, bearer(creds.reader_key)


def difys_body(query="管办评是什么", top_k=5, threshold=0.0, condition=None) -> dict:
    """The body ``fetch_external_knowledge_retrieval`` builds (metadata_condition only when there is one)."""
    body = {"retrieval_setting": {"top_k": top_k, "score_threshold": threshold}, "query": query,
            "knowledge_id": "corpus"}
    return body | ({"metadata_condition": condition} if condition is not None else {})


def condition(*conds, logical_operator="and") -> dict:
    """``MetadataCondition(...).model_dump()``: every field present, nulls included."""
    return {"logical_operator": logical_operator,
            "conditions": None if conds == (None,) else [{"name": n, "comparison_operator": op, "value": v}
                                                          for n, op, v in conds]}


def records(client, headers, body, path="/retrieval") -> list[dict]:
    res = client.post(path, json=body, headers=headers)
    assert res.status_code == 200, res.text
    return res.json()["records"]


def test_nulls_that_difys_model_sends_are_accepted(dify):
    client, h = dify
    every = records(client, h, difys_body())
    assert [r["metadata"]["paragraph"] for r in every] == [1, 2, 3, 4, 5]
    assert records(client, h, difys_body(condition=condition(None))) == every  # conditions: null
    null_join = condition(("paragraph", "≤", 2), logical_operator=None)  # logical_operator: null is "and"
    assert [r["metadata"]["paragraph"] for r in records(client, h, difys_body(condition=null_join))] == [1, 2]
    default = records(client, h, difys_body(top_k=None))  # an app without top_k: the server's default
    assert len(default) == DEFAULT_TOP_K
    assert records(client, h, difys_body(threshold=None)) == every


def test_in_splits_a_comma_separated_string_and_before_after_compare_numbers(dify):
    client, h = dify
    def paragraphs(*conds, **kw) -> list[int]:
        return [r["metadata"]["paragraph"] for r in records(client, h, difys_body(condition=condition(*conds, **kw)))]

    assert paragraphs(("source", "in", "corpus/report.txt,other.txt")) == [1, 2, 3, 4, 5]
    assert paragraphs(("source", "in", "other.txt, more.txt")) == []
    assert paragraphs(("source", "not in", "other.txt,corpus/report.txt")) == []
    assert paragraphs(("paragraph", "in", ["2", "4"])) == [2, 4]
    assert paragraphs(("paragraph", "before", 3)) == [1, 2]
    assert paragraphs(("paragraph", "after", 3)) == [4, 5]
    assert paragraphs(("paragraph", "before", 2), ("paragraph", "after", 4), logical_operator="or") == [1, 5]
    assert paragraphs(("title", "is", "测试报告"), ("paragraph", "≥", 5)) == [5]


def test_an_endpoint_saved_with_a_trailing_slash_still_answers(dify):
    client, h = dify
    every = records(client, h, difys_body())
    assert records(client, h, difys_body(), "/retrieval/") == every
    assert records(client, h, difys_body(), "http://testserver//retrieval") == every  # a bare "//" is a host


def test_refusals_are_difys_bodies_never_a_500(dify):
    client, h = dify
    for body, status in [(difys_body(threshold=False), 422),  # a boolean is not a number
                         (difys_body(top_k=21), 422),  # past PUDONG_QA_MAX_TOP_K: said, not clamped
                         (difys_body(query="问" * 2001), 422),
                         (difys_body() | {"knowledge_id": "nope"}, 404),
                         (difys_body(condition={"logical_operator": "xor", "conditions": None}), 422)]:
        res = client.post("/retrieval", json=body, headers=h)
        assert res.status_code == status and set(res.json()) == {"error_code", "error_msg"}, body
    unknown = client.post("/retrieval", json=difys_body() | {"knowledge_id": "nope"}, headers=h).json()
    assert unknown["error_code"] == 2001 and "corpus" in unknown["error_msg"]  # says which ones exist
    raw = '{"knowledge_id": "\\ud800", "query": "管", "retrieval_setting": {"top_k": 2, "score_threshold": 0.5}}'
    odd = client.post("/retrieval", content=raw.encode(), headers={**h, "Content-Type": "application/json"})
    assert odd.status_code == 404 and odd.json()["error_code"] == 2001
    nan = raw.replace('"\\ud800"', '"corpus"').replace("0.5", "NaN")
    assert client.post("/retrieval", content=nan.encode(), headers={**h, "Content-Type": "application/json"}
                       ).json()["error_code"] == 422
    surrogate = raw.replace('"\\ud800"', '"corpus"').replace('"管"', '"\\udc00管"')
    res = client.post("/retrieval", content=surrogate.encode(), headers={**h, "Content-Type": "application/json"})
    assert res.status_code == 422 and res.json()["error_code"] == 422
    assert records(client, h, difys_body(query="？？")) == []  # nothing to retrieve is no records, not an error
    assert records(client, h, difys_body(top_k=0)) == []
    for headers, status, code in [({}, 401, 1001), ({"Authorization": "Bearer nope"}, 403, 1002)]:
        res = client.post("http://testserver//retrieval", json=difys_body(), headers=headers)
        assert (res.status_code, res.json()["error_code"]) == (status, code)
