"""Long batches as jobs a client polls, so no request holds a connection (or the server) for minutes:
``POST /api/jobs`` takes the body of ``/api/ask-many`` and answers 202 at once with the job;
``GET /api/jobs/{id}`` says how far it is and, once done, holds the same records ``/api/ask-many``
would have given.

The limits are checked before a job is queued (the ask contract's). Jobs run one at a time, in one
worker thread: however many are queued, the server answers single questions beside one batch only.
At most ``MAX_WAITING`` wait (then 429 ``jobs_busy``); a job is kept ``KEEP_SECONDS`` after it ends,
in memory (a restart forgets them), and only whoever made it may read it.
"""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..asking import answer_record, check_batch, error_record, top_k_for
from ..errors import PudongQAError
from .replies import Refused

MAX_WAITING = 4  # jobs queued behind the running one
KEEP_SECONDS = 3600.0


@dataclass
class Job:
    id: str
    owner: str  # the principal's id: only they may read it
    kb: str
    total: int
    done: int = 0
    state: str = "queued"  # queued, running, done or failed
    records: list[dict] | None = None
    error: dict | None = None
    ended: float | None = field(default=None, repr=False)

    def view(self) -> dict:
        out = {"id": self.id, "kb": self.kb, "state": self.state, "done": self.done, "total": self.total}
        return out | ({"records": self.records} if self.records is not None else {}) | (
            {"error": self.error} if self.error else {})


class Jobs:
    """The server's batch jobs, run one at a time."""

    def __init__(self, max_waiting: int = MAX_WAITING, keep_seconds: float = KEEP_SECONDS) -> None:
        self.max_waiting, self.keep_seconds = max_waiting, keep_seconds
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pudong-qa-job")

    def submit(self, owner: str, kb: str, service, questions: list[str], top_k: int | None) -> Job:
        """Queue a batch (refused at once past a limit, or when ``max_waiting`` jobs already wait)."""
        top_k = top_k_for(service.settings, top_k)
        problems = check_batch(questions, service.settings)
        with self._lock:
            self._forget_old()
            if sum(j.state == "queued" for j in self._jobs.values()) >= self.max_waiting:
                raise Refused("jobs_busy", waiting=self.max_waiting)
            job = Job(secrets.token_urlsafe(12), owner, kb, len(questions))
            self._jobs[job.id] = job
        self._worker.submit(self._run, job, service, questions, problems, top_k)
        return job

    def get(self, job_id: str, owner: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            raise Refused("unknown_job", job=job_id)
        return job

    def _run(self, job: Job, service, questions: list[str], problems: list, top_k: int) -> None:
        job.state = "running"

        def advance(n: int) -> None:
            job.done += n

        try:
            responses = service.ask_many(questions, top_k=top_k, on_progress=advance)
            job.records = [answer_record(r, job.kb) if r is not None else error_record(q, p, job.kb)
                           for q, r, p in zip(questions, responses, problems)]
            job.done, job.state = job.total, "done"
        except PudongQAError as exc:
            job.state, job.error = "failed", {"code": exc.code, "detail": str(exc)}
        except Exception as exc:  # a bug: the job says it failed, the traceback goes to the log
            import logging

            logging.getLogger("pudong_qa").exception("batch job %s failed", job.id)
            job.state, job.error = "failed", {"code": "internal_error", "detail": type(exc).__name__}
        finally:
            job.ended = time.monotonic()

    def _forget_old(self) -> None:
        now = time.monotonic()
        for job_id in [i for i, j in self._jobs.items() if j.ended and now - j.ended > self.keep_seconds]:
            del self._jobs[job_id]
