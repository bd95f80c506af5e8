"""How fast ``/api/ask`` answers while one big allowed batch runs on the same server.

Serves the office (real model and index) on a free loopback port, then measures ``/api/ask``
latency, one question after another, first alone and then while a single ``/api/ask-many`` of
``--batch`` questions (the largest a request may hold by default) is being answered, as one request
or as a job (``--via jobs``). Prints the p50
and p95 of each phase and the batch's own time, as one JSON line.

    python -m benchmarks.ask_during_batch --questions tests/data/own_questions.jsonl --batch 1000
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import threading
import time
from pathlib import Path

import httpx


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(settings):
    import uvicorn

    from pudong_qa.office.server import build_app, make_office

    office = make_office(settings, log=lambda _: None)
    server = uvicorn.Server(uvicorn.Config(build_app(office, page=False), host="127.0.0.1", port=settings.port,
                                           log_level="error", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def latencies(url: str, questions: list[str], until: threading.Event | None, count: int) -> list[float]:
    """Seconds per ``/api/ask``, asked one after another: ``count`` of them, or until ``until`` is set."""
    out = []
    with httpx.Client(base_url=url, timeout=120) as client:
        i = 0
        while (until is None and len(out) < count) or (until is not None and not until.is_set()):
            started = time.perf_counter()
            client.post("/api/ask", json={"question": questions[i % len(questions)]}).raise_for_status()
            out.append(time.perf_counter() - started)
            i += 1
    return out


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(1000 * statistics.median(values), 1),
            "p95_ms": round(1000 * percentile(values, 0.95), 1), "max_ms": round(1000 * max(values), 1)}


def main() -> None:
    from pudong_qa.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, required=True, help="JSONL with a 'question' field")
    parser.add_argument("--batch", type=int, default=1000, help="questions in the one big /api/ask-many")
    parser.add_argument("--alone", type=int, default=60, help="/api/ask calls measured with no batch running")
    parser.add_argument("--via", choices=("ask-many", "jobs"), default="ask-many",
                        help="one /api/ask-many request, or a job (/api/jobs) polled until done")
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    settings = Settings.from_env(port=free_port())
    serve(settings)
    url = f"http://127.0.0.1:{settings.port}"
    latencies(url, questions, None, 5)  # warm up
    alone = latencies(url, questions, None, args.alone)
    done = threading.Event()
    batch = {}

    def run_batch() -> None:
        body = {"questions": [questions[i % len(questions)] for i in range(args.batch)]}
        started = time.perf_counter()
        with httpx.Client(base_url=url, timeout=3600) as client:
            if args.via == "ask-many":
                res = client.post("/api/ask-many", json=body)
                status = res.status_code
            else:  # a job: submitted, then polled once a second until done
                job = client.post("/api/jobs", json=body).json()
                while (status := client.get(f"/api/jobs/{job['id']}").json()["state"]) not in ("done", "failed"):
                    time.sleep(1)
        batch.update(via=args.via, status=status, seconds=round(time.perf_counter() - started, 1))
        done.set()

    thread = threading.Thread(target=run_batch)
    thread.start()
    time.sleep(0.5)  # let the batch start
    during = latencies(url, questions, done, 0)
    thread.join()
    print(json.dumps({"alone": summary(alone), "during_batch": summary(during), "batch": {"questions": args.batch,
                                                                                           **batch}}))


if __name__ == "__main__":
    main()
