"""The JSON API beside the page (``/api/…``; OpenAPI at ``/docs``): a thin layer over one
``QAService`` per knowledge base, no retrieval here.

Answers are the evaluation contract's records (``question``, ``answered``, ``results`` with
``text``, ``answer`` and ``citation``), plus ``verdict`` (answered / unsure / not_found), ``query``
(what was searched) and ``kb`` (``asking.answer_record``). What may be asked (the question, ``top_k``,
the size of a batch) is the ask contract's (``asking.py``); who may call what, ``deps.py``'s. Errors
are ``replies.ErrorBody``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, StrictInt

from ..asking import answer_record, check_previous, check_question, error_record, question_problem
from ..errors import CorpusError, RebuildBusy
from ..service import QAService, safe_name
from .auth import Action
from .deps import May, Office, OfficeDep, allow, office, principal
from .replies import ErrorBody, Refused

__all__ = ["Office", "allow", "office", "principal", "router"]  # Office, allow, office, principal: from deps.py

MAX_PREVIOUS = 20  # earlier questions a follow-up may name


def service_for(request: Request, kb: str | None) -> tuple[str, QAService]:
    return office(request).kbs.get(kb)  # an unknown id raises UnknownKnowledgeBase: 404 unknown_kb


class AskBody(BaseModel):
    question: str = Field(min_length=1, description="The question, in plain Chinese (or another language); "
                          "at most PUDONG_QA_MAX_QUESTION_CHARS characters (422 question_too_long past it).")
    top_k: StrictInt | None = Field(None, ge=1, description="Results to return: 1 to PUDONG_QA_MAX_TOP_K "
                              "(422 top_k_range past it); the server's PUDONG_QA_TOP_K when left out.")
    kb: str | None = Field(None, description="Knowledge base id; the server's default when empty.")
    previous: list[str] = Field(default_factory=list, max_length=MAX_PREVIOUS,
                                description="Earlier questions of the conversation, oldest first, for follow-ups.")


class AskManyBody(BaseModel):
    questions: list[str] = Field(description="Up to PUDONG_QA_MAX_BATCH questions of PUDONG_QA_MAX_REQUEST_CHARS "
                                 "characters in all (413 batch_too_large / request_too_large past them); a question "
                                 "that cannot be asked gets a record with an error.")
    top_k: StrictInt | None = Field(None, ge=1, description="As for /api/ask.")
    kb: str | None = None


def errors(*statuses: int) -> dict:
    """OpenAPI ``responses`` for these error statuses, all ``ErrorBody``."""
    return {s: {"model": ErrorBody, "description": _WHY.get(s, "Refused.")} for s in statuses}


_WHY = {400: "A body that cannot be read (not UTF-8 JSON), or an upload no reader can use.",
        401: "No valid sign-in or key.",
        403: "The caller's role may not do this.", 404: "No such knowledge base (or document).",
        409: "A rebuild is already running.", 413: "Past a limit (questions, characters, body size).",
        422: "Not the schema, or a question that cannot be asked.", 429: "The key's rate limit; see Retry-After."}
ASKING = errors(400, 401, 403, 404, 413, 422, 429)
READING = errors(401, 403, 404, 422, 429)

router = APIRouter(prefix="/api", tags=["questions and documents"])


@router.get("/knowledge-bases", summary="The knowledge bases this server answers from", responses=READING)
def knowledge_bases(the: OfficeDep, who: May[Action.STATUS]) -> list[dict]:
    out = []
    for kb in the.kbs:
        service = the.kbs.services[kb]
        st = service.status()
        out.append({"id": kb, "default": kb == the.kbs.default, "documents": len(st.documents), "passages": st.passages,
                    "built_at": st.built_at, "rebuilding": service.rebuilding})
    return out


@router.post("/ask", summary="Ask one question", responses=ASKING)
def ask(body: AskBody, request: Request, who: May[Action.ASK]) -> dict:
    kb, service = service_for(request, body.kb)
    settings = service.settings
    check_question(body.question, settings)
    previous = check_previous(body.previous, settings)
    query, resp = service.ask(body.question, top_k=body.top_k, previous=previous)
    return answer_record(resp, kb, query) | {"question": body.question}  # as asked, like the CLI's record


@router.post("/ask-many", summary="Ask a list of questions (one record each, in order)", responses=ASKING)
def ask_many(body: AskManyBody, request: Request, who: May[Action.BATCH]) -> dict:
    kb, service = service_for(request, body.kb)
    responses = service.ask_many(body.questions, top_k=body.top_k)  # past a limit: refused before any work
    records = [answer_record(r, kb) if r is not None else error_record(q, question_problem(q, service.settings), kb)
               for q, r in zip(body.questions, responses)]
    office(request).audit.record(who.id, "batch", kb, outcome="ok", questions=len(body.questions), via="api")
    return {"kb": kb, "records": records}


@router.post("/jobs", summary="Ask a long list as a job to poll (202 at once; one job runs at a time)",
             status_code=202, responses=errors(400, 401, 403, 404, 413, 422, 429))
def submit_job(body: AskManyBody, the: OfficeDep, who: May[Action.BATCH]) -> dict:
    kb, service = the.kbs.get(body.kb)
    job = the.jobs.submit(who.id, kb, service, body.questions, body.top_k)
    the.audit.record(who.id, "batch", kb, outcome="ok", questions=len(body.questions), via="api-job", job=job.id)
    return job.view()


@router.get("/jobs/{job_id}", summary="A job's progress and, once done, its records (as /api/ask-many's)",
            responses=errors(401, 403, 404, 422, 429))
def job_status(job_id: str, the: OfficeDep, who: May[Action.BATCH]) -> dict:
    return the.jobs.get(job_id, who.id).view()


@router.get("/whoami", summary="Who the request is made as (null without sign-in)", responses=errors(401, 429))
def whoami(request: Request) -> dict | None:
    who = getattr(request.state, "principal", None)
    return {"name": who.id, "role": who.role} if who else None


@router.get("/documents", summary="The indexed documents", responses=READING)
def documents(request: Request, who: May[Action.DOCUMENTS], kb: str | None = None) -> dict:
    kb, service = service_for(request, kb)
    return {"kb": kb, "documents": service.status().documents}


@router.get("/status", summary="The state of the index", responses=READING)
def status(request: Request, who: May[Action.STATUS], kb: str | None = None) -> dict:
    kb, service = service_for(request, kb)
    return {"kb": kb, **service.status().to_dict(), "rebuilding": service.rebuilding}


def upload_name(name: str | None) -> str:
    """An upload's file name as given, if it is a plain name; a path (``../../x.txt``, ``/etc/x``,
    ``a\\b``), a hidden name or one with control characters is refused, not silently renamed."""
    name = name or ""
    if not name.strip() or "/" in name or "\\" in name or name.startswith(".") or safe_name(name) != name:
        raise Refused("bad_upload_name", name=name)
    return name


def rebuild_report(service: QAService, force: bool = False) -> dict:
    try:
        report = service.rebuild(force=force)
    except RebuildBusy:
        raise Refused("rebuild_busy") from None
    return {"rebuilt": report.rebuilt, "documents": report.documents, "passages": report.passages,
            "embedded": report.embedded, "seconds": round(report.seconds, 2)}


async def receive(upload: UploadFile, path: Path, limit: int) -> bool:
    """Write an upload to ``path``; False (and stop reading) once it is over ``limit`` bytes."""
    size = 0
    with open(path, "wb") as out:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > limit:
                return False
            out.write(chunk)
    return True


@router.post("/documents", summary="Add documents (editor) and rebuild", responses=errors(400, 401, 403, 404, 409,
                                                                                         413, 422, 429))
async def add_documents(request: Request, files: Annotated[list[UploadFile], File()], who: May[Action.ADD],
                        kb: str | None = None, rebuild: bool = True,
                        replace: Annotated[bool, Query(description=(
                            "Replace documents of the same name with these files (the old ones go to the recycle "
                            "folder, restorable with `pudong-qa documents restore`); without it such a file is a "
                            "409 Conflict (code document_exists), and nothing is added."))] = False) -> dict:
    kb, service = service_for(request, kb)
    names = [upload_name(f.filename) for f in files]  # every name checked before anything is written
    limit = service.settings.max_file_bytes
    stored, refused = [], []
    audit = office(request).audit
    with tempfile.TemporaryDirectory(prefix="pudong-qa-upload-") as folder:
        paths = []
        for name, upload in zip(names, files):
            path = Path(folder) / name
            if not await receive(upload, path, limit):
                refused.append({"name": name, "reason": f"over the {service.settings.max_file_mb:g} MiB limit"})
                continue
            paths.append(path)
        clashes = await run_in_threadpool(service.clashes, paths)
        if clashes and not replace:  # nothing is stored: the caller decides, with replace=true
            audit.record(who.id, "add", kb, [name for name, _ in clashes], outcome="refused", reason="exists")
            raise Refused("document_exists", subject=", ".join(name for name, _ in clashes),
                          sources=", ".join(source for _, source in clashes),
                          detail={"existing": [{"name": name, "existing": source} for name, source in clashes]})
        for path in paths:
            try:
                stored += await run_in_threadpool(service.store_documents, [path], replace, who.id)
            except CorpusError as exc:  # unreadable, or (DocumentExists) its namesake appeared meanwhile
                refused.append({"name": path.name, "reason": str(exc).removeprefix(f"{path.name}: ")})
    added = [s.source for s in stored if s.outcome == "added"]
    replaced = [s for s in stored if s.outcome == "replaced"]
    unchanged = [s.source for s in stored if s.outcome == "unchanged"]
    if added or not stored:
        audit.record(who.id, "add", kb, added, outcome="ok" if added else "refused",
                     **({"refused": [r["name"] for r in refused]} if refused else {}))
    for s in replaced:
        audit.record(who.id, "replace", kb, s.source, recycled=s.recycled.id if s.recycled else "")
    if not stored:
        raise Refused("upload_refused", detail={"added": [], "refused": refused})
    changed = added + [s.source for s in replaced]
    report = await run_in_threadpool(rebuild_report, service) if rebuild and changed else None
    if report:
        audit.record(who.id, "rebuild", kb, changed, outcome="ok", passages=report["passages"])
    return {"kb": kb, "added": added, "replaced": [s.source for s in replaced], "unchanged": unchanged,
            "refused": refused, "rebuild": report,
            **({"message": "; ".join(f"{u}: 内容相同的文档已在知识库中,无需重建" for u in unchanged)}
               if unchanged else {})}


@router.delete("/documents", summary="Remove a document (editor) and rebuild",
               responses=errors(401, 403, 404, 409, 422, 429))
def remove_document(request: Request, source: Annotated[str, Query(description="The document's citation source.")],
                    who: May[Action.REMOVE], kb: str | None = None, rebuild: bool = True) -> dict:
    kb, service = service_for(request, kb)
    audit = office(request).audit
    try:
        recycled = service.remove_document(source, who.id)
    except CorpusError as exc:
        audit.record(who.id, "remove", kb, source, outcome="refused")
        raise Refused("unknown_document", detail=str(exc), source=source) from None
    audit.record(who.id, "remove", kb, source, recycled=recycled.id)
    report = rebuild_report(service) if rebuild else None
    if report:
        audit.record(who.id, "rebuild", kb, source, passages=report["passages"])
    return {"kb": kb, "removed": source, "rebuild": report}


@router.post("/rebuild", summary="Rebuild the index (editor); questions meanwhile use the previous one",
             responses=errors(401, 403, 404, 409, 422, 429))
def rebuild(request: Request, who: May[Action.REBUILD], kb: str | None = None, force: bool = False) -> dict:
    kb, service = service_for(request, kb)
    report = rebuild_report(service, force)
    office(request).audit.record(who.id, "rebuild", kb, outcome="ok", force=force, passages=report["passages"])
    return {"kb": kb, **report}
