"""Who is using the page, as its handlers ask it: ``PageAccess`` is the interface, and the page
on its own (no office server, as the handler tests build it) is ``LocalAccess``: one local
editor who may do everything, nothing recorded. The office's sign-in implements the same
interface in ``office/page_access.py``."""

from __future__ import annotations

from typing import Protocol


class PageAccess(Protocol):
    def name(self, request) -> str: ...

    def may(self, request, action: str) -> bool: ...

    def refusal(self, request, action: str) -> str | None:
        """None if the person may do ``action``; else the sentence the page shows."""

    def record(self, request, action: str, target: str | list[str] = "", outcome: str = "ok", **detail) -> None: ...

    def banner(self, request) -> str: ...


class LocalAccess:
    """The page without an office: the local editor, nothing recorded."""

    def name(self, request) -> str:
        return "local"

    def may(self, request, action: str) -> bool:
        return True

    def refusal(self, request, action: str) -> str | None:
        return None

    def record(self, request, action: str, target: str | list[str] = "", outcome: str = "ok", **detail) -> None:
        return None

    def banner(self, request) -> str:
        return ""
