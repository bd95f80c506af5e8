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
- Errors use Dify's bodies ``{"error_code", "error_msg"}``: 1001 (no or malformed Authorization
  header, HTTP 401), 1002 (a key that is not valid, HTTP 403), 2001 (no such knowledge base, HTTP 404);
  the first two come from the access middleware (``server.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..results import ANSWERED, SearchResponse
from ..search.query import question_problem
from .api import office, principal
from .auth import Principal
from .knowledge import UnknownKnowledgeBase

MAX_TOP_K = 100
ERRORS = {1001: "Invalid Authorization header format. Expected 'Bearer <api-key>' format.",
          1002: "Authorization failed", 2001: "The knowledge does not exist"}


def dify_error(code: int, status: int, detail: str = "") -> JSONResponse:
    return JSONResponse({"error_code": code, "error_msg": ERRORS[code] + (f": {detail}" if detail else "")},
                        status_code=status)


class RetrievalSetting(BaseModel):
    top_k: int = Field(5, description="Maximum number of records.")
    score_threshold: float = Field(0.0, description="Least score (0-1) of a record; 0.0 when Dify's threshold is off.")


class Condition(BaseModel):
    name: str | list[str]
    comparison_operator: str
    value: Any = None


class MetadataCondition(BaseModel):
    logical_operator: str = "and"
    conditions: list[Condition] = Field(default_factory=list)


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


def _compare(have: Any, op: str, want: Any) -> bool:
    """One of Dify's comparison operators; an operator or value that does not apply holds for nothing."""
    if op in ("empty", "null"):
        return have in (None, "")
    if op in ("not empty", "not null"):
        return have not in (None, "")
    if have is None:
        return False
    if isinstance(have, int | float) and not isinstance(have, bool):
        try:
            w = float(want)
        except (TypeError, ValueError):
            return False
        return {"=": have == w, "≠": have != w, ">": have > w, "<": have < w, "≥": have >= w,
                "≤": have <= w, "is": have == w, "is not": have != w}.get(op, False)
    text, values = str(have), [str(v) for v in want] if isinstance(want, list) else [str(want)]
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
    join = any if cond.logical_operator.strip().lower() == "or" else all
    return [r for r in recs if join(_holds(r["metadata"], c) for c in cond.conditions)]


router = APIRouter(tags=["Dify external knowledge"])


@router.post("/retrieval", summary="Dify's External Knowledge API")
def retrieval(body: RetrievalBody, request: Request, who: Principal = Depends(principal)):  # noqa: B008
    try:
        kb, service = office(request).kbs.get(body.knowledge_id)
    except UnknownKnowledgeBase:
        return dify_error(2001, 404, body.knowledge_id)
    top_k = min(body.retrieval_setting.top_k, MAX_TOP_K)
    if top_k < 1 or question_problem(body.query):
        return {"records": []}
    _, resp = service.ask(body.query, top_k=top_k)
    return {"records": matching(records(resp, kb, body.retrieval_setting.score_threshold), body.metadata_condition)}
