"""The ask contract every door shares (the HTTP API, Dify's ``/retrieval``, MCP, the page, the
command line): whether a question can be asked, how many results (``top_k``) and how big a batch
may be, and the record of an answer or of a question that cannot be asked.

The numbers are the ``Settings``' (``top_k``, ``max_top_k``, ``max_batch``, ``max_question_chars``,
``max_request_chars``). A request past a limit raises ``PudongQAError`` with a code naming the limit;
nothing is clamped or dropped silently. A question that cannot be asked (empty, no words, too long)
is a ``Problem``: one question alone is refused with it, a batch gets an error record in its place.
Each door only translates: JSON, Dify records, MCP content, HTML, CSV.
"""

from __future__ import annotations

from .errors import Problem, PudongQAError
from .results import NOT_FOUND, SearchResponse
from .settings import Settings

__all__ = ["answer_record", "as_top_k", "check_batch", "check_previous", "check_question", "error_record",
           "has_lone_surrogate", "question_problem", "top_k_for", "writable"]


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds half of a UTF-16 pair (``"\\ud800"``): valid JSON, not valid Unicode,
    so it can be neither searched nor written back as UTF-8."""
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def writable(text: str) -> str:
    """``text`` with each lone surrogate as U+FFFD, so a record that echoes it can be written as UTF-8."""
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text) if has_lone_surrogate(
        text) else text


def top_k_for(settings: Settings, top_k: int | None = None) -> int:
    """Results per question: ``top_k`` if given and within 1..``max_top_k``, the settings' default if
    None; past the limit a ``top_k_range`` error."""
    if top_k is None:
        return settings.top_k
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= settings.max_top_k:
        raise PudongQAError(code="top_k_range", top_k=top_k, max_top_k=settings.max_top_k)
    return top_k


def as_top_k(value: float | None) -> int | None:
    """A slider's number (Gradio sends floats) as a ``top_k``; None stays None (the default)."""
    return None if value is None else int(value)


def question_problem(question: str, settings: Settings) -> Problem | None:
    """Why ``question`` cannot be asked (too long, not valid Unicode, empty, no words), or None."""
    from .search import query

    if len(question) > settings.max_question_chars:
        return Problem("question_too_long", {"chars": len(question), "limit": settings.max_question_chars})
    if has_lone_surrogate(question):
        return Problem("lone_surrogate")
    found = query.question_problem(question)
    if found is None or isinstance(found, Problem):
        return found
    return Problem("empty_question" if not question.strip() else "no_words")


def check_question(question: str, settings: Settings) -> str:
    """The question, if it can be asked alone; else a ``PudongQAError`` carrying its problem."""
    problem = question_problem(question, settings)
    if problem is not None:
        raise PudongQAError(code=problem.code, **problem.params)
    return question


def check_previous(previous: list[str] | None, settings: Settings) -> list[str]:
    """The earlier questions of a conversation, blank ones left out, each of the others checked as a
    question (they are searched too): a ``PudongQAError`` for one that cannot be asked."""
    return [check_question(q, settings) for q in previous or [] if q.strip()]


def check_batch(questions: list[str], settings: Settings) -> list[Problem | None]:
    """Each question's problem (None: it can be asked), after refusing a batch past ``max_batch``
    questions or ``max_request_chars`` characters in all (``batch_too_large``, ``request_too_large``)."""
    if len(questions) > settings.max_batch:
        raise PudongQAError(code="batch_too_large", questions=len(questions), limit=settings.max_batch)
    chars = sum(map(len, questions))
    if chars > settings.max_request_chars:
        raise PudongQAError(code="request_too_large", chars=chars, limit=settings.max_request_chars)
    return [question_problem(q, settings) for q in questions]


def answer_record(resp: SearchResponse, kb: str, query: str | None = None) -> dict:
    """The evaluation contract's record for one response, with the query searched (``query``, else
    the response's own) and the knowledge base."""
    return {**resp.to_dict(), "query": resp.query if query is None else query, "kb": kb}


def error_record(question: str, problem: Problem | str, kb: str | None = None) -> dict:
    """The record of a question that cannot be asked: the fields of every record (not found, no
    results), ``error`` its English reason, and the knowledge base when a server answers."""
    out = {"question": writable(question), "answered": False, "verdict": NOT_FOUND, "expansions": [], "results": [],
           "error": str(problem)}
    return out if kb is None else {**out, "kb": kb}
