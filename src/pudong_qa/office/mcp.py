"""``pudong-qa mcp``: a Model Context Protocol server on standard input/output, so agent tools
(Claude Desktop, Cursor, an MCP-speaking Dify plugin …) can ask the reports. The same service as
the page and the API; the same records as ``/api/ask`` (the evaluation contract plus ``verdict``,
``query`` and ``kb``). It runs as the local user, like the command line, so there is no sign-in.

Tools: ``ask``, ``ask_many``, ``list_documents``, ``list_knowledge_bases``.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from ..asking import answer_record, check_previous, error_record, has_lone_surrogate, question_problem
from ..errors import PudongQAError
from ..settings import DEFAULT_TOP_K, Settings
from .knowledge import KnowledgeBases, knowledge_base_specs

INSTRUCTIONS = ("Retrieval over Chinese reports: every answer is a passage of a report with an exact citation "
                "(document, heading path, paragraph, character offsets). When 'answered' is false (verdict "
                "'not_found' or 'unsure'), the reports do not state the answer: say so rather than guess.")


def build_server(kbs: KnowledgeBases) -> MCPServer:
    server = MCPServer(name="pudong-qa", instructions=INSTRUCTIONS)

    def service_for(knowledge_base: str):
        """(id, service); an unknown id is a tool error naming the knowledge bases there are."""
        try:
            return kbs.get(knowledge_base or None)
        except PudongQAError as exc:
            raise ToolError(str(exc)) from None

    @server.tool(description="Ask the reports one question (plain Chinese works best). Returns the passages that "
                             "answer, best first, each with its citation; 'answered' false means the reports do "
                             f"not answer it. top_k: results, default {DEFAULT_TOP_K}, at most the server's "
                             "PUDONG_QA_MAX_TOP_K.")
    def ask(question: str, top_k: int | None = None, knowledge_base: str = "",
            previous: list[str] | None = None) -> dict[str, Any]:
        kb, service = service_for(knowledge_base)
        problem = question_problem(question, service.settings)
        if problem:
            return error_record(question, problem, kb)
        try:
            query, resp = service.ask(question, top_k=top_k, previous=check_previous(previous, service.settings))
        except PudongQAError as exc:  # past a limit, or an earlier question that cannot be asked: said
            raise ToolError(str(exc)) from None
        return answer_record(resp, kb, query)

    @server.tool(description="Ask many questions at once; one record per question, in order. At most the "
                             "server's PUDONG_QA_MAX_BATCH questions (a longer list is refused, not cut).")
    def ask_many(questions: list[str], top_k: int | None = None, knowledge_base: str = "") -> dict[str, Any]:
        kb, service = service_for(knowledge_base)
        try:
            responses = service.ask_many(questions, top_k=top_k)
        except PudongQAError as exc:
            raise ToolError(str(exc)) from None
        return {"kb": kb, "records": [answer_record(r, kb) if r is not None else
                                      error_record(q, question_problem(q, service.settings), kb)
                                      for q, r in zip(questions, responses)]}

    @server.tool(description="The documents of a knowledge base: source file, title, characters, passages.")
    def list_documents(knowledge_base: str = "") -> dict[str, Any]:
        kb, service = service_for(knowledge_base)
        docs = [{k: d.get(k) for k in ("source", "title", "chars", "passages", "format")}
                for d in service.status().documents]
        return {"kb": kb, "documents": docs}

    @server.tool(description="The knowledge bases this server answers from (the default first).")
    def list_knowledge_bases() -> dict[str, Any]:
        return {"default": kbs.default, "knowledge_bases": list(kbs)}

    return server


MAX_DEPTH = 64  # nesting a message may have: JSON-RPC needs a handful, 50,000 would exhaust the parser's stack
PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602


def _depth(line: str) -> int:
    """How deep ``line``'s arrays and objects nest, counted outside strings, without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in line:
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return has_lone_surrogate(value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(map(_has_lone_surrogate, value))
    return False


def screen(line: str) -> dict | None:
    """The JSON-RPC error answering ``line`` if the SDK could not take it (not JSON, nested past
    ``MAX_DEPTH``, a lone surrogate that could not be written back as UTF-8), else None."""
    def error(code: int, message: str, ident: Any = None) -> dict:
        return {"jsonrpc": "2.0", "id": ident, "error": {"code": code, "message": message}}

    if _depth(line) > MAX_DEPTH:
        return error(INVALID_REQUEST, f"Invalid request: nested deeper than {MAX_DEPTH} levels")
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return error(PARSE_ERROR, "Parse error: not a JSON text")
    if not isinstance(message, dict | list):
        return error(INVALID_REQUEST, "Invalid request: not a JSON-RPC object")
    if _has_lone_surrogate(message):
        ident = message.get("id") if isinstance(message, dict) else None
        return error(INVALID_PARAMS, "Invalid params: a string holds a lone surrogate (not valid Unicode)",
                     ident if isinstance(ident, str | int) and not isinstance(ident, bool) else None)
    return None


class _Wire:
    """Standard output for JSON-RPC lines, written whole, one at a time (the SDK's replies and ours)."""

    def __init__(self) -> None:
        self.out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", errors="replace", write_through=True)
        self.lock = anyio.Lock()

    async def write(self, text: str) -> None:
        async with self.lock:
            await anyio.to_thread.run_sync(self.out.write, text)

    async def flush(self) -> None:
        async with self.lock:
            await anyio.to_thread.run_sync(self.out.flush)


class _ScreenedLines:
    """Standard input's lines for the SDK, less those ``screen`` answers here; blank lines are skipped."""

    def __init__(self, wire: _Wire) -> None:
        self.wire = wire
        self.lines = anyio.wrap_file(io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace"))

    async def __aiter__(self):
        async for line in self.lines:
            if not line.strip():
                continue
            refusal = screen(line)
            if refusal is None:
                yield line
            else:
                await self.wire.write(json.dumps(refusal, ensure_ascii=False) + "\n")
                await self.wire.flush()


def serve_stdio(kbs: KnowledgeBases) -> None:
    """Serve MCP on standard input/output, answering every line: a line the SDK could not take gets
    its JSON-RPC error here (and the server keeps serving) instead of no reply at all."""
    from mcp.server.stdio import stdio_server

    server = build_server(kbs)
    lowlevel = server._lowlevel_server  # MCPServer.run_stdio_async, with our streams

    async def main() -> None:
        wire = _Wire()
        async with stdio_server(stdin=_ScreenedLines(wire), stdout=wire) as (read, write):
            await lowlevel.run(read, write, lowlevel.create_initialization_options())

    anyio.run(main)


def run_stdio(settings: Settings, kb_specs: list[str] | tuple[str, ...] = ()) -> None:
    """Load the knowledge bases (messages on stderr: stdout carries the protocol), then serve."""
    kbs = KnowledgeBases(knowledge_base_specs(settings, kb_specs), log=lambda m: print(m, file=sys.stderr, flush=True))
    serve_stdio(kbs)
