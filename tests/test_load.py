"""Load through the Gradio API: 16 concurrent clients, 800 questions, a rebuild in the middle.

Bounded in count and time, loopback only. Latency figures go to test-artifacts/load.json.
"""

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import ROOT

pytestmark = pytest.mark.load

CLIENTS = 16
TOTAL = 800
TIME_LIMIT_S = 600


def _questions() -> list[str]:
    path = ROOT / "tests" / "data" / "own_questions.jsonl"
    return [json.loads(x)["question"] for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _answer(client, question: str) -> str:
    _, history = client.predict(question, [], 3, api_name="/chat")
    return history[-1]["content"]


def test_concurrent_clients_get_single_client_answers_through_a_rebuild(app_server):
    from gradio_client import Client

    url = app_server[0]
    questions = _questions()
    reference_client = Client(url, verbose=False)
    expected = {q: _answer(reference_client, q) for q in questions}  # one client, one at a time

    work = [questions[i % len(questions)] for i in range(TOTAL)]
    latencies: list[float] = []
    errors: list[str] = []
    mismatches: list[str] = []
    lock = threading.Lock()
    deadline = time.time() + TIME_LIMIT_S
    rebuilt = {}

    def client_loop(k: int) -> None:
        client = Client(url, verbose=False)
        for question in work[k::CLIENTS]:
            if time.time() > deadline:
                with lock:
                    errors.append("time limit reached")
                return
            t = time.perf_counter()
            try:
                answer = _answer(client, question)
            except Exception as exc:  # counted, reported below
                with lock:
                    errors.append(repr(exc))
                continue
            with lock:
                latencies.append(time.perf_counter() - t)
                if answer != expected[question]:
                    mismatches.append(question)

    def rebuild_midway() -> None:
        while len(latencies) < TOTAL // 4 and time.time() < deadline:
            time.sleep(0.01)
        rebuilt["answered_when_started"] = len(latencies)
        t = time.perf_counter()
        rebuilt["status"] = Client(url, verbose=False).predict(api_name="/rebuild")
        rebuilt["seconds"] = time.perf_counter() - t
        rebuilt["answered_when_done"] = len(latencies)

    with ThreadPoolExecutor(max_workers=CLIENTS + 1) as pool:
        background = pool.submit(rebuild_midway)
        list(pool.map(client_loop, range(CLIENTS)))
        background.result(timeout=TIME_LIMIT_S)

    report = {
        "clients": CLIENTS, "requests": TOTAL, "answered": len(latencies), "errors": len(errors),
        "mismatches": len(mismatches),
        "p50_ms": round(statistics.median(latencies) * 1e3, 1),
        "p95_ms": round(sorted(latencies)[int(0.95 * len(latencies)) - 1] * 1e3, 1),
        "rebuild_s": round(rebuilt.get("seconds", float("nan")), 2),
        "answered_when_rebuild_started": rebuilt.get("answered_when_started"),
        "answered_when_rebuild_finished": rebuilt.get("answered_when_done"),
    }
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "load.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print("load:", report)
    assert errors == [] and len(latencies) == TOTAL
    assert mismatches == []
    assert "重建完成" in rebuilt["status"]
    assert rebuilt["answered_when_started"] < TOTAL  # the rebuild really ran during the load
