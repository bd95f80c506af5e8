"""The door of a served pudong-qa: the access middleware in front of every route (page, Gradio's
own API, ``/api``, ``/retrieval``, ``/docs``), and the sign-in page.

Every request is looked at once, here: an ``Authorization: Bearer`` key, else the session cookie
of a sign-in. A given credential that is not valid is refused (401), even on a server that needs no
sign-in. Without credentials, only ``/login``, ``/logout`` and ``/healthz`` answer when sign-in is
required; every other path gets 401 (a page request the sign-in form, with that status). A key over
its rate limit gets 429 with ``Retry-After``; a request body over the limit 413, before it is read
whole; both are recorded in the audit log. Refusals are ``replies.ErrorBody``, except on the paths
of a door that renders its own (``renderers``: Dify's ``/retrieval``, in Dify's shape).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from .. import rendering
from ..errors import Problem
from .auth import SESSION_COOKIE, Access, Principal
from .replies import CHALLENGE, Refused, error_response, request_language

PUBLIC = frozenset({"/login", "/logout", "/healthz"})
AUDITED = frozenset({413, 429})  # refusals the audit log records, per key (never the body)

# A door that renders its own refusals (Dify's /retrieval): (does this path belong to it, render)
Renderer = tuple[Callable[[str], bool], Callable[[Problem, int, dict], Response]]


class AccessMiddleware:
    """Pure ASGI: authenticates, rate-limits and caps request bodies for the whole app. Refusals are
    ``replies.ErrorBody`` unless a door renders its own (``renderers``, e.g. Dify's); the 413s and
    429s are recorded in the audit log, once a second at most per key."""

    def __init__(self, app, access: Access, max_body: int, renderers: tuple[Renderer, ...] = (), audit=None) -> None:
        self.app, self.access, self.max_body = app, access, max_body
        self.renderers, self.audit = renderers, audit
        self._last_audit: dict[tuple[str, int], float] = {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refused, who = self.check(request)
        if refused is not None:
            if scope["type"] == "websocket":  # no HTTP answer on a websocket: close it (policy violation)
                await send({"type": "websocket.close", "code": 1008})
            else:
                await self.refusal(request, refused, who)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = who
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            await self.refusal(request, self.too_large(), who)(scope, receive, send)
            return
        await self.capped(request, who, scope, receive, send)

    def check(self, request: Request) -> tuple[Refused | None, Principal | None]:
        """(the refusal, who asked if known) or (None, who makes it: None on a public path)."""
        path = request.url.path
        auth = request.headers.get("authorization")
        who = None
        if auth is not None:
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return Refused("bad_authorization"), None
            who = self.access.from_key(token.strip())
            if who is None:
                return Refused("key_not_valid"), None
            wait = self.access.key_wait(who)
            if wait > 0:
                return Refused("rate_limited", headers={"Retry-After": str(max(1, round(wait + 0.5)))},
                               key=who.name, wait=wait), who
        elif token := request.cookies.get(SESSION_COOKIE):
            who = self.access.from_session(token)
        who = who or self.access.local
        if who is None and path not in PUBLIC:
            return Refused("signin_needed"), None
        return None, who

    def too_large(self) -> Refused:
        return Refused("body_too_large", limit_mb=self.max_body / 2**20)

    def refusal(self, request: Request, refused: Refused, who: Principal | None) -> Response:
        """The response refusing ``request``: the door's own body, the sign-in page for a browser, or ``ErrorBody``."""
        if refused.status in AUDITED and self.audit is not None:
            self.record(request, refused, who)
        path = request.url.path
        for claims, render in self.renderers:
            if claims(path):
                return render(refused.problem, refused.status, refused.headers)
        if refused.code == "signin_needed" and wants_html(request):
            return login_page(path_with_query(request), status=401)
        return error_response(refused, request_language(request))

    def record(self, request: Request, refused: Refused, who: Principal | None) -> None:
        """One audit entry for a refused request (who, path, status, code), at most one a second per key and status."""
        ident = who.id if who else f"address:{client_address(request)}"
        now = time.monotonic()
        if now - self._last_audit.get((ident, refused.status), -1.0) < 1.0:
            return
        if len(self._last_audit) > 10_000:
            self._last_audit.clear()
        self._last_audit[(ident, refused.status)] = now
        self.audit.record(ident, "refused", target=request.url.path, outcome="refused", status=refused.status,
                          code=refused.code, method=request.method)

    async def capped(self, request: Request, who: Principal | None, scope, receive, send) -> None:
        """Pass on, counting the body as it is read: past ``max_body`` the app is told the client
        left (it stops reading), and whatever it would answer is replaced by 413."""
        seen, over, answered = 0, False, False

        async def counting_receive():
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def watching_send(message):
            nonlocal answered
            if over:
                if not answered:
                    answered = True
                    await self.refusal(request, self.too_large(), who)(scope, receive, send)
                return
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except Exception:
            if not over:
                raise
        if over and not answered:
            await self.refusal(request, self.too_large(), who)(scope, receive, send)


def wants_html(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


def path_with_query(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this server only (never ``//host`` or a URL)."""
    target = target or "/"
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def login_page(next_path: str = "/", message: str = "", status: int = 200, headers: dict | None = None,
               user: str = "") -> Response:
    """The form; after a refusal it keeps the name typed (this browser's own) and asks for the password."""
    page = rendering.render("signin_page.html", next=quote(safe_next(next_path), safe="/?=&"), message=message,
                            user=user)
    return HTMLResponse(page, status_code=status,
                        headers={**CHALLENGE, **(headers or {})} if status == 401 else headers)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


def routes(access: Access, audit):
    """``/login`` (the form, and signing in with it), ``/logout``."""
    from starlette.routing import Route

    async def login(request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        if request.method == "GET":
            return login_page(next_path)
        form = await request.form()
        user, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
        who, wait = access.sign_in(user, password, client_address(request))
        if who is None:
            if wait > 0:
                return login_page(next_path, f"尝试次数过多,请在 {wait:.0f} 秒后再试。", status=429,
                                  headers={"Retry-After": str(max(1, round(wait + 0.5)))})
            # a name nobody has may be a password typed in the wrong box: it is not written down
            known = user if access.users.role(user) else "(unknown name)"
            audit.record(known, "signin-failed", outcome="refused", address=client_address(request))
            return login_page(next_path, "用户名或密码不正确。", status=401, user=user)
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(SESSION_COOKIE, access.sessions.create(who.name), httponly=True, samesite="lax",
                            secure=request.url.scheme == "https", max_age=int(access.sessions.ttl), path="/")
        return response

    async def logout(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            access.sessions.end(token)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return [Route("/login", login, methods=["GET", "POST"]), Route("/logout", logout, methods=["GET", "POST"])]
