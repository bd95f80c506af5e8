"""The plain ``/doc`` route beside the Gradio app: the document a citation points into (the
app itself is mounted by ``pudong_qa.office.server``)."""

from __future__ import annotations

from .handlers import ChatPage


def doc_route(page: ChatPage):
    """``/doc?doc=…&start=…&end=…[&astart=…&aend=…]``: a citation's document (``doc``: its link
    key, or ``source=`` its source as in the JSON results) with the passage and its answer sentence
    marked; ``&view=panel`` gives the part shown beside the chat, ``&full=1`` the whole document for it;
    ``&page=N&image=1`` the picture of page N of a scanned document."""
    from starlette.responses import HTMLResponse, PlainTextResponse, Response
    from starlette.routing import Route

    def view(request):
        q = request.query_params
        try:
            if "image" in q:  # a scanned page's picture (web/scan_view.py)
                image = page.page_image(q.get("doc", ""), int(q.get("page", 0)))
                return Response(image, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
            answer = (int(q["astart"]), int(q["aend"])) if "astart" in q and "aend" in q else None
            doc, start, end = q.get("doc") or q.get("source", ""), int(q.get("start", 0)), int(q.get("end", 0))
            html = page.document(doc, start, end, answer, panel=q.get("view") == "panel", full=q.get("full") == "1")
        except (KeyError, ValueError):
            return PlainTextResponse("没有这个文档。", status_code=404)
        return HTMLResponse(html)

    return Route("/doc", view, methods=["GET"])
