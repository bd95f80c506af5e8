"""Serving the page: the service loaded once, the Gradio app, and the plain ``/doc`` route that
shows the document a citation points into."""

from __future__ import annotations

import gradio as gr

from ..service import QAService
from ..settings import Settings
from .handlers import UPLOAD_LIMIT_BYTES, ChatPage
from .layout import build_demo
from .static import css_paths, head


def doc_route(page: ChatPage):
    """``/doc?doc=…&start=…&end=…[&astart=…&aend=…]``: a citation's document (``doc``: its link
    key, or ``source=`` its source as in the JSON results) with the passage and its answer sentence
    marked; ``&view=panel`` gives the part shown beside the chat, ``&full=1`` the whole document for it."""
    from starlette.responses import HTMLResponse, PlainTextResponse
    from starlette.routing import Route

    def view(request):
        q = request.query_params
        try:
            answer = (int(q["astart"]), int(q["aend"])) if "astart" in q and "aend" in q else None
            doc, start, end = q.get("doc") or q.get("source", ""), int(q.get("start", 0)), int(q.get("end", 0))
            html = page.document(doc, start, end, answer, panel=q.get("view") == "panel", full=q.get("full") == "1")
        except (KeyError, ValueError):
            return PlainTextResponse("没有这个文档。", status_code=404)
        return HTMLResponse(html)

    return Route("/doc", view, methods=["GET"])


def serve(settings: Settings, share: bool = False, block: bool = True) -> gr.Blocks:
    """Load the model and index (building the index first if missing or stale), then serve the page."""
    service = QAService(settings, log=lambda m: print(m, flush=True))
    demo = build_demo(service, settings)
    demo.queue(default_concurrency_limit=settings.concurrency)
    demo.launch(server_name=settings.host, server_port=settings.port, share=share, css_paths=css_paths(),
                head=head(), show_error=False, max_file_size=max(UPLOAD_LIMIT_BYTES, settings.max_file_bytes),
                prevent_thread_lock=not block, quiet=False, footer_links=[],
                app_kwargs={"routes": [doc_route(ChatPage(service))]})
    return demo
