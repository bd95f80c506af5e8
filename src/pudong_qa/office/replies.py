"""How the office tells a client no: one JSON body for every error of the API, documented in
OpenAPI (``ErrorBody``): a stable ``code``, the ``message`` in the client's language (Chinese, or
English with ``Accept-Language: en``) and ``detail`` (the English sentence, or the fields a
request got wrong). Dify's ``/retrieval`` renders its own bodies (``dify.py``).

Nothing the client sent is echoed back raw: a lone surrogate or a ``NaN`` in a request would make
the error itself impossible to write as JSON (a 500).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..asking import writable
from ..errors import Problem, PudongQAError
from ..messages import language

# The HTTP status of each code a door may meet; a code not listed is a 400.
STATUS = {
    "bad_upload_name": 400, "upload_refused": 400,
    "signin_needed": 401, "bad_authorization": 401, "key_not_valid": 401, "role_refused": 403,
    "unknown_kb": 404, "unknown_job": 404, "unknown_document": 404, "not_found": 404,
    "method_not_allowed": 405, "rebuild_busy": 409, "document_exists": 409,
    "batch_too_large": 413, "request_too_large": 413, "body_too_large": 413,
    "question_too_long": 422, "top_k_range": 422, "empty_question": 422, "no_words": 422, "lone_surrogate": 422,
    "invalid_request": 422, "not_json_body": 422, "rate_limited": 429, "jobs_busy": 429, "internal_error": 500,
}
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="pudong-qa"'}


class ErrorBody(BaseModel):
    """Every error of the API."""

    code: str = Field(description="Stable, for programs: e.g. batch_too_large, top_k_range, signin_needed.")
    message: str = Field(description="For people, in Chinese unless the request's Accept-Language prefers English.")
    detail: Any = Field(None, description="The English sentence, or the fields the request got wrong.")


class Refused(PudongQAError):
    """A request refused with an HTTP status (from ``STATUS`` by its code unless given), its code and parameters."""

    def __init__(self, code: str, status: int | None = None, headers: dict | None = None, detail: Any = None,
                 **params) -> None:
        super().__init__(code=code, **params)
        self.status = status or STATUS.get(code, 400)
        self.headers = headers or {}
        self.detail = detail


def safe(value: Any) -> Any:
    """``value`` made writable as strict JSON: lone surrogates become U+FFFD, NaN and infinities None."""
    if isinstance(value, str):
        return writable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {safe(k): safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe(v) for v in value]
    return value


def error_response(problem: Problem | PudongQAError, lang: str = "zh", status: int | None = None,
                   headers: dict | None = None, detail: Any = None) -> Response:
    """The ``ErrorBody`` of a problem, in ``lang``, with its status (``STATUS`` by code)."""
    if isinstance(problem, PudongQAError):
        status = status or getattr(problem, "status", None)
        headers = headers or getattr(problem, "headers", None)
        detail = detail if detail is not None else getattr(problem, "detail", None)
        problem = problem.problem or Problem("internal_error")
    status = status or STATUS.get(problem.code, 400)
    if status == 401:
        headers = {**CHALLENGE, **(headers or {})}
    body = {"code": problem.code, "message": problem.say(lang),
            "detail": str(problem) if detail is None else detail}
    return JSONResponse(safe(body), status_code=status, headers=headers)


def request_language(request: Request) -> str:
    return language(request.headers.get("accept-language"))


def validation_fields(errors: list[dict]) -> list[dict]:
    """A validation error's fields without the input it refused (which may not be writable as JSON)."""
    return [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in errors]


def validation_problem(errors: list[dict]) -> tuple[Problem, list[dict]]:
    """The problem of a body that does not match the schema: ``not_json_body`` when it is no JSON at all."""
    fields = validation_fields(errors)
    if any(f["type"] == "json_invalid" for f in fields):
        return Problem("not_json_body"), fields
    if any(f["type"] == "string_unicode" for f in fields):  # a lone surrogate, e.g. "\ud800"
        return Problem("lone_surrogate"), fields
    where = ", ".join(".".join(f["loc"][1:] or f["loc"]) for f in fields[:5]) or "body"
    return Problem("invalid_request", {"fields": where}), fields


def install(app) -> None:
    """The app's error handlers: the package's problems, validation errors, HTTP errors (404, 405)."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def problem_handler(request: Request, exc: PudongQAError) -> Response:
        if exc.problem is None:  # a plain-message error from below the doors: the user can fix it
            return error_response(Problem("cannot_do", {"reason": str(exc)}), request_language(request), status=400)
        return error_response(exc, request_language(request))

    async def validation_handler(request: Request, exc: RequestValidationError) -> Response:
        problem, fields = validation_problem(list(exc.errors()))
        return error_response(problem, request_language(request), detail=fields)

    async def http_handler(request: Request, exc: HTTPException) -> Response:
        """The framework's own refusals: no such path (404), a method the path does not take (405),
        a body it could not read (400)."""
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "?")
            problem = Problem("method_not_allowed", {"method": request.method, "allowed": allowed})
        elif exc.status_code == 404:
            problem = Problem("not_found")
        elif exc.status_code == 400:
            problem = Problem("not_json_body")
        else:
            problem = Problem("invalid_request", {"fields": str(exc.detail)})
        return error_response(problem, request_language(request), status=exc.status_code, headers=exc.headers)

    app.add_exception_handler(PudongQAError, problem_handler)
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(HTTPException, http_handler)
