"""Drives kiroku's MCP server with the official Python MCP client (`pip install mcp`).

    python3 mcp_client.py stdio KIROKU_BIN STORE [EXTRA_ARG...] < plan.json
    python3 mcp_client.py http URL TOKEN < plan.json

The plan is a JSON list of steps, run in order in one session:
    {"op": "list_tools"}                      -> {"tools": [names]}
    {"op": "call", "name": N, "args": {...}}  -> {"is_error", "text", "structured"}
    {"op": "templates"}                       -> {"templates": [uri templates]}
    {"op": "read", "uri": U}                  -> {"text"} or {"error"}
    {"op": "poll", "name": N, "args": {...}, "path": [k...], "until": [v...], "timeout": S}
        calls N until structured[path] is one of `until` -> the last call's result
Prints one JSON line: {"server": initialize's serverInfo, "results": [...]}.
"""
import asyncio
import json
import sys
import time

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client


def shape_call(result):
    text = "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
    return {"is_error": bool(result.is_error), "text": text, "structured": result.structured_content}


def dig(value, path):
    for key in path:
        if value is None:
            return None
        value = value.get(key) if isinstance(value, dict) else None
    return value


async def run_plan(session, plan):
    init = await session.initialize()
    results = []
    for step in plan:
        op = step["op"]
        if op == "list_tools":
            tools = await session.list_tools()
            results.append({"tools": [t.name for t in tools.tools],
                            "schemas": {t.name: t.input_schema for t in tools.tools}})
        elif op == "call":
            results.append(shape_call(await session.call_tool(step["name"], step.get("args", {}))))
        elif op == "templates":
            t = await session.list_resource_templates()
            results.append({"templates": [x.uri_template for x in t.resource_templates]})
        elif op == "read":
            try:
                r = await session.read_resource(step["uri"])
                results.append({"text": r.contents[0].text})
            except Exception as e:  # a protocol error: the resource does not exist
                results.append({"error": str(e)})
        elif op == "poll":
            deadline = time.monotonic() + step.get("timeout", 60)
            while True:
                shaped = shape_call(await session.call_tool(step["name"], step.get("args", {})))
                value = dig(shaped["structured"], step["path"])
                if value in step["until"] or time.monotonic() > deadline:
                    results.append(shaped)
                    break
                await asyncio.sleep(0.3)
        else:
            raise SystemExit(f"unknown op {op}")
    return {"server": init.server_info.name, "results": results}


async def main():
    mode = sys.argv[1]
    plan = json.load(sys.stdin)
    if mode == "stdio":
        params = StdioServerParameters(
            command=sys.argv[2], args=["--store", sys.argv[3], "mcp", *sys.argv[4:]]
        )
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                out = await run_plan(session, plan)
    else:
        import httpx2

        headers = {"Authorization": f"Bearer {sys.argv[3]}"} if sys.argv[3] else {}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as client:
            async with streamable_http_client(sys.argv[2], http_client=client) as (read, write):
                async with ClientSession(read, write) as session:
                    out = await run_plan(session, plan)
    print(json.dumps(out))


asyncio.run(main())
