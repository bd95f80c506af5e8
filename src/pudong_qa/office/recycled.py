"""The recycle folder over HTTP (editors): the documents replaced or removed from a knowledge base,
and putting one back (``QAService.restore_document``), as ``pudong-qa documents`` does locally."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from ..errors import CorpusError
from .api import errors, rebuild_report, service_for
from .auth import Action
from .deps import May, office
from .replies import Refused

router = APIRouter(prefix="/api/documents", tags=["questions and documents"])


@router.get("/recycled", summary="Documents replaced or removed, kept for a while (editor)",
            responses=errors(401, 403, 404, 422, 429))
def recycled(request: Request, who: May[Action.REMOVE], kb: str | None = None) -> dict:
    kb, service = service_for(request, kb)
    service.recycle.prune()
    return {"kb": kb, "days": service.settings.recycle_days,
            "recycled": [e.to_dict() for e in service.recycle.entries()]}


@router.post("/restore", summary="Put a replaced or removed document back (editor) and rebuild",
             responses=errors(401, 403, 404, 409, 422, 429))
async def restore(request: Request, who: May[Action.REMOVE],
                  document: Annotated[str, Query(min_length=1, description=(
                      "A recycled entry's id, or a source or file name (the newest of that name)."))],
                  kb: str | None = None, rebuild: bool = True) -> dict:
    kb, service = service_for(request, kb)
    audit = office(request).audit
    try:
        entry, displaced = await run_in_threadpool(service.restore_document, document, who.id)
    except CorpusError as exc:
        audit.record(who.id, "restore", kb, document, outcome="refused")
        raise Refused(exc.code or "not_recycled", status=404, detail=str(exc), **(
            exc.problem.params if exc.problem else {})) from None
    audit.record(who.id, "restore", kb, entry.source, recycled=entry.id,
                 **({"replaced": displaced.id} if displaced else {}))
    report = await run_in_threadpool(rebuild_report, service) if rebuild else None
    if report:
        audit.record(who.id, "rebuild", kb, entry.source, passages=report["passages"])
    return {"kb": kb, "restored": entry.to_dict(), "recycled": displaced.to_dict() if displaced else None,
            "rebuild": report}
