"""What the office's routes depend on, as ``Annotated`` types (as the FastAPI full-stack template's
``api/deps.py``): the server's shared ``Office``, the caller (``Caller``), the caller if their role
may do an action (``May[Action.ASK]``), and the language an error is told in (``Lang``).

Who may call what is checked here, server-side, from the principal the access middleware
(``signin.py``) found; a refusal is recorded in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from ..messages import language
from ..settings import Settings
from .audit import AuditLog
from .auth import Access, Action, Principal
from .jobs import Jobs
from .knowledge import KnowledgeBases
from .replies import Refused


@dataclass
class Office:
    """What a server's routes share: its knowledge bases, who may do what, the audit log, the settings."""

    kbs: KnowledgeBases
    access: Access
    audit: AuditLog
    settings: Settings
    jobs: Jobs = field(default_factory=Jobs)  # long batches, run one at a time


def office(request: Request) -> Office:
    return request.app.state.office


def principal(request: Request) -> Principal:
    found = getattr(request.state, "principal", None)
    if found is None:  # the middleware lets no such request through; this is the second lock
        raise Refused("signin_needed")
    return found


def lang(request: Request) -> str:
    """``zh`` or ``en``: the language the client asks for (``Accept-Language``), Chinese by default."""
    return language(request.headers.get("accept-language"))


OfficeDep = Annotated[Office, Depends(office)]
Caller = Annotated[Principal, Depends(principal)]
Lang = Annotated[str, Depends(lang)]


def allow(action: Action):
    """A dependency: the caller, if their role may do ``action``, else 403 (recorded in the audit log)."""
    action = Action(action)

    def check(request: Request, who: Caller) -> Principal:
        if not who.may(action):
            office(request).audit.record(who.id, "refused", request.query_params.get("kb", ""), action.value,
                                         outcome="refused", role=who.role)
            raise Refused("role_refused", role=who.role, action=action.value)
        return who

    return check


class _May:
    """``May[Action.ADD]``: the caller, checked for that action (``Annotated`` with ``allow``)."""

    def __getitem__(self, action: Action):
        return Annotated[Principal, Depends(allow(action))]


May = _May()
