"""``pudong-qa mcp``: the MCP tools answer as the API does, in-process and over standard input/output."""

import asyncio
import os
import sys

from conftest import ROOT
from office import copy_project

from pudong_qa.office.knowledge import KnowledgeBases, knowledge_base_specs
from pudong_qa.office.mcp import build_server


def _call(server_or_params, calls):
    from mcp import Client

    async def main():
        async with Client(server_or_params) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            return tools, [(await client.call_tool(name, args)).structured_content for name, args in calls]

    return asyncio.run(main())


def test_tools_answer_as_the_service(project):
    settings = project[0]
    kbs = KnowledgeBases(knowledge_base_specs(settings), log=lambda _: None)
    tools, (answer, refused, docs, bases, many) = _call(build_server(kbs), [
        ("ask", {"question": "管办评 是什么", "top_k": 2}), ("ask", {"question": "？？"}), ("list_documents", {}),
        ("list_knowledge_bases", {}), ("ask_many", {"questions": ["管办评 是什么", ""]})])
    assert tools == {"ask", "ask_many", "list_documents", "list_knowledge_bases"}
    _, service = kbs.get()
    query, expected = service.ask("管办评 是什么", top_k=2)
    assert answer == {**expected.to_dict(), "verdict": expected.verdict, "query": query, "kb": "corpus"}
    assert refused["error"].startswith("no words") and not refused["answered"]
    assert docs["documents"][0]["title"] == "镇政府干部到上海浦东挂职的学习报告"
    assert bases == {"default": "corpus", "knowledge_bases": ["corpus"]}
    assert [r["answered"] for r in many["records"]] == [True, False]


def test_stdio_server(project, tmp_path):
    from mcp.client.stdio import StdioServerParameters

    root = copy_project(project[0], tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUDONG_QA_")} | {"PUDONG_QA_ROOT": str(root)}
    params = StdioServerParameters(command=sys.executable, args=["-c", "from pudong_qa.cli import main; main()", "mcp"],
                                   env=env, cwd=str(ROOT))
    tools, (answer,) = _call(params, [("ask", {"question": "浦东新区下辖多少个街道办事处", "top_k": 1})])
    assert "ask" in tools and answer["answered"] and answer["results"][0]["citation"]["paragraph"] >= 1
