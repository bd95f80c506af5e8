"""An office at work, on loopback: 32 API clients asking 300 questions each, 4 page users, and one
editor adding a document mid-way — against `pudong-qa serve --require-signin` in its own process.

Every answer must be the CLI's (`pudong-qa ask --questions`) for the index that answered it: the old
index before the add started, the new one (built by the CLI from the same files) after its rebuild
swapped in, either in between; and the new document must be found by everyone once it is in.
Bounded in count and time; figures go to test-artifacts/office-load.json (docs/reliability.md).
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from html import unescape

import pytest
from conftest import ROOT, free_port
from office import PASSWORDS, add_people, copy_project, own_questions, same_answer

from pudong_qa.office.keys import KeyStore
from pudong_qa.settings import Settings

pytestmark = pytest.mark.load

API_CLIENTS, PER_CLIENT = 32, 300
PAGE_USERS, PER_PAGE_USER = 4, 25
ADD_AFTER = 0.25  # the editor adds the document once this share of the API questions is answered
TIME_LIMIT_S = 900
CLI = [sys.executable, "-c", "from pudong_qa.cli import main; main()"]
NEW_DOC = "临港新片区报告\n一、概况\n临港新片区的滴水湖面积约5.56平方公里,是一座人工湖。\n"
NEW_QUESTION = "滴水湖的面积是多少"


def _env(root) -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("PUDONG_QA_")} | {"PUDONG_QA_ROOT": str(root)}


def _cli_answers(root, questions: list[str]) -> dict[str, dict]:
    (root / "load-questions.txt").write_text("\n".join(questions) + "\n", encoding="utf-8")
    out = subprocess.run([*CLI, "ask", "--questions", str(root / "load-questions.txt"), "--format", "jsonl"],
                         env=_env(root), capture_output=True, text=True, timeout=600, check=True).stdout
    return {q: json.loads(line) for q, line in zip(questions, out.splitlines())}


@pytest.fixture(scope="module")
def office_site(project, tmp_path_factory):
    """(root served, CLI answers on the old index, CLI answers on the index with the new document)."""
    base = tmp_path_factory.mktemp("office-load")
    served = copy_project(project[0], base / "served")
    after = copy_project(project[0], base / "after")
    (after / "corpus" / "lingang.txt").write_text(NEW_DOC, encoding="utf-8")
    subprocess.run([*CLI, "build"], env=_env(after), capture_output=True, timeout=600, check=True)  # incremental
    questions = [*own_questions(), NEW_QUESTION]
    old, new = _cli_answers(served, questions), _cli_answers(after, questions)
    assert not old[NEW_QUESTION]["answered"] and new[NEW_QUESTION]["answered"]
    shutil.rmtree(after)
    return served, old, new


@pytest.fixture(scope="module")
def server(office_site):
    root = office_site[0]
    add_people(Settings(root=root))
    keys = KeyStore.for_data_dir(Settings(root=root).data_dir)
    client_keys = [keys.add(f"client{k}", "reader", rate=50) for k in range(API_CLIENTS)]
    port = free_port()
    log = open(root / "serve.log", "w")  # noqa: SIM115 - open for the server's whole life
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port), "--require-signin"], env=_env(root), cwd=root,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail("serve did not start:\n" + (root / "serve.log").read_text())
            time.sleep(0.3)
    yield url, client_keys
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def _plain(content) -> str:
    """A chat reply as text (Gradio may give its content as a list of parts)."""
    if isinstance(content, list):
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    elif isinstance(content, dict):
        content = content.get("text", "") or content.get("value", "")
    return unescape(re.sub(r"<[^>]+>", "", str(content)))


def _session(url: str, user: str) -> str:
    import httpx

    res = httpx.post(url + "/login", data={"username": user, "password": PASSWORDS[user]}, follow_redirects=False)
    assert res.status_code == 303, res.text
    return res.cookies["pqa_session"]


class Run:
    """What every client saw: (start, end, question, answer) and errors, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.api: list[tuple[float, float, str, dict]] = []
        self.page: list[tuple[float, float, str, str]] = []
        self.errors: list[str] = []
        self.add: dict = {}
        self.deadline = time.time() + TIME_LIMIT_S


def _api_client(url: str, key: str, work: list[str], run: Run) -> None:
    import httpx

    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        for q in work:
            if time.time() > run.deadline:
                with run.lock:
                    run.errors.append("time limit reached")
                return
            t = time.perf_counter()
            try:
                res = client.post("/api/ask", json={"question": q})
                res.raise_for_status()
                record = res.json()
            except Exception as exc:  # counted, reported below
                with run.lock:
                    run.errors.append(f"api {q!r}: {exc!r}")
                continue
            with run.lock:
                run.api.append((t, time.perf_counter(), q, record))


def _page_user(url: str, cookie: str, work: list[str], run: Run) -> None:
    from gradio_client import Client

    client = Client(url + "/", headers={"Cookie": f"pqa_session={cookie}"}, verbose=False)
    for q in work:
        t = time.perf_counter()
        try:
            _, history = client.predict(q, [], 3, api_name="/chat")
            html = history[-1]["content"]
        except Exception as exc:
            with run.lock:
                run.errors.append(f"page {q!r}: {exc!r}")
            continue
        with run.lock:
            run.page.append((t, time.perf_counter(), q, html))


def _editor(url: str, cookie: str, total: int, run: Run) -> None:
    import httpx

    while len(run.api) < total * ADD_AFTER and time.time() < run.deadline:
        time.sleep(0.05)
    run.add["answered_before"] = len(run.api)
    run.add["start"] = time.perf_counter()
    res = httpx.post(url + "/api/documents", cookies={"pqa_session": cookie}, timeout=600,
                     files=[("files", ("lingang.txt", NEW_DOC.encode(), "text/plain"))])
    run.add["end"] = time.perf_counter()
    run.add["status"], run.add["body"] = res.status_code, res.json()
    run.add["answered_after"] = len(run.api)


def _expected(t0: float, t1: float, add: dict, old: dict, new: dict, q: str) -> list[dict]:
    if t1 < add["start"]:
        return [old[q]]
    if t0 > add["end"]:
        return [new[q]]
    return [old[q], new[q]]


def test_office_load(server, office_site):
    url, keys = server
    _, old, new = office_site
    questions = [*own_questions(), NEW_QUESTION]
    run = Run()
    work = [questions[i % len(questions)] for i in range(API_CLIENTS * PER_CLIENT)]
    page_work = [questions[(7 * i) % len(questions)] for i in range(PAGE_USERS * PER_PAGE_USER)]
    cookies = [_session(url, "alice") for _ in range(PAGE_USERS)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=API_CLIENTS + PAGE_USERS + 1) as pool:
        futures = [pool.submit(_editor, url, _session(url, "ed"), len(work), run)]
        futures += [pool.submit(_api_client, url, keys[k], work[k::API_CLIENTS], run) for k in range(API_CLIENTS)]
        futures += [pool.submit(_page_user, url, cookies[u], page_work[u::PAGE_USERS], run) for u in range(PAGE_USERS)]
        for f in futures:
            f.result(timeout=TIME_LIMIT_S + 60)
    wall = time.perf_counter() - started

    mismatches = [q for t0, t1, q, rec in run.api
                  if not any(same_answer(rec, ref) for ref in _expected(t0, t1, run.add, old, new, q))]
    page_misses = []
    for t0, t1, q, html in run.page:
        refs = _expected(t0, t1, run.add, old, new, q)
        if not any(r["results"][0]["answer"] in _plain(html) for r in refs if r["results"]):
            page_misses.append(q)
    after_add = [rec for t0, _, q, rec in run.api if t0 > run.add.get("end", float("inf")) and q == NEW_QUESTION]
    api_ms = sorted((t1 - t0) * 1e3 for t0, t1, _, _ in run.api)
    page_ms = sorted((t1 - t0) * 1e3 for t0, t1, _, _ in run.page)
    report = {
        "api_clients": API_CLIENTS, "api_requests": len(work), "api_answered": len(run.api),
        "page_users": PAGE_USERS, "page_requests": len(page_work), "page_answered": len(run.page),
        "errors": len(run.errors), "mismatches": len(mismatches), "page_mismatches": len(page_misses),
        "api_p50_ms": round(statistics.median(api_ms), 1), "api_p95_ms": round(api_ms[int(0.95 * len(api_ms)) - 1], 1),
        "page_p50_ms": round(statistics.median(page_ms), 1),
        "page_p95_ms": round(page_ms[int(0.95 * len(page_ms)) - 1], 1),
        "api_per_s": round(len(run.api) / wall, 1), "wall_s": round(wall, 1),
        "add_s": round(run.add.get("end", 0) - run.add.get("start", 0), 2),
        "answered_when_add_started": run.add.get("answered_before"),
        "answered_when_add_done": run.add.get("answered_after"), "new_doc_asked_after_add": len(after_add),
    }
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "office-load.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print("office load:", report)
    assert run.errors == [] and len(run.api) == len(work) and len(run.page) == len(page_work), run.errors[:5]
    assert mismatches == [] and page_misses == []
    assert run.add["status"] == 200 and run.add["body"]["added"] == ["corpus/lingang.txt"]
    assert run.add["answered_after"] < len(work)  # the add happened while the clients were asking
    assert after_add and all(r["results"][0]["citation"]["source"] == "corpus/lingang.txt" for r in after_add)
