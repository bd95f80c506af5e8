"""The JSON API beside the page (``/api/…``; OpenAPI at ``/docs``): a thin layer over one
``QAService`` per knowledge base, no retrieval here.

Answers are the evaluation contract's records (``question``, ``answered``, ``results`` with
``text``, ``answer`` and ``citation``), plus ``verdict`` (answered / unsure / not_found), ``query``
(what was searched) and ``kb``. Who may call what is checked here, server-side, from the principal
the access middleware (``server.py``) found: readers ask and read, editors also add, remove and rebuild.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from ..errors import CorpusError, RebuildBusy
from ..results import SearchResponse
from ..search.query import question_problem
from ..service import QAService, safe_name
from ..settings import Settings
from .audit import AuditLog
from .auth import Access, Principal
from .knowledge import KnowledgeBases, UnknownKnowledgeBase

MAX_BATCH = 1000  # questions in one /api/ask-many request
MAX_PREVIOUS = 20  # earlier questions a follow-up may name


@dataclass
class Office:
    """What a server's routes share: its knowledge bases, who may do what, the audit log, the settings."""

    kbs: KnowledgeBases
    access: Access
    audit: AuditLog
    settings: Settings


def office(request: Request) -> Office:
    return request.app.state.office


def principal(request: Request) -> Principal:
    found = getattr(request.state, "principal", None)
    if found is None:  # the middleware lets no such request through; this is the second lock
        raise HTTPException(401, "sign in, or send Authorization: Bearer <key>")
    return found


def allow(action: str):
    """A dependency: the caller, if their role may do ``action``, else 403 (recorded in the audit log)."""

    def check(request: Request, who: Principal = Depends(principal)) -> Principal:  # noqa: B008
        if not who.may(action):
            office(request).audit.record(who.id, "refused", request.query_params.get("kb", ""), action,
                                         outcome="refused", role=who.role)
            raise HTTPException(403, f"{who.role} may not {action}: an editor's sign-in or key is needed")
        return who

    return check


def service_for(request: Request, kb: str | None) -> tuple[str, QAService]:
    try:
        return office(request).kbs.get(kb)
    except UnknownKnowledgeBase as exc:
        raise HTTPException(404, str(exc)) from None


def record(resp: SearchResponse, kb: str, query: str | None = None) -> dict:
    """The contract's record for one response, with the verdict, the query searched and the knowledge base."""
    return {**resp.to_dict(), "verdict": resp.verdict, "query": resp.query if query is None else query, "kb": kb}


class AskBody(BaseModel):
    question: str = Field(description="The question, in plain Chinese (or another language).")
    top_k: int = Field(3, ge=1, le=100, description="Results to return.")
    kb: str | None = Field(None, description="Knowledge base id; the server's default when empty.")
    previous: list[str] = Field(default_factory=list, max_length=MAX_PREVIOUS,
                                description="Earlier questions of the conversation, oldest first, for follow-ups.")


class AskManyBody(BaseModel):
    questions: list[str] = Field(max_length=MAX_BATCH, description=f"Up to {MAX_BATCH} questions.")
    top_k: int = Field(3, ge=1, le=100)
    kb: str | None = None


router = APIRouter(prefix="/api", tags=["questions and documents"])


@router.get("/knowledge-bases", summary="The knowledge bases this server answers from")
def knowledge_bases(request: Request, who: Principal = Depends(allow("status"))) -> list[dict]:  # noqa: B008
    kbs = office(request).kbs
    out = []
    for kb in kbs:
        service = kbs.services[kb]
        st = service.status()
        out.append({"id": kb, "default": kb == kbs.default, "documents": len(st.documents), "passages": st.passages,
                    "built_at": st.built_at, "rebuilding": service.rebuilding})
    return out


@router.post("/ask", summary="Ask one question")
def ask(body: AskBody, request: Request, who: Principal = Depends(allow("ask"))) -> dict:  # noqa: B008
    kb, service = service_for(request, body.kb)
    problem = question_problem(body.question)
    if problem:
        raise HTTPException(422, str(problem))
    query, resp = service.ask(body.question, top_k=body.top_k, previous=body.previous)
    return record(resp, kb, query) | {"question": body.question}  # as asked, like the CLI's record


@router.post("/ask-many", summary="Ask a list of questions (one record each, in order)")
def ask_many(body: AskManyBody, request: Request, who: Principal = Depends(allow("batch"))) -> dict:  # noqa: B008
    kb, service = service_for(request, body.kb)
    responses = service.ask_many(body.questions, top_k=body.top_k)
    records = [record(r, kb) if r is not None else
               {"question": q, "answered": False, "results": [], "error": str(question_problem(q)), "kb": kb}
               for q, r in zip(body.questions, responses)]
    office(request).audit.record(who.id, "batch", kb, outcome="ok", questions=len(body.questions), via="api")
    return {"kb": kb, "records": records}


@router.get("/documents", summary="The indexed documents")
def documents(request: Request, kb: str | None = None, who: Principal = Depends(allow("documents"))) -> dict:  # noqa: B008
    kb, service = service_for(request, kb)
    return {"kb": kb, "documents": service.status().documents}


@router.get("/status", summary="The state of the index")
def status(request: Request, kb: str | None = None, who: Principal = Depends(allow("status"))) -> dict:  # noqa: B008
    kb, service = service_for(request, kb)
    return {"kb": kb, **service.status().to_dict(), "rebuilding": service.rebuilding}


def upload_name(name: str | None) -> str:
    """An upload's file name as given, if it is a plain name; a path (``../../x.txt``, ``/etc/x``,
    ``a\\b``), a hidden name or one with control characters is refused, not silently renamed."""
    name = name or ""
    if not name.strip() or "/" in name or "\\" in name or name.startswith(".") or safe_name(name) != name:
        raise HTTPException(400, f"{name!r}: give a plain file name (no folders, not hidden), e.g. report.docx")
    return name


def rebuild_report(service: QAService, force: bool = False) -> dict:
    try:
        report = service.rebuild(force=force)
    except RebuildBusy:
        raise HTTPException(409, "a rebuild is already running; the new index is used when it is done") from None
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


@router.post("/documents", summary="Add documents (editor) and rebuild",
             responses={409: {"description": "A file has the name of an indexed document with other content, "
                                             "and replace=true was not given: nothing was added"}})
async def add_documents(request: Request, files: list[UploadFile] = File(...), kb: str | None = None,  # noqa: B008
                        rebuild: bool = True, replace: bool = Query(False, description=(
                            "Replace documents of the same name with these files (the old ones go to the recycle "
                            "folder, restorable with `pudong-qa documents restore`); without it such a file is a "
                            "409 Conflict.")),
                        who: Principal = Depends(allow("add"))) -> dict:  # noqa: B008
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
            message = "; ".join(f"{name}: 已有同名文档 {source},内容不同;确认替换请加 replace=true"
                                for name, source in clashes)
            raise HTTPException(409, {"code": "document_exists", "message": message, "existing": [
                {"name": name, "existing": source} for name, source in clashes]})
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
        raise HTTPException(400, {"added": [], "refused": refused})
    changed = added + [s.source for s in replaced]
    report = await run_in_threadpool(rebuild_report, service) if rebuild and changed else None
    if report:
        audit.record(who.id, "rebuild", kb, changed, outcome="ok", passages=report["passages"])
    return {"kb": kb, "added": added, "replaced": [s.source for s in replaced], "unchanged": unchanged,
            "refused": refused, "rebuild": report,
            **({"message": "; ".join(f"{u}: 内容相同的文档已在知识库中,无需重建" for u in unchanged)}
               if unchanged else {})}


@router.delete("/documents", summary="Remove a document (editor) and rebuild")
def remove_document(request: Request, source: str = Query(description="The document's citation source."),  # noqa: B008
                    kb: str | None = None, rebuild: bool = True,
                    who: Principal = Depends(allow("remove"))) -> dict:  # noqa: B008
    kb, service = service_for(request, kb)
    audit = office(request).audit
    try:
        recycled = service.remove_document(source, who.id)
    except CorpusError as exc:
        audit.record(who.id, "remove", kb, source, outcome="refused")
        raise HTTPException(404, str(exc)) from None
    audit.record(who.id, "remove", kb, source, recycled=recycled.id)
    report = rebuild_report(service) if rebuild else None
    if report:
        audit.record(who.id, "rebuild", kb, source, passages=report["passages"])
    return {"kb": kb, "removed": source, "rebuild": report}


@router.post("/rebuild", summary="Rebuild the index (editor); questions meanwhile use the previous one")
def rebuild(request: Request, kb: str | None = None, force: bool = False,
            who: Principal = Depends(allow("rebuild"))) -> dict:  # noqa: B008
    kb, service = service_for(request, kb)
    report = rebuild_report(service, force)
    office(request).audit.record(who.id, "rebuild", kb, outcome="ok", force=force, passages=report["passages"])
    return {"kb": kb, **report}
