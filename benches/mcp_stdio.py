"""Times MCP tool calls to `kiroku mcp` over stdio with the official Python MCP client.

    python3 benches/mcp_stdio.py KIROKU_BINARY STORE CALLS FILTER SORT

Starts the server (timing spawn + initialize + the first call: the cold end-to-end figure),
then makes CALLS `search_runs` calls with the same arguments on the open session, each timed
from the request to the parsed result. Prints one JSON line: cold_ms, per-call median_ms and
p95_ms, and the total the search reported (to check it searched what it should).
"""
import asyncio
import json
import statistics
import sys
import time

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client


async def main():
    binary, store, calls, flt, sort = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    args = {"filter": flt, "sort": sort, "limit": 20, "columns": ["status", "name", "params.lr", "metrics.acc"]}
    started = time.perf_counter()
    params = StdioServerParameters(command=binary, args=["--store", store, "mcp", "--read-only"])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            first = await session.call_tool("search_runs", args)
            cold_ms = (time.perf_counter() - started) * 1000
            assert not first.is_error, first.content
            times = []
            total = first.structured_content["total"]
            for _ in range(calls):
                t0 = time.perf_counter()
                result = await session.call_tool("search_runs", args)
                times.append((time.perf_counter() - t0) * 1000)
                assert not result.is_error and result.structured_content["total"] == total
    times.sort()
    print(json.dumps({
        "cold_ms": round(cold_ms, 1),
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
        "total": total,
        "returned": len(first.structured_content["runs"]),
    }))


asyncio.run(main())
