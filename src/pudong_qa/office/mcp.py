"""``pudong-qa mcp``: a Model Context Protocol server on standard input/output, so agent tools
(Claude Desktop, Cursor, an MCP-speaking Dify plugin …) can ask the reports. The same service as
the page and the API; the same records as ``/api/ask`` (the evaluation contract plus ``verdict``,
``query`` and ``kb``). It runs as the local user, like the command line, so there is no sign-in.

Tools: ``ask``, ``ask_many``, ``list_documents``, ``list_knowledge_bases``.
"""

from __future__ import annotations

import sys
from typing import Any

from mcp.server.mcpserver import MCPServer

from ..search.query import question_problem
from ..settings import Settings
from .api import record
from .knowledge import KnowledgeBases, knowledge_base_specs

INSTRUCTIONS = ("Retrieval over Chinese reports: every answer is a passage of a report with an exact citation "
                "(document, heading path, paragraph, character offsets). When 'answered' is false (verdict "
                "'not_found' or 'unsure'), the reports do not state the answer: say so rather than guess.")


def build_server(kbs: KnowledgeBases) -> MCPServer:
    server = MCPServer(name="pudong-qa", instructions=INSTRUCTIONS)

    @server.tool(description="Ask the reports one question (plain Chinese works best). Returns the passages that "
                             "answer, best first, each with its citation; 'answered' false means the reports do "
                             "not answer it.")
    def ask(question: str, top_k: int = 3, knowledge_base: str = "",
            previous: list[str] | None = None) -> dict[str, Any]:
        kb, service = kbs.get(knowledge_base or None)
        problem = question_problem(question)
        if problem:
            return {"question": question, "answered": False, "results": [], "error": str(problem), "kb": kb}
        query, resp = service.ask(question, top_k=max(1, min(top_k, 20)), previous=previous or [])
        return record(resp, kb, query)

    @server.tool(description="Ask many questions at once; one record per question, in order.")
    def ask_many(questions: list[str], top_k: int = 3, knowledge_base: str = "") -> dict[str, Any]:
        kb, service = kbs.get(knowledge_base or None)
        responses = service.ask_many(questions[:1000], top_k=max(1, min(top_k, 20)))
        return {"kb": kb, "records": [
            record(r, kb) if r is not None else
            {"question": q, "answered": False, "results": [], "error": str(question_problem(q))}
            for q, r in zip(questions, responses)]}

    @server.tool(description="The documents of a knowledge base: source file, title, characters, passages.")
    def list_documents(knowledge_base: str = "") -> dict[str, Any]:
        kb, service = kbs.get(knowledge_base or None)
        docs = [{k: d.get(k) for k in ("source", "title", "chars", "passages", "format")}
                for d in service.status().documents]
        return {"kb": kb, "documents": docs}

    @server.tool(description="The knowledge bases this server answers from (the default first).")
    def list_knowledge_bases() -> dict[str, Any]:
        return {"default": kbs.default, "knowledge_bases": list(kbs)}

    return server


def run_stdio(settings: Settings, kb_specs: list[str] | tuple[str, ...] = ()) -> None:
    """Load the knowledge bases (messages on stderr: stdout carries the protocol), then serve."""
    kbs = KnowledgeBases(knowledge_base_specs(settings, kb_specs), log=lambda m: print(m, file=sys.stderr, flush=True))
    build_server(kbs).run("stdio")
