"""The served office's door, in-process (page and API on one app): every route refuses a request
without credentials, readers cannot change documents, uploads cannot escape the corpus, wrong
passwords are slowed down, keys are rate-limited, and no password or key reaches a log."""

import logging
import re
import time

import pytest
from fastapi.testclient import TestClient
from office import FAST, PASSWORDS, add_people, bearer, copy_project

from pudong_qa.errors import PudongQAError
from pudong_qa.office.auth import SESSION_COOKIE
from pudong_qa.office.keys import KeyStore
from pudong_qa.office.server import build_app, make_office
from pudong_qa.office.signin import PUBLIC
from pudong_qa.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def served(project, tmp_path_factory):
    root = copy_project(project[0], tmp_path_factory.mktemp("office-sec") / "site")
    settings = Settings(root=root, host="0.0.0.0", max_file_mb=10)
    creds = add_people(settings)
    office = make_office(settings, log=lambda _: None)
    office.access.users.hasher = FAST
    office.access.throttle.clock = Clock()
    with TestClient(build_app(office)) as client:
        yield office, client, creds


@pytest.fixture(scope="module")
def live(served):
    """The same app on a real loopback socket (uvicorn in a thread): what a client really sends."""
    import threading

    import uvicorn
    from conftest import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(served[1].app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def corpus_state(office) -> dict:
    root = office.settings.root
    return {p.relative_to(root.parent).as_posix(): p.stat().st_size for p in root.parent.rglob("*")
            if p.is_file() and "index" not in p.relative_to(root.parent).parts[:2] and "data" not in p.parts}


def sign_in(client, user: str, password: str | None = None):
    return client.post("/login", data={"username": user, "password": password or PASSWORDS[user]},
                       follow_redirects=False)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def every_route(app):
    """(method, path) of every HTTP route of the app: the API's (from its OpenAPI schema, which lists
    the included routers' routes), the plain ones, and the page's (Gradio's own app, mounted at /)."""
    from starlette.routing import Mount, Route

    apps = [app] + [r.app for r in app.routes if isinstance(r, Mount) and hasattr(r.app, "openapi")]
    out = {(m.upper(), concrete(p)) for a in apps for p, ops in a.openapi()["paths"].items() for m in ops}
    for route in app.routes:
        for r in route.routes if isinstance(route, Mount) else [route]:
            if isinstance(r, Route):
                out |= {(m, concrete(r.path)) for m in r.methods or {"GET"} if m != "HEAD"}
    return sorted(out)


def test_every_route_refuses_requests_without_credentials(served):
    office, client, _ = served
    routes = every_route(client.app)
    assert len(routes) > 80 and ("POST", "/api/ask") in routes and ("GET", "/") in routes
    assert ("POST", "/gradio_api/queue/join") in routes and ("GET", "/doc") in routes
    assert any(p.startswith("/gradio_api/") for _, p in routes)  # the page's own API is in the list
    anonymous = TestClient(client.app)
    for method, path in routes:
        if path not in PUBLIC:
            assert anonymous.request(method, path).status_code == 401, (method, path)
    assert [anonymous.get(p, follow_redirects=False).status_code for p in sorted(PUBLIC)] == [200, 200, 303]
    page = anonymous.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 401 and 'action="/login?next=/"' in page.text
    assert anonymous.get("/healthz").json() == {"status": "ok", "knowledge_bases": 1}


def test_readers_cannot_add_remove_or_rebuild(served):
    office, client, creds = served
    before = corpus_state(office)
    reader = TestClient(client.app)
    assert sign_in(reader, "alice").status_code == 303
    for who in (lambda **kw: client.request(headers=bearer(creds.reader_key), **kw), reader.request):
        upload = [("files", ("n.txt", "新文档\n正文。".encode(), "text/plain"))]
        add = who(method="POST", url="/api/documents", files=upload)
        remove = who(method="DELETE", url="/api/documents",
                     params={"source": "corpus/pudong-government-innovation-report.txt"})
        rebuild = who(method="POST", url="/api/rebuild")
        assert [add.status_code, remove.status_code, rebuild.status_code] == [403, 403, 403]
    assert corpus_state(office) == before
    refused = [e for e in office.audit.read() if e["action"] == "refused"]
    assert {e["who"] for e in refused} >= {"alice", "key:dify"}


@pytest.mark.parametrize("name", ["../../x.txt", "/tmp/abs.txt", "..\\..\\x.txt", "sub/x.txt", ".hidden.txt", ""])
def test_unsafe_upload_names_are_refused(served, name):
    office, client, creds = served
    before = corpus_state(office)
    res = client.post("/api/documents", files=[("files", (name, "正文。".encode(), "text/plain"))],
                      headers=bearer(creds.editor_key))
    assert res.status_code in (400, 422), res.text
    assert corpus_state(office) == before


def test_an_upload_through_a_symlink_is_refused(served, tmp_path):
    office, client, creds = served
    outside = tmp_path / "outside.txt"
    link = office.settings.corpus / "evil.txt"
    link.symlink_to(outside)  # a dangling link in the corpus folder, pointing out of it
    try:
        res = client.post("/api/documents", files=[("files", ("evil.txt", "临港报告\n一、概况\n滴水湖。".encode(),
                                                              "text/plain"))], headers=bearer(creds.editor_key))
        assert res.status_code == 400 and "link" in res.text
        assert not outside.exists()
    finally:
        link.unlink()


def _stream_upload(url: str, path: str, headers: dict, megabytes: int) -> tuple[bytes, int]:
    """Send a well-formed 200 MB file upload in 1 MiB chunks over a raw socket; return the first bytes
    of the response and how many chunks had been sent when it arrived (the server decided then)."""
    import select
    import socket
    from urllib.parse import urlparse

    host, port = urlparse(url).hostname, urlparse(url).port
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    chunk = "很长的报告。".encode() * (2**20 // 18)
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
                     f"Content-Type: multipart/form-data; boundary=b\r\n{head}\r\n".encode())
        part = b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n\r\n'
        sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        for n in range(megabytes):
            if select.select([sock], [], [], 0)[0]:
                return sock.recv(200), n
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:  # closed by the server
                break
        sock.settimeout(30)
        return sock.recv(200), megabytes


def test_a_200_mb_body_is_refused_before_it_is_read(served, live):
    office, client, creds = served
    before = corpus_state(office)
    for path in ("/api/documents", "/gradio_api/upload"):
        response, sent = _stream_upload(live, path, bearer(creds.editor_key), 200)
        assert response.startswith(b"HTTP/1.1 413") and sent < 80, (path, response[:40], sent)
    declared = client.post("/api/ask", content=b"{}", headers={**bearer(creds.reader_key),
                                                               "Content-Length": str(200 * 2**20)})
    assert declared.status_code == 413
    assert corpus_state(office) == before


def test_wrong_passwords_are_slowed_down(served):
    office, client, _ = served
    clock = office.access.throttle.clock
    browser = TestClient(client.app)
    codes = [sign_in(browser, "ed", f"guess-{n}").status_code for n in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    slowed = sign_in(browser, "ed")  # the right password, too soon: not even checked
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) >= 1 and "秒后再试" in slowed.text
    clock.t += 60
    ok = sign_in(browser, "ed")
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert browser.get("/api/whoami").json() == {"name": "ed", "role": "editor"}
    browser.get("/logout")
    assert browser.get("/api/status").status_code == 401
    assert sign_in(browser, "ed").headers["location"] == "/"
    away = browser.post("/login?next=//evil.example/x", data={"username": "ed", "password": PASSWORDS["ed"]},
                        follow_redirects=False)
    assert away.headers["location"] == "/"  # never sent to another site


def test_keys_are_rate_limited_and_revoked_at_once(served):
    office, client, creds = served
    h = bearer(creds.slow_key)  # 1 request a second, bursts of 2
    codes = [client.get("/api/status", headers=h).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = client.get("/api/status", headers=h)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "rate limit" in limited.json()["detail"] and "slow" in limited.json()["detail"]
    assert client.get("/api/status", headers=bearer(creds.reader_key)).status_code == 200  # per key
    token = KeyStore.for_data_dir(office.settings.data_dir).add("temp", "reader")
    assert client.get("/api/status", headers=bearer(token)).status_code == 200
    KeyStore.for_data_dir(office.settings.data_dir).revoke("temp")  # `pudong-qa keys revoke` elsewhere
    assert client.get("/api/status", headers=bearer(token)).status_code == 401


def test_no_password_or_key_reaches_a_log(served, caplog, capfd):
    office, client, creds = served
    caplog.set_level(logging.DEBUG)
    browser = TestClient(client.app)
    office.access.throttle.clock.t += 3600
    sign_in(browser, "alice", "wrong-password-xyz")
    sign_in(browser, PASSWORDS["ed"], PASSWORDS["ed"])  # a password typed into the name box
    token = sign_in(browser, "alice").cookies.get(SESSION_COOKIE) or browser.cookies.get(SESSION_COOKIE)
    client.post("/api/ask", json={"question": "管办评 是什么"}, headers=bearer(creds.reader_key))
    client.get("/api/status", headers=bearer("pqa_" + "z" * 43))
    client.post("/api/ask-many", json={"questions": ["管办评 是什么"]}, headers=bearer(creds.editor_key))
    out, err = capfd.readouterr()
    data = "".join(p.read_text(encoding="utf-8") for p in office.settings.data_dir.iterdir() if p.is_file())
    everything = "\n".join([caplog.text, out, err, data])
    assert token and "signin-failed" in data
    for secret in (*PASSWORDS.values(), "wrong-password-xyz", creds.reader_key, creds.editor_key, creds.slow_key,
                   "pqa_" + "z" * 43, token):
        assert secret not in everything


def test_sign_in_is_free_on_loopback_asked_on_request_and_required_beyond(tmp_path):
    class Fake:
        def __init__(self, settings, log=None):
            self.settings, self.rebuilding = settings, False

    (tmp_path / "corpus").mkdir()
    local = make_office(Settings(root=tmp_path), service_factory=Fake, log=lambda _: None)
    client = TestClient(build_app(local, page=False))
    assert client.get("/api/whoami").json() == {"name": "local", "role": "editor"}
    assert client.get("/api/whoami", headers=bearer("pqa_not-a-key")).status_code == 401  # a bad key is still bad
    with pytest.raises(PudongQAError, match="users add"):
        make_office(Settings(root=tmp_path, host="0.0.0.0"), service_factory=Fake)
    with pytest.raises(PudongQAError, match="users add"):
        make_office(Settings(root=tmp_path, require_signin=True), service_factory=Fake)
    add_people(Settings(root=tmp_path))
    asked = make_office(Settings(root=tmp_path, require_signin=True), service_factory=Fake, log=lambda _: None)
    assert TestClient(build_app(asked, page=False)).get("/api/whoami").status_code == 401


# ---------------------------------------------------------------- the page's own handlers


class Req:
    """What Gradio hands a handler: ``username`` is the principal's id (office/server.py's auth_dependency)."""

    def __init__(self, username: str | None) -> None:
        self.username = username


def _page(office):
    from pudong_qa.office.page_access import PageAccess
    from pudong_qa.web import ChatPage

    _, service = office.kbs.get()
    return ChatPage(service, PageAccess(office, "corpus"))


def test_the_page_refuses_readers_on_the_server(served, tmp_path):
    office, _, _ = served
    page = _page(office)
    upload = tmp_path / "new.txt"
    upload.write_text("新报告\n一、概况\n新区的湖面积约5平方公里。\n", encoding="utf-8")
    before = corpus_state(office)
    reader, key = Req("alice"), Req("key:dify")
    for who in (reader, key, Req(None), Req("nobody")):
        assert "只有编辑" in page.add_documents([str(upload)], progress=lambda *a, **k: None, request=who)
        assert "只有编辑" in page.remove_document("corpus/pudong-government-innovation-report.txt",
                                                progress=lambda *a, **k: None, request=who)
        assert "只有编辑" in page.rebuild(progress=lambda *a, **k: None, request=who)
    assert corpus_state(office) == before
    assert page.index_tab(reader)["visible"] is False and page.index_tab(Req("ed"))["visible"] is True
    assert "alice(读者)" in page.whoami(reader) and 'href="/logout"' in page.whoami(reader)
    assert page.whoami(key) == ""
    assert "重建完成" in page.rebuild(progress=lambda *a, **k: None, request=Req("ed"))
    log = [(e["who"], e["action"], e.get("detail", {}).get("via")) for e in office.audit.read()]
    assert ("alice", "refused", "page") in log and ("ed", "rebuild", "page") in log


def test_feedback_and_batches_record_who(served, tmp_path):
    import json

    from pudong_qa.feedback import read_feedback

    office, _, _ = served
    page = _page(office)

    class Like:
        index, liked = 1, True

    reply = page.chat("管办评 是什么", [])
    history = [{"role": "user", "content": "管办评 是什么"}, {"role": "assistant", "content": reply}]
    page.feedback(history, {}, Like(), request=Req("alice"))
    assert read_feedback(office.settings)[-1]["who"] == "alice"
    questions = tmp_path / "qs.txt"
    questions.write_text("管办评 是什么\n浦东新区下辖多少个街道办事处\n", encoding="utf-8")
    page.batch_view(str(questions), 3, progress=None, request=Req("alice"))
    batch = [e for e in office.audit.read() if e["action"] == "batch"][-1]
    assert batch["who"] == "alice" and batch["detail"]["questions"] == 2 and batch["detail"]["via"] == "page"
    assert json.dumps(batch, ensure_ascii=False).count("qs") >= 1  # the download files are named


def test_the_page_api_refuses_a_reader_session(served, live):
    from gradio_client import Client

    office, client, _ = served
    reader = TestClient(client.app)
    cookie = sign_in(reader, "alice").cookies.get(SESSION_COOKIE) or reader.cookies.get(SESSION_COOKIE)
    before = corpus_state(office)
    page = Client(live + "/", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, verbose=False)
    assert "只有编辑" in page.predict(api_name="/rebuild")
    assert corpus_state(office) == before
