"""The served OpenAPI tells the truth: schemathesis, with every check it has, against
``/openapi.json`` of an office over fake services (the door, not retrieval; bounded in examples);
a bearer security scheme, every returned status documented, the limits in the schema; and ``/docs``
that works offline (Swagger UI's assets served from an installed package)."""

import subprocess
import sys

import pytest
from fake_office import fake_office
from fastapi.testclient import TestClient
from office import bearer

from pudong_qa.office.server import build_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EXAMPLES = 12  # per operation and generation mode: the whole run stays within seconds
# Schema-valid requests the server may still refuse, each for a documented reason: 400 (an upload no
# reader can index: its content, not its shape), 401/403 (no key, or the wrong role), 404 (a knowledge
# base id that does not exist), 409 (a rebuild already running), 413 (the request's characters in all,
# which JSON Schema cannot state), 422 (a question without any word). Schema-violating ones may also get
# 413: a batch past PUDONG_QA_MAX_BATCH questions (maxItems) is too large a request, said as such.
# 429 too: POST /api/jobs says jobs_busy once four jobs wait, and schemathesis submits faster than a
# slow machine finishes them (valid data, refused for now, as documented).
ACCEPTABLE = ["2xx", "400", "401", "403", "404", "409", "413", "422", "429"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    office, creds = fake_office(tmp_path_factory.mktemp("openapi"))
    return office, build_app(office, page=False), creds


@pytest.fixture(scope="module")
def live(served):
    """The app on a free loopback port (uvicorn in a thread), for a client that speaks HTTP."""
    import threading
    import time

    import uvicorn
    from conftest import free_port

    _, app, _ = served
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_schemathesis_all_checks(served, live, tmp_path):
    """``st run --checks all`` against the served schema: no 500, every status and body as documented,
    schema-invalid data refused, wrong methods 405, auth enforced."""
    _, _, creds = served
    config = tmp_path / "schemathesis.toml"
    statuses = ", ".join(f'"{s}"' for s in ACCEPTABLE)
    config.write_text(f"[checks.positive_data_acceptance]\nexpected-statuses = [{statuses}]\n"
                      "[checks.negative_data_rejection]\nexpected-statuses = "
                      '["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]\n',
                      encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
                          f"{live}/openapi.json", "--checks", "all", "--max-examples", str(EXAMPLES), "--seed", "1",
                          "-H", f"Authorization: Bearer {creds.editor_key}", "--no-color",
                          "--phases", "examples,coverage,fuzzing"],
                         capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout


def test_security_statuses_and_limits_are_declared(served):
    office, app, creds = served
    spec = TestClient(app).get("/openapi.json", headers=bearer(creds.reader_key)).json()
    assert spec["components"]["securitySchemes"]["bearer"] == spec["components"]["securitySchemes"]["bearer"] | {
        "type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearer": []}] and spec["paths"]["/healthz"]["get"]["security"] == []
    for path in ("/api/ask", "/api/ask-many", "/retrieval"):
        assert set(spec["paths"][path]["post"]["responses"]) >= {"200", "401", "403", "404", "413", "422", "429"}
    ask = spec["components"]["schemas"]["AskBody"]["properties"]
    assert ask["question"]["minLength"] == 1 and ask["question"]["maxLength"] == office.settings.max_question_chars
    assert ask["top_k"]["anyOf"][0]["maximum"] == office.settings.max_top_k
    assert spec["components"]["schemas"]["AskManyBody"]["properties"]["questions"]["maxItems"] == \
        office.settings.max_batch
    error = spec["paths"]["/api/ask"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorBody"}


def test_docs_work_without_the_internet(served):
    _, app, creds = served
    client = TestClient(app)
    page = client.get("/docs", headers=bearer(creds.reader_key))
    assert page.status_code == 200 and "cdn" not in page.text.lower() and "http" not in page.text.split("<body>")[1]
    for asset, kind in [("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css")]:
        assert f"/docs/assets/{asset}" in page.text
        got = client.get(f"/docs/assets/{asset}", headers=bearer(creds.reader_key))
        assert got.status_code == 200 and kind in got.headers["content-type"] and len(got.content) > 50_000
    assert client.get("/docs/assets/../../etc/passwd", headers=bearer(creds.reader_key)).status_code == 404


@pytest.mark.browser
def test_docs_render_in_a_browser_that_reaches_no_other_host(served, live):
    """Swagger UI draws every operation and the Authorize button with every request outside this
    server blocked (a machine without internet)."""
    from pathlib import Path

    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("Chromium not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    _, _, creds = served
    outside = []

    def only_here(route):
        if route.request.url.startswith(live):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(extra_http_headers=bearer(creds.reader_key)).new_page()
            page.route("**/*", only_here)
            page.goto(f"{live}/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            operations, authorize = page.locator(".opblock").count(), page.locator(".btn.authorize").count()
        finally:
            browser.close()
    assert operations >= 11 and authorize == 1 and outside == []
