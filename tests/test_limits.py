"""The ask contract (``asking.py``) and the API's edges, over fake services (no model): one set of
limits from the settings, refused quickly with a code that names the limit (never cut short or
clamped); odd input (lone surrogates, NaN, not JSON) a 4xx, never a 500; errors with a stable code
and a Chinese message (English when asked); wrong methods 405; refused requests in the audit log."""

import json
import time

import pytest
from fake_office import fake_office
from fastapi.testclient import TestClient
from office import bearer
from starlette.responses import PlainTextResponse

from pudong_qa.asking import answer_record, check_batch, error_record, question_problem, top_k_for
from pudong_qa.errors import PudongQAError
from pudong_qa.office.server import build_app, max_body
from pudong_qa.settings import DEFAULT_TOP_K, Settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def code_of(call) -> str:
    with pytest.raises(PudongQAError) as raised:
        call()
    return raised.value.code


def test_the_limits_are_settings_each_with_its_variable(tmp_path):
    env = {"PUDONG_QA_TOP_K": "4", "PUDONG_QA_MAX_TOP_K": "6", "PUDONG_QA_MAX_BATCH": "3",
           "PUDONG_QA_MAX_QUESTION_CHARS": "10", "PUDONG_QA_MAX_REQUEST_CHARS": "25"}
    s = Settings.from_env(env, root=tmp_path)
    assert (s.top_k, s.max_top_k, s.max_batch, s.max_question_chars, s.max_request_chars) == (4, 6, 3, 10, 25)
    assert Settings(root=tmp_path).top_k == DEFAULT_TOP_K
    assert top_k_for(s) == 4 and top_k_for(s, 6) == 6
    for bad in (0, 7, -1, True):
        assert code_of(lambda bad=bad: top_k_for(s, bad)) == "top_k_range"
    assert code_of(lambda: check_batch(["问"] * 4, s)) == "batch_too_large"
    assert code_of(lambda: check_batch(["一二三四五六七八九"] * 3, s)) == "request_too_large"
    problems = check_batch(["管办评", "", "？？"], s) + check_batch(["问" * 11], s)
    assert [p and p.code for p in problems] == [None, "empty_question", "no_words", "question_too_long"]
    assert question_problem("\ud800 管", s).code == "lone_surrogate"
    for bad in ({"PUDONG_QA_TOP_K": "7"}, {"PUDONG_QA_MAX_BATCH": "0"}):  # refused when read, not at each request
        with pytest.raises(PudongQAError, match="max_top_k"):
            Settings.from_env(env | bad, root=tmp_path)


def test_records_are_one_shape_for_every_door(tmp_path):
    from fake_office import response

    resp = response("管办评是什么", 2)
    rec = answer_record(resp, "corpus", "管办评")
    assert rec == {**resp.to_dict(), "verdict": "answered", "query": "管办评", "kb": "corpus"}
    problem = question_problem("", Settings(root=tmp_path))
    assert error_record("", problem) == {"question": "", "answered": False, "verdict": "not_found", "expansions": [],
                                         "results": [], "error": "empty question"}
    assert list(error_record("", problem))[:5] == list(resp.to_dict())  # the same fields, in the same order
    assert error_record("\ud800x", problem, "corpus")["question"] == "\ufffdx"  # writable as UTF-8
    assert json.dumps(error_record("\ud800x", problem, "corpus"), ensure_ascii=False).encode("utf-8")


@pytest.fixture()
def served(tmp_path):
    office, creds = fake_office(tmp_path, max_batch=50, max_question_chars=100, max_request_chars=2000,
                                max_file_mb=0.1)
    app = build_app(office, page=False)
    return office, app, TestClient(app), creds


def raw(client, path: str, text: str, key: str, **headers):
    """POST a JSON text as written (a lone surrogate escape or NaN survives; json= would refuse to send it)."""
    return client.post(path, content=text.encode("utf-8"), headers={**bearer(key), "Content-Type": "application/json",
                                                                   **headers})


def test_odd_input_is_a_4xx_never_a_500(served):
    office, _, client, creds = served
    key = creds.reader_key
    cases = [("/api/ask", '{"question": "\\ud800 管"}', 422, "lone_surrogate"),
             ("/api/ask", '{"question": "管", "kb": "\\ud800"}', 404, "unknown_kb"),
             ("/api/ask", '{"question": "管", "previous": ["\\udfff"]}', 422, "lone_surrogate"),
             ("/api/ask", '{"question": "管", "top_k": NaN}', 422, "invalid_request"),
             ("/api/ask", '{"question": "管", "top_k": Infinity}', 422, "invalid_request"),
             ("/api/ask", '{"question": "管", "top_k": 1e400}', 422, "invalid_request"),
             ("/api/ask", '{"question": "', 422, "not_json_body"),
             ("/api/ask", '{"question": ""}', 422, "invalid_request"),
             ("/api/ask-many", '{"questions": ["管"], "top_k": -Infinity}', 422, "invalid_request"),
             ("/api/ask-many", '{"questions": ["管"], "kb": "\\ud800"}', 404, "unknown_kb")]
    for path, text, status, code in cases:
        res = raw(client, path, text, key)
        assert (res.status_code, res.json()["code"]) == (status, code), text
        assert res.json()["message"] and "\ud800" not in res.text
    many = raw(client, "/api/ask-many", '{"questions": ["\\ud800 管", "管办评"]}', key)
    assert many.status_code == 200
    first, second = many.json()["records"]
    assert first["question"] == "\ufffd 管" and first["error"].startswith("the question holds a broken character")
    assert second["answered"] and second["kb"] == "corpus"


def test_limits_are_refused_quickly_naming_the_limit(served):
    office, _, client, creds = served
    h = bearer(creds.reader_key)
    service = office.kbs.services["corpus"]
    asked = service.asked
    for body, status, code, limit in [
            ({"questions": ["管办评是什么"] * 51}, 413, "batch_too_large", "50"),
            ({"questions": ["问" * 99] * 21}, 413, "request_too_large", "2000"),
            ({"questions": ["管"], "top_k": 21}, 422, "top_k_range", "20")]:
        res = client.post("/api/ask-many", json=body, headers=h)
        assert (res.status_code, res.json()["code"]) == (status, code) and limit in res.json()["message"]
    assert service.asked == asked  # refused before any question was answered (how fast: a benchmark's job)
    long = client.post("/api/ask", json={"question": "问" * 101}, headers=h)
    assert (long.status_code, long.json()["code"]) == (422, "question_too_long") and "100" in long.json()["detail"]
    one = client.post("/api/ask-many", json={"questions": ["管办评是什么", "问" * 101]}, headers=h).json()["records"]
    assert one[0]["answered"] and one[1]["error"].startswith("the question has 101 characters")
    assert len(client.post("/api/ask", json={"question": "管办评"}, headers=h).json()["results"]) == DEFAULT_TOP_K


def test_errors_have_a_code_and_chinese_or_english_words(served):
    _, _, client, creds = served
    zh = client.post("/api/ask", json={"question": "管", "top_k": 99}, headers=bearer(creds.reader_key))
    en = client.post("/api/ask", json={"question": "管", "top_k": 99},
                     headers={**bearer(creds.reader_key), "Accept-Language": "en-GB,en;q=0.9"})
    assert zh.json()["code"] == en.json()["code"] == "top_k_range"
    assert "整数" in zh.json()["message"] and en.json()["message"].startswith("top_k must be")
    anonymous = client.get("/api/status")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "signin_needed"
    assert "登录" in anonymous.json()["message"] and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    refused = client.post("/api/rebuild", headers={**bearer(creds.reader_key), "Accept-Language": "en"})
    assert refused.status_code == 403 and refused.json()["code"] == "role_refused"
    assert refused.json()["message"] == "reader may not rebuild: an editor's sign-in or key is needed"


def test_wrong_methods_on_api_paths_are_405_even_under_the_page(served):
    _, app, _, creds = served
    app.mount("/", PlainTextResponse("the page"))  # as the chat page is mounted, catching every other path
    client = TestClient(app)
    h = bearer(creds.reader_key)
    for method, path, allow in [("PUT", "/api/ask", "POST"), ("PATCH", "/api/ask-many", "POST"),
                                ("GET", "/api/ask", "POST"), ("DELETE", "/api/status", "GET"),
                                ("GET", "/retrieval", "POST"), ("OPTIONS", "/retrieval", "POST"),
                                ("PUT", "/api/documents", "GET, POST, DELETE")]:
        res = client.request(method, path, headers=h)
        assert (res.status_code, res.headers["Allow"]) == (405, allow), (method, path)
        if path.startswith("/api"):
            assert res.json()["code"] == "method_not_allowed"
    assert client.get("/api/no-such-thing", headers=h).status_code == 404
    assert client.get("/", headers=h).text == "the page"


def test_refused_requests_are_audited_per_key_without_the_body(served):
    office, app, client, creds = served
    h = bearer(creds.slow_key)  # 1 request a second, bursts of 2
    secret = "这句话不该进入审计日志"
    statuses = [client.post("/api/ask", json={"question": secret}, headers=h).status_code for _ in range(4)]
    assert 429 in statuses
    big = client.post("/api/ask", content=b"x" * (max_body(office.settings) + 1),
                      headers={**bearer(creds.reader_key), "Content-Type": "application/json"})
    assert big.status_code == 413 and big.json()["code"] == "body_too_large"
    refused = [e for e in office.audit.read() if e["action"] == "refused"]
    assert {(e["who"], e["detail"]["status"]) for e in refused} >= {("key:slow", 429), ("key:dify", 413)}
    assert secret not in office.audit.path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang,said", [("zh_CN.UTF-8", "密码至少需要 8 个字符"),
                                       ("C.UTF-8", "the password needs at least 8 characters")])
def test_command_line_problems_have_a_code_and_speak_the_locale(tmp_path, monkeypatch, lang, said):
    from click.testing import CliRunner

    from pudong_qa.cli import cli
    from pudong_qa.office.users import check_password

    assert code_of(lambda: check_password("short")) == "short_password"
    for var in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", lang)
    monkeypatch.setenv("PUDONG_QA_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["users", "add", "bob", "--password-stdin"], input="short\n")
    assert result.exit_code == 2 and said in result.output


def test_a_misspelt_action_fails_where_a_route_names_it():
    from pudong_qa.office.auth import Action
    from pudong_qa.office.deps import allow

    assert allow(Action.ASK) and allow("rebuild")
    with pytest.raises(ValueError, match="aks"):
        allow("aks")


def test_a_long_batch_as_a_job_to_poll(served):
    office, _, client, creds = served
    h = bearer(creds.reader_key)
    questions = ["管办评是什么", "", "不知道的事"] * 5
    job = client.post("/api/jobs", json={"questions": questions, "top_k": 2}, headers=h)
    assert job.status_code == 202  # accepted, to be answered later: the request does not wait for the batch
    assert job.json()["total"] == 15 and job.json()["state"] in ("queued", "running", "done")
    deadline = time.monotonic() + 30
    while (polled := client.get(f"/api/jobs/{job.json()['id']}", headers=h).json())["state"] != "done" \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    direct = client.post("/api/ask-many", json={"questions": questions, "top_k": 2}, headers=h).json()
    assert polled["done"] == 15 and polled["records"] == direct["records"]
    other = client.get(f"/api/jobs/{job.json()['id']}", headers=bearer(creds.editor_key))  # not theirs
    assert other.status_code == 404 and other.json()["code"] == "unknown_job"
    too_many = client.post("/api/jobs", json={"questions": ["管"] * 51}, headers=h)
    assert (too_many.status_code, too_many.json()["code"]) == (413, "batch_too_large")
    assert any(e["detail"].get("via") == "api-job" for e in office.audit.read() if e["action"] == "batch")


def test_jobs_wait_their_turn_and_a_full_queue_says_so(tmp_path):
    from fake_office import FakeService

    from pudong_qa.office.jobs import Jobs

    service = FakeService(Settings(root=tmp_path), delay=0.05)
    jobs = Jobs(max_waiting=1)
    first = jobs.submit("alice", "corpus", service, ["管办评"] * 4, None)
    deadline = time.monotonic() + 10
    while first.state == "queued" and time.monotonic() < deadline:  # the one worker has taken it
        time.sleep(0.005)
    second = jobs.submit("alice", "corpus", service, ["管办评"] * 2, None)
    assert code_of(lambda: jobs.submit("alice", "corpus", service, ["管办评"], None)) == "jobs_busy"
    while jobs.get(second.id, "alice").state != "done" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert first.state == second.state == "done" and len(second.records) == 2 and service.asked == 6
