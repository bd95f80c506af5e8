"""MCP over standard input/output, as clients no one here wrote speak it: raw lines with a timeout
(every line answered: not JSON -32700, nested 50,000 deep -32600, a lone surrogate -32602, and the
server keeps serving), the official MCP SDK client, limits said rather than cut, and the real
``pudong-qa mcp`` not loading FastAPI. The raw cases run over fake services (tests/fake_office.py)."""

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT

TESTS = Path(__file__).resolve().parent
TIMEOUT = 20  # seconds a reply may take; no reply at all fails the test instead of hanging it


class Wire:
    """A subprocess speaking JSON-RPC lines on stdin/stdout, read with a timeout."""

    def __init__(self, args: list[str], env: dict, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, cwd=str(ROOT))
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def send(self, text: str) -> None:
        self.proc.stdin.write(text.encode("utf-8", "surrogatepass") + b"\n")
        self.proc.stdin.flush()

    def reply(self) -> dict:
        try:
            return json.loads(self.lines.get(timeout=self.timeout))
        except queue.Empty:
            raise AssertionError(f"no reply in {self.timeout} s") from None

    def call(self, ident: int, method: str, params: dict | None = None) -> dict:
        message = {"jsonrpc": "2.0", "id": ident, "method": method} | ({"params": params} if params else {})
        self.send(json.dumps(message, ensure_ascii=False))
        return self.reply()

    def close(self) -> str:
        self.proc.stdin.close()
        try:
            self.proc.wait(self.timeout)
        finally:
            self.proc.kill()
        return self.proc.stderr.read().decode("utf-8", "replace")


def clean_env(**extra) -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("PUDONG_QA_")} | extra


def initialize(wire: Wire) -> dict:
    hello = wire.call(1, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                        "clientInfo": {"name": "raw", "version": "1"}})
    wire.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    return hello


@pytest.fixture()
def fake_wire(tmp_path):
    env = clean_env(PYTHONPATH=str(TESTS), PUDONG_QA_MAX_BATCH="5")
    wire = Wire([sys.executable, str(TESTS / "fake_office.py"), str(tmp_path)], env)
    yield wire
    wire.close()


def ask(wire: Wire, ident: int, **arguments) -> dict:
    return wire.call(ident, "tools/call", {"name": arguments.pop("tool", "ask"), "arguments": arguments})


def test_every_line_gets_an_answer_and_the_server_keeps_serving(fake_wire):
    wire = fake_wire
    assert initialize(wire)["result"]["serverInfo"]["name"] == "pudong-qa"
    wire.send("this is not JSON")
    assert wire.reply() == {"jsonrpc": "2.0", "id": None, "error": {"code": -32700,
                                                                    "message": "Parse error: not a JSON text"}}
    assert ask(wire, 2, question="管办评是什么")["result"]["structuredContent"]["answered"]
    wire.send("[" * 50_000 + "]" * 50_000)
    assert wire.reply()["error"]["code"] == -32600
    wire.send('{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "ask", '
              '"arguments": {"question": "\\ud800 管"}}}')
    invalid = wire.reply()
    assert (invalid["id"], invalid["error"]["code"]) == (3, -32602)
    wire.send('{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "ask", '
              '"arguments": {"question": "' + "\ud800" + ' 管"}}}')  # raw, not escaped: bytes that are not UTF-8
    assert wire.reply()["id"] == 4
    assert ask(wire, 5, question="管办评是什么")["result"]["structuredContent"]["kb"] == "corpus"


def test_refusals_say_why(fake_wire):
    wire = fake_wire
    initialize(wire)
    unknown = ask(wire, 2, question="管办评是什么", knowledge_base="nope")["result"]
    assert unknown["isError"] and "nope" in unknown["content"][0]["text"] and "corpus" in unknown["content"][0]["text"]
    too_many = ask(wire, 3, tool="ask_many", questions=["管办评是什么"] * 6)["result"]  # PUDONG_QA_MAX_BATCH=5
    assert too_many["isError"] and "at most 5" in too_many["content"][0]["text"]
    top_k = ask(wire, 4, question="管办评是什么", top_k=99)["result"]
    assert top_k["isError"] and "1 to 20" in top_k["content"][0]["text"]
    many = ask(wire, 5, tool="ask_many", questions=["管办评是什么", ""])["result"]["structuredContent"]
    assert [(r["answered"], r["kb"], r.get("error")) for r in many["records"]] == [
        (True, "corpus", None), (False, "corpus", "empty question")]


def test_the_official_sdk_client(tmp_path):
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=[str(TESTS / "fake_office.py"), str(tmp_path)],
                                   env=clean_env(PYTHONPATH=str(TESTS)), cwd=str(ROOT))

    async def main():
        async with Client(params) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            answer = await client.call_tool("ask", {"question": "管办评是什么", "top_k": 2})
            refused = await client.call_tool("ask", {"question": "管办评是什么", "knowledge_base": "nope"})
            return tools, answer, refused

    tools, answer, refused = asyncio.run(asyncio.wait_for(main(), 60))
    assert tools == {"ask", "ask_many", "list_documents", "list_knowledge_bases"}
    assert len(answer.structured_content["results"]) == 2 and answer.structured_content["verdict"] == "answered"
    assert refused.is_error and "this server has corpus" in refused.content[0].text


def test_pudong_qa_mcp_does_not_load_fastapi(project, tmp_path):
    from office import copy_project

    root = copy_project(project[0], tmp_path)
    probe = ("import atexit, sys; atexit.register(lambda: print('fastapi loaded:', 'fastapi' in sys.modules, "
             "file=sys.stderr, flush=True)); from pudong_qa.cli import main; main()")
    wire = Wire([sys.executable, "-c", probe, "mcp"], clean_env(PUDONG_QA_ROOT=str(root)),
                timeout=120)  # the first reply waits for the model to load
    try:
        initialize(wire)
        answer = ask(wire, 2, question="浦东新区下辖多少个街道办事处", top_k=1)["result"]["structuredContent"]
        assert answer["answered"] and answer["kb"] == "corpus"
    finally:
        stderr = wire.close()
    assert "fastapi loaded: False" in stderr
