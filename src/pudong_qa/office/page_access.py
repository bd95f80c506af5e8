"""Who is using the chat page on an office server (``web.access.PageAccess``): the principal
behind a ``gr.Request`` (the access middleware put its id in ``request.username``), whether they
may do an action (checked on the server, whatever the page shows), the audit log of what they
did, and the line naming them."""

from __future__ import annotations

from .. import rendering
from .auth import Principal

ROLE_ZH = {"reader": "读者", "editor": "编辑"}
REFUSED_ZH = "只有编辑可以添加、删除文档或重建索引;你的账号是读者。"


class PageAccess:
    def __init__(self, office, kb: str = "") -> None:
        self.office, self.kb = office, kb

    def who(self, request) -> Principal | None:
        """The person behind ``request``; None when a server that needs sign-in does not know them."""
        return self.office.access.principal(getattr(request, "username", None) if request is not None else None)

    def name(self, request) -> str:
        who = self.who(request)
        return who.id if who else "?"

    def refusal(self, request, action: str) -> str | None:
        """None if the person may do ``action``; else the sentence the page shows (and an audit entry)."""
        who = self.who(request)
        if who is not None and who.may(action):
            return None
        self.record(request, "refused", action, outcome="refused")
        return REFUSED_ZH

    def may(self, request, action: str) -> bool:
        who = self.who(request)
        return who is not None and who.may(action)

    def record(self, request, action: str, target: str | list[str] = "", outcome: str = "ok", **detail) -> None:
        self.office.audit.record(self.name(request), action, self.kb, target, outcome, via="page", **detail)

    def banner(self, request) -> str:
        """“已登录:alice(读者) · 退出登录” for a signed-in person; nothing for the local one or a key."""
        who = self.who(request)
        if who is None or who.kind != "user":
            return ""
        return rendering.render("whoami.html", name=who.name, role=ROLE_ZH.get(who.role, who.role))
