"""The office's OpenAPI, made to tell the truth, and ``/docs`` that works without the internet.

- A bearer security scheme, so generated clients know a key is needed (``/healthz`` needs none).
- The limits of this server's ``Settings`` written into the schema (``maxLength`` of a question,
  ``maximum`` of ``top_k``, ``maxItems`` of a batch), so what the schema allows is what is answered.
- Swagger UI's script and stylesheet come from an installed package (``fastapi-offline``'s copy of
  Swagger UI 5, which reads OpenAPI 3.1), served under ``/docs/assets/``: the office's own network suffices.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from ..settings import Settings

ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon.png": "image/png"}
PUBLIC_PATHS = ("/healthz",)


def _limits(schemas: dict, settings: Settings) -> None:
    """Write the server's limits into the request bodies' schemas."""
    def prop(model: str, name: str) -> dict:
        return schemas.get(model, {}).get("properties", {}).get(name, {})

    def typed(schema: dict, kind: str) -> dict:
        """The branch of ``anyOf`` (``int | None``) that has ``kind``, else the schema itself."""
        return next((s for s in schema.get("anyOf", []) if s.get("type") == kind), schema)

    prop("AskBody", "question")["maxLength"] = settings.max_question_chars
    prop("RetrievalBody", "query")["maxLength"] = settings.max_question_chars
    for model in ("AskBody", "AskManyBody", "RetrievalSetting"):
        typed(prop(model, "top_k"), "integer")["maximum"] = settings.max_top_k
    prop("AskManyBody", "questions")["maxItems"] = settings.max_batch


def describe(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` the truthful schema (built once, on first use)."""

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        components.setdefault("securitySchemes", {})["bearer"] = {
            "type": "http", "scheme": "bearer",
            "description": "An API key: pudong-qa keys add NAME --role reader|editor (or sign in on the page)."}
        schema["security"] = [{"bearer": []}]
        for path in PUBLIC_PATHS:
            for operation in schema.get("paths", {}).get(path, {}).values():
                operation["security"] = []
        _limits(components.get("schemas", {}), settings)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


def docs_routes(openapi_url: str = "/openapi.json") -> list[Route]:
    """``/docs`` (Swagger UI) and its assets from the installed package."""
    static = files("fastapi_offline") / "static"

    async def docs(request) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=openapi_url, title="pudong-qa API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="/docs/assets/favicon.png")

    async def asset(request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return Response(status_code=404)
        return FileResponse(str(static / name), media_type=ASSETS[name],
                            headers={"Cache-Control": "public, max-age=86400"})

    return [Route("/docs", docs, methods=["GET"]), Route("/docs/assets/{name}", asset, methods=["GET"])]
