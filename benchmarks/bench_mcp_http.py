# SPDX-License-Identifier: Apache-2.0
"""MCP start-up and concurrency, with the SDK's own client (issue 15's speed targets).

1. Start to first tools/list: spawn `ocrnet mcp` (stdio) and `ocrnet mcp --http 127.0.0.1:0`, connect, first
   `tools/list` answer; median of N. Target: < 1 s.
2. One session, 20 concurrent calls (`ocrnet_job_status` of a missing job, `ocrnet_describe_action`,
   `tools/list`, mixed) over HTTP: errors (protocol or transport; an isError result for the missing job is
   the expected answer, not an error) and wall time. Target: 0 errors.
3. 20 separate HTTP clients at once, each its own session: connect, tools/list, a tool call. Target: 0 errors.
4. Sessions never run out: 25 sessions opened and never closed with `--max-sessions 16`, then one more
   client that must work. Target: 0 errors.

    python benchmarks/bench_mcp_http.py [--starts N] [--concurrency N]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import _common

START_TARGET_MS = 1000.0
SESSIONS_CAP = 16
SESSIONS_OPENED = 25


@contextmanager
def http_server(env: dict[str, str], workspace: Path, *extra: str) -> Any:
    proc = subprocess.Popen(
        ["ocrnet", "mcp", "--workspace", str(workspace), "--http", "127.0.0.1:0", *extra],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        url = None
        while url is None:
            line = proc.stderr.readline()
            if not line:
                raise RuntimeError("the HTTP server did not start")
            m = re.search(r"on (http://127\.0\.0\.1:\d+/mcp)", line)
            url = m.group(1) if m else None
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def http_client(url: str) -> Any:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    return Client(streamable_http_client(url), mode="legacy", cache=None)


async def bench_start(env: dict[str, str], workspace: Path, starts: int) -> None:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    stdio, http = [], []
    params = StdioServerParameters(command="ocrnet", args=["mcp", "--workspace", str(workspace)], env=env)
    for _ in range(starts):
        t0 = time.perf_counter()
        async with Client(params, mode="legacy", cache=None) as client:
            await client.list_tools()
            stdio.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        with http_server(env, workspace) as url:
            async with http_client(url) as client:
                await client.list_tools()
                http.append((time.perf_counter() - t0) * 1000)
    for name, values in (("stdio", stdio), ("HTTP", http)):
        print(f"start to first tools/list, {name}: median {statistics.median(values):.0f} ms "
              f"(min {min(values):.0f}, max {max(values):.0f}; n={len(values)})")  # fmt: skip
        _common.verdict(f"start to first tools/list ({name})", statistics.median(values), START_TARGET_MS, " ms",
                        higher_is_better=False)  # fmt: skip


async def gather(jobs: list[Callable[[], Awaitable[None]]]) -> tuple[int, list[str]]:
    """Run every job at once; (successes, error texts)."""
    import anyio

    errors: list[str] = []
    done = 0

    async def one(job: Callable[[], Awaitable[None]]) -> None:
        nonlocal done
        try:
            await job()
            done += 1
        except Exception as exc:  # counted and shown: the figure is the number of errors
            errors.append(f"{type(exc).__name__}: {exc}"[:200])

    async with anyio.create_task_group() as tg:
        for job in jobs:
            tg.start_soon(one, job)
    return done, errors


def report(name: str, n: int, done: int, errors: list[str], seconds: float) -> None:
    print(f"{name}: {done}/{n} ok, {len(errors)} errors, {seconds * 1000:.0f} ms wall")
    for text in errors[:5]:
        print(f"  error: {text}")
    _common.verdict(f"{name}: errors", float(len(errors)), 0, " errors", higher_is_better=False)


async def one_session(client: Any, i: int) -> None:
    kind = i % 3
    if kind == 0:
        result = await client.call_tool("ocrnet_job_status", {"job_id": f"ocrnet-train-{i:06x}"})
        assert result.is_error and "no job" in result.content[0].text.lower(), result.content[0].text
    elif kind == 1:
        result = await client.call_tool("ocrnet_describe_action", {"action": "export", "fields": False})
        assert not result.is_error, result.content[0].text
    else:
        assert len((await client.list_tools()).tools) > 10


async def bench_concurrency(env: dict[str, str], workspace: Path, n: int) -> None:
    with http_server(env, workspace) as url:
        async with http_client(url) as client:
            await client.list_tools()
            t0 = time.perf_counter()
            done, errors = await gather([lambda i=i: one_session(client, i) for i in range(n)])
            report(f"{n} concurrent calls on one HTTP session", n, done, errors, time.perf_counter() - t0)

        async def separate(i: int) -> None:
            async with http_client(url) as c:
                await c.list_tools()
                await one_session(c, i)

        t0 = time.perf_counter()
        done, errors = await gather([lambda i=i: separate(i) for i in range(n)])
        report(f"{n} separate HTTP clients at once", n, done, errors, time.perf_counter() - t0)


def bench_sessions(env: dict[str, str], workspace: Path) -> None:
    import httpx2

    client = {"name": "bench", "version": "1"}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client}}  # fmt: skip
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    errors: list[str] = []
    with http_server(env, workspace, "--max-sessions", str(SESSIONS_CAP)) as url, httpx2.Client(timeout=30) as http:
        t0 = time.perf_counter()
        for _ in range(SESSIONS_OPENED + 1):  # never closed, as the Inspector CLI or curl leave them
            reply = http.post(url, json=init, headers=headers)
            if reply.status_code != 200:
                errors.append(f"HTTP {reply.status_code}: {reply.text[:160]}")
        seconds = time.perf_counter() - t0
    report(f"{SESSIONS_OPENED + 1} never-closed sessions with --max-sessions {SESSIONS_CAP}", SESSIONS_OPENED + 1,
           SESSIONS_OPENED + 1 - len(errors), errors, seconds)  # fmt: skip


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "ws").mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCRNET_")}
        env |= {"OCRNET_HOME": str(root / "home"), "OCRNET_RESULTS_ROOT": str(root / "results")}
        await bench_start(env, root / "ws", args.starts)
        await bench_concurrency(env, root / "ws", args.concurrency)
        bench_sessions(env, root / "ws")


def main() -> int:
    import anyio

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    _common.header("MCP start-up and concurrency (stdio and streamable HTTP)", args)
    anyio.run(main_async, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
