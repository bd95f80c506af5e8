"""Dify's External Knowledge API: ``POST /retrieval``, so Dify (and FastGPT, RAGFlow or any tool
speaking the same contract) can use pudong-qa as a knowledge base.

Request: ``{knowledge_id, query, retrieval_setting: {top_k, score_threshold}, metadata_condition?}``
with ``Authorization: Bearer <key>``. Response: ``{"records": [{content, score, title, metadata}]}``.

- ``knowledge_id`` is a knowledge base id of this server (``GET /api/knowledge-bases``).
- Honest refusals carry over: the records are the results only when the first one answers
  (verdict ``answered``); when the documents do not answer, or only a close passage is found
  (``unsure``), the list is empty, so the model behind Dify is not handed passages that lack the answer.
- ``score`` is in 0–1: the first record's is the response's calibrated confidence that it answers
  (the same number that decides ``answered``), each later record's that confidence times its fused
  ranking score relative to the first's (capped at 1). Records under ``score_threshold`` are left out.
- ``metadata`` is always an object: source, title, section, paragraph, start, end, answer (the
  sentence that answers), rank, kb, and page for PDFs.
- ``metadata_condition`` filters the records on those fields (string operators on source, title,
  section, answer; numeric ones on paragraph, start, end, page, rank).
- Errors use Dify's bodies ``{"error_code", "error_msg"}``, rendered here (``render``; the access
  middleware asks this module for its refusals): 1001 (no or malformed Authorization header, HTTP
  401), 1002 (a key that is not valid, HTTP 403), 2001 (no such knowledge base, HTTP 404); for
  refusals Dify's list has no code for, the HTTP status itself (422 a body Dify would not send or
  a query past ``PUDONG_QA_MAX_QUESTION_CHARS``, 429 the key's rate limit).

The request is read as Dify's own code sends it (``api/services/external_knowledge_service.py``
``fetch_external_knowledge_retrieval`` and ``api/core/rag/entities/metadata_entities.py`` in
langgenius/dify): ``top_k`` may be null (the server's default is used), ``score_threshold`` is 0.0
when Dify's threshold is off, ``metadata_condition`` is the ``model_dump()`` of Dify's model
(``logical_operator`` and ``conditions`` may be null; ``in`` may carry a comma-separated string;
``before``/``after`` compare numbers as ``<``/``>``), and the URL is ``{endpoint}/retrieval``, so an
endpoint saved with a trailing slash posts to ``//retrieval``: that path, and ``/retrieval/``, answer too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, StrictFloat, StrictInt, StrictStr
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ..asking import question_problem, top_k_for
from ..errors import Problem, PudongQAError
from ..results import ANSWERED, SearchResponse
from .deps import Caller, OfficeDep
from .knowledge import UnknownKnowledgeBase
from .replies import STATUS, safe, validation_problem

PATHS = ("/retrieval", "/retrieval/", "//retrieval")  # the last two: an endpoint saved with a trailing slash
ERRORS = {1001: "Invalid Authorization header format. Expected 'Bearer <api-key>' format.",
          1002: "Authorization failed", 2001: "The knowledge does not exist"}
CODES = {"bad_authorization": (1001, 401), "signin_needed": (1001, 401), "key_not_valid": (1002, 403),
         "unknown_kb": (2001, 404)}  # our problem codes that Dify's list names


def dify_error(code: int, status: int, detail: str = "") -> JSONResponse:
    """A body of Dify's: ``code`` one of Dify's (``ERRORS``) or, for what Dify has none for, the HTTP status."""
    text = ERRORS.get(code, "")
    text = f"{text}: {detail}" if text and detail else text or detail
    return JSONResponse(safe({"error_code": code, "error_msg": text}), status_code=status)


def render(problem: Problem, status: int | None = None, headers: dict | None = None) -> Response:
    """A refusal of a Dify request (from the access middleware or a route) as Dify's error body."""
    code, status = CODES.get(problem.code, (status or STATUS.get(problem.code, 400),) * 2)
    detail = "" if code in (1001, 1002) else str(problem)
    response = dify_error(code, status, detail)
    response.headers.update(headers or {})
    return response


def is_dify_path(path: str) -> bool:
    return "/" + path.strip("/") == PATHS[0]


class DifyRoute(APIRoute):
    """A route whose errors (a body that does not validate, a problem) come back in Dify's shape."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return render(validation_problem(list(exc.errors()))[0])
            except HTTPException as exc:  # a body that cannot be read at all (not UTF-8)
                return render(Problem("not_json_body"), exc.status_code)
            except PudongQAError as exc:
                return render(exc.problem or Problem("invalid_request", {"fields": str(exc)}),
                              getattr(exc, "status", None), getattr(exc, "headers", None))

        return handle


class RetrievalSetting(BaseModel):
    top_k: StrictInt | None = Field(None, ge=0, description="Maximum number of records, 0 to PUDONG_QA_MAX_TOP_K (more "
                              "is refused, 422); null (Dify's app without a top_k) is the server's PUDONG_QA_TOP_K.")
    score_threshold: StrictFloat | None = Field(0.0, allow_inf_nan=False, description="Least score (0-1) of a "
                                                "record; 0.0 (or null) when Dify's threshold is off.")


Operator = Literal["contains", "not contains", "start with", "end with", "is", "is not", "empty", "not empty",
                   "in", "not in", "=", "≠", ">", "<", "≥", "≤", "before", "after", "null", "not null"]


class Condition(BaseModel):
    name: str | list[str]
    comparison_operator: Operator
    value: StrictStr | StrictInt | StrictFloat | list[StrictStr] | list[StrictInt] | list[StrictFloat] | None = None


class MetadataCondition(BaseModel):
    logical_operator: Literal["and", "or"] | None = "and"
    conditions: list[Condition] | None = None


class RetrievalBody(BaseModel):
    knowledge_id: str
    query: str
    retrieval_setting: RetrievalSetting
    metadata_condition: MetadataCondition | None = None


def records(resp: SearchResponse, kb: str, threshold: float = 0.0) -> list[dict]:
    """The response as Dify records: the results only when the first answers, scores in 0-1."""
    if resp.verdict != ANSWERED or not resp.results:
        return []
    first = max(resp.results[0].score, 1e-9)
    out = []
    for r in resp.results:
        score = round(min(1.0, max(0.0, resp.confidence * min(1.0, r.score / first))), 4)
        if score < threshold:
            continue
        c = r.citation
        meta = {"source": c.source, "title": c.title, "section": c.section, "paragraph": c.paragraph,
                "start": c.start, "end": c.end, "answer": r.answer, "rank": r.rank, "kb": kb}
        if c.page is not None:
            meta["page"] = c.page
        out.append({"content": r.text, "score": score, "title": c.title or c.source, "metadata": meta})
    return out


def _holds(meta: dict, cond: Condition) -> bool:
    names = cond.name if isinstance(cond.name, list) else [cond.name]
    return any(_compare(meta.get(n), cond.comparison_operator, cond.value) for n in names)


NUMERIC = {"=": lambda a, b: a == b, "≠": lambda a, b: a != b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
           "≥": lambda a, b: a >= b, "≤": lambda a, b: a <= b, "is": lambda a, b: a == b,
           "is not": lambda a, b: a != b, "before": lambda a, b: a < b, "after": lambda a, b: a > b}


def _values(want: Any, op: str) -> list[str]:
    """The condition's values as text; Dify splits ``in``/``not in``'s comma-separated string."""
    if isinstance(want, list):
        return [str(v) for v in want]
    if op in ("in", "not in") and isinstance(want, str):
        return [v.strip() for v in want.split(",")]
    return [str(want)]


def _compare(have: Any, op: str, want: Any) -> bool:
    """One of Dify's comparison operators; an operator or value that does not apply holds for nothing."""
    if op in ("empty", "null"):
        return have in (None, "")
    if op in ("not empty", "not null"):
        return have not in (None, "")
    if have is None:
        return False
    if isinstance(have, int | float) and not isinstance(have, bool):
        if op in ("in", "not in"):
            return (str(have) in _values(want, op)) == (op == "in")
        try:
            w = float(want)
        except (TypeError, ValueError):
            return False
        test = NUMERIC.get(op)
        return bool(test) and test(have, w)
    text, values = str(have), _values(want, op)
    tests = {"contains": lambda v: v in text, "not contains": lambda v: v not in text,
             "start with": text.startswith, "end with": text.endswith, "is": lambda v: text == v,
             "is not": lambda v: text != v, "in": lambda v: text == v}
    if op == "not in":
        return text not in values
    test = tests.get(op)
    return bool(test) and (all if op in ("not contains", "is not") else any)(test(v) for v in values)


def matching(recs: list[dict], cond: MetadataCondition | None) -> list[dict]:
    if cond is None or not cond.conditions:
        return recs
    join = any if (cond.logical_operator or "and") == "or" else all
    return [r for r in recs if join(_holds(r["metadata"], c) for c in cond.conditions)]


router = APIRouter(tags=["Dify external knowledge"], route_class=DifyRoute)
DIFY_ERRORS = {s: {"description": d, "content": {"application/json": {"schema": {
    "type": "object", "required": ["error_code", "error_msg"],
    "properties": {"error_code": {"type": "integer"}, "error_msg": {"type": "string"}}}}}}
    for s, d in ((400, "A body that cannot be read (not UTF-8 JSON)."),
                 (401, "1001: no or malformed Authorization header."), (403, "1002: a key that is not valid."),
                 (404, "2001: no such knowledge base."), (413, "A body over the server's size limit (error_code 413)."),
                 (422, "A body Dify would not send, or a query past PUDONG_QA_MAX_QUESTION_CHARS (error_code 422)."),
                 (429, "The key's rate limit (Retry-After)."))}


@router.post(PATHS[0], summary="Dify's External Knowledge API", responses=DIFY_ERRORS)
def retrieval(body: RetrievalBody, the: OfficeDep, who: Caller) -> dict:
    try:
        kb, service = the.kbs.get(body.knowledge_id)
    except UnknownKnowledgeBase as exc:
        return render(exc.problem)
    problem = question_problem(body.query, service.settings)
    if problem is not None and problem.code in ("question_too_long", "lone_surrogate"):
        raise PudongQAError(code=problem.code, **problem.params)
    if body.retrieval_setting.top_k == 0:  # no records asked for: none given
        return {"records": []}
    top_k = top_k_for(service.settings, body.retrieval_setting.top_k)
    if problem is not None:  # empty, or no words: nothing to retrieve
        return {"records": []}
    _, resp = service.ask(body.query, top_k=top_k)
    threshold = body.retrieval_setting.score_threshold or 0.0
    return {"records": matching(records(resp, kb, threshold), body.metadata_condition)}


for _alias in PATHS[1:]:
    router.add_api_route(_alias, retrieval, methods=["POST"], include_in_schema=False)
