"""The chat page (Gradio 6): chat with cited answers, batch questions, the index and its documents.

- ``handlers`` — ``ChatPage``, every event handler, over one ``QAService`` (no retrieval here: the
  page renders what the service returns; ``rendering.py`` turns results into HTML, ``batch.py``
  reads question files and writes the downloads).
- ``layout`` — ``build_demo(service)``: the tabs and which control calls which handler.
- ``routes`` — the ``/doc`` route (``pudong_qa.office.server`` mounts the page and this route).
- ``static`` — the CSS, script and source-view template in ``assets/`` (package data).
"""

from __future__ import annotations

from .handlers import UPLOAD_LIMIT_BYTES, ChatPage
from .layout import EXAMPLES, build_demo

__all__ = ["EXAMPLES", "UPLOAD_LIMIT_BYTES", "ChatPage", "build_demo"]
