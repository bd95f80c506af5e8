"""One server for the page and the API: a FastAPI app with the JSON API (``/api/…``, ``api.py``),
Dify's ``/retrieval`` (``dify.py``), the sign-in page (``signin.py``), ``/healthz``, OpenAPI docs at
``/docs`` (``openapi.py``, no CDN), and the Gradio page mounted at ``/`` — all behind one access
middleware, over one ``QAService`` per knowledge base (``knowledge.py``); errors are
``replies.ErrorBody``. ``pudong-qa serve`` runs it with uvicorn.

Users, keys and the audit log are files in the data folder (``PUDONG_QA_DATA_DIR``, default
``<root>/data``): ``users.json``, ``keys.json``, ``audit.jsonl``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI, Request

from ..errors import PudongQAError
from ..settings import Settings
from .audit import AuditLog
from .auth import Access, signin_required
from .deps import Office
from .keys import KeyStore
from .knowledge import KnowledgeBases, knowledge_base_specs
from .users import UserStore

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_FILES_PER_REQUEST = 5  # the body limit: this many corpus files of the largest accepted size, plus 1 MiB

DESCRIPTION = """Retrieval question answering over Chinese reports, with exact citations and honest refusals.

Send `Authorization: Bearer <key>` (keys: `pudong-qa keys add NAME --role reader|editor`), or sign in on the
page first. Answers are the evaluation contract's records plus `verdict`, `query` and `kb`. `POST /retrieval`
is Dify's External Knowledge API."""


def max_body(settings: Settings) -> int:
    return MAX_FILES_PER_REQUEST * settings.max_file_bytes + 2**20


def make_office(settings: Settings, kb_specs: list[str] | tuple[str, ...] = (), log: Callable[[str], None] = print,
                service_factory: Callable | None = None) -> Office:
    """The server's knowledge bases (loaded, indexes built if needed), access rules and audit log.
    Refuses to start when sign-in is required and nobody could sign in."""
    required = signin_required(settings.host, settings.require_signin)
    users, keys = UserStore.for_data_dir(settings.data_dir), KeyStore.for_data_dir(settings.data_dir)
    if required and not len(users) and not len(keys):
        where = "" if settings.require_signin else f" (listening on {settings.host}, beyond loopback)"
        raise PudongQAError(f"sign-in is required{where} but {settings.data_dir} has no users or keys: "
                            "add one with `pudong-qa users add NAME --role editor` first")
    specs = knowledge_base_specs(settings, kb_specs)
    access = Access(users, keys, required, key_rate=settings.key_rate, session_hours=settings.session_hours)
    return Office(KnowledgeBases(specs, log=log, service_factory=service_factory), access,
                  AuditLog.for_data_dir(settings.data_dir), settings)


def build_app(office: Office, page: bool = True) -> FastAPI:
    """The FastAPI app: API, Dify, sign-in, health, and (``page``) the chat page at ``/``."""
    from . import api, dify, openapi, recycled, replies, signin

    try:
        release = version("pudong-qa")
    except PackageNotFoundError:
        release = "?"
    app = FastAPI(title="pudong-qa", version=release, description=DESCRIPTION, docs_url=None, redoc_url=None)
    app.state.office = office
    replies.install(app)
    openapi.describe(app, office.settings)
    app.router.routes.extend(openapi.docs_routes())
    app.include_router(api.router)
    app.include_router(recycled.router)
    app.include_router(dify.router)
    app.router.routes.extend(signin.routes(office.access, office.audit))

    @app.get("/healthz", tags=["health"], summary="Liveness for container health checks (no sign-in)")
    def healthz() -> dict:
        return {"status": "ok", "knowledge_bases": len(office.kbs)}

    app.router.routes.append(wrong_method_route(app, ("/api/", *dify.PATHS)))

    if page:
        mount_page(app, office)
    app.add_middleware(signin.AccessMiddleware, access=office.access, max_body=max_body(office.settings),
                       renderers=((dify.is_dify_path, dify.render),), audit=office.audit)
    return app


def wrong_method_route(app: FastAPI, prefixes: tuple[str, ...]):
    """A route, before the page's mount at ``/`` (which would answer 404), that gives the API's paths
    405 with ``Allow`` for a method they do not take, and unknown ``/api/…`` paths 404."""
    from starlette.exceptions import HTTPException
    from starlette.routing import Match, Mount, Route

    def claims(path: str) -> bool:
        return any(path == p.rstrip("/") or path.startswith(p) for p in prefixes)

    async def refuse(request: Request):
        scope = dict(request.scope)
        routes = [r for r in app.router.routes if r is not this and not isinstance(r, Mount)]  # not the page
        allowed = [m for m in METHODS if any(r.matches({**scope, "method": m})[0] == Match.FULL for r in routes)]
        if allowed:
            raise HTTPException(405, headers={"Allow": ", ".join(allowed)})
        raise HTTPException(404)

    class Fallback(Route):
        def matches(self, scope):
            if scope["type"] == "http" and claims(scope["path"]):
                return Match.FULL, {}
            return Match.NONE, {}

        async def handle(self, scope, receive, send):  # every method: refusing them is its job
            await self.app(scope, receive, send)

    this = Fallback("/api/{rest:path}", refuse, include_in_schema=False)
    return this


def mount_page(app: FastAPI, office: Office) -> None:
    """The Gradio page over the default knowledge base, at ``/``; its handlers learn who asks from
    ``gr.Request.username`` (the principal's id, from the access middleware)."""
    import gradio as gr

    from ..web import build_demo
    from ..web.handlers import UPLOAD_LIMIT_BYTES, ChatPage
    from ..web.routes import doc_route
    from ..web.static import css_paths, head
    from .page_access import PageAccess

    settings = office.settings
    kb, service = office.kbs.get()
    demo = build_demo(service, service.settings, PageAccess(office, kb))
    demo.queue(default_concurrency_limit=settings.concurrency)
    app.router.routes.append(doc_route(ChatPage(service)))

    def who(request: Request) -> str | None:
        found = getattr(request.state, "principal", None)
        return found.id if found else None

    gr.mount_gradio_app(app, demo, path="/", auth_dependency=who, css_paths=css_paths(), head=head(),
                        show_error=False, max_file_size=max(UPLOAD_LIMIT_BYTES, settings.max_file_bytes),
                        footer_links=[])


def serve(settings: Settings, kb_specs: list[str] | tuple[str, ...] = (), block: bool = True):
    """Load every knowledge base (building indexes first if missing or stale), then serve page and API."""
    import uvicorn

    office = make_office(settings, kb_specs, log=lambda m: print(m, flush=True))
    app = build_app(office)
    how = "sign-in required" if office.access.required else "no sign-in (loopback; PUDONG_QA_REQUIRE_SIGNIN=1 asks)"
    print(f"Serving {', '.join(office.kbs)} on http://{settings.host}:{settings.port}/ ({how}); "
          f"API docs at /docs", flush=True)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if block:
        server.run()
    return server
