# SPDX-License-Identifier: Apache-2.0
"""MCP tasks: how fast a task-augmented call hands back its task, measured with the SDK client over stdio.

`ocrnet mcp` is spawned once; the client speaks 2026-07-28 and declares the `io.modelcontextprotocol/tasks`
extension, so `ocrnet_dataset_convert` answers with a task (its job started, not waited for). Each call's
time until the CreateTaskResult arrives is measured (the first call separately: it may pay for imports the
warm-up thread has not finished); each job is cancelled right after with `tasks/cancel`. For scale, the same
call from a second client without the extension (the job id comes back, nothing waits) is timed between
them: the difference is what the task layer costs over the jobs layer's submit. Then `tasks/get` round
trips on one of them. Target: the task returns in < 100 ms (median).

    python benchmarks/bench_mcp_tasks.py [--calls N] [--gets N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

TASK_TARGET_MS = 100.0
GET_TARGET_MS = 10.0
EXTENSION = "io.modelcontextprotocol/tasks"


def verdict(name: str, measured: float, target: float) -> None:
    ok = measured < target
    print(f"{'PASS' if ok else 'MISS'}: {name}: measured {measured:.1f} ms (target < {target:g} ms)")
    sys.stdout.flush()


async def plain_call(client: Any) -> float:
    """One call of a client without the tasks extension (the job id comes back at once); its job is cancelled."""
    started = time.perf_counter()
    result = await client.call_tool("ocrnet_dataset_convert", {"train_datasets": ["data"]})
    took = (time.perf_counter() - started) * 1e3
    if result.is_error:
        raise RuntimeError(f"the plain call failed: {result.content}")
    await client.call_tool("ocrnet_job_cancel", {"job_id": result.structured_content["job_id"], "grace_seconds": 5})
    return took


def client_for(env: dict[str, str], workspace: Path, tasks: bool = True) -> Any:
    import mcp_types as types
    from mcp import Client
    from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
    from mcp.client.stdio import StdioServerParameters

    class CreatedTask(types.Result):
        result_type: Literal["task"] = "task"
        task_id: str
        status: str

    async def unused(task: CreatedTask, ctx: ClaimContext) -> types.CallToolResult:
        raise RuntimeError("the benchmark reads the task itself (allow_claimed=True)")

    class Tasks(ClientExtension):
        identifier = EXTENSION

        def claims(self) -> list[ResultClaim[Any]]:
            return [ResultClaim(result_type="task", model=CreatedTask, resolve=unused)]

    params = StdioServerParameters(command="ocrnet", args=["mcp", "--workspace", str(workspace)], env=env)
    return Client(params, mode="auto", extensions=[Tasks()] if tasks else None, cache=None)


async def bench(env: dict[str, str], workspace: Path, calls: int, gets: int) -> None:
    import mcp_types as types
    from pydantic import TypeAdapter

    raw = TypeAdapter(dict[str, Any])
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(client_for(env, workspace))
        await client.list_tools()
        times, plain, ids = [], [], []
        plain_client = await stack.enter_async_context(client_for(env, workspace, tasks=False))
        await plain_client.list_tools()
        await plain_call(plain_client)  # its first call pays for the submit path's imports: not counted
        for i in range(calls + 1):
            started = time.perf_counter()
            task = await client.session.call_tool("ocrnet_dataset_convert", {"train_datasets": ["data"]},
                                                  allow_claimed=True)  # fmt: skip
            times.append((time.perf_counter() - started) * 1e3)
            if getattr(task, "result_type", None) != "task":
                raise RuntimeError(f"no task came back: {task}")
            ids.append(task.task_id)
            cancel = types.CancelTaskRequest(params=types.CancelTaskRequestParams(task_id=task.task_id))
            await client.session.send_request(cancel, raw)
            if i:
                plain.append(await plain_call(plain_client))
        print(f"task-augmented ocrnet_dataset_convert -> task: first {times[0]:.0f} ms; then "
              f"{', '.join(f'{t:.0f}' for t in times[1:])} ms")  # fmt: skip
        print(f"the same call without a task (job id back): {', '.join(f'{t:.0f}' for t in plain)} ms; "
              f"median {statistics.median(plain):.0f} ms")  # fmt: skip
        verdict("a task-augmented call returns its task (median after the first)", statistics.median(times[1:]),
                TASK_TARGET_MS)  # fmt: skip
        get_times = []
        for _ in range(gets):
            started = time.perf_counter()
            await client.session.send_request(
                types.GetTaskRequest(params=types.GetTaskRequestParams(task_id=ids[-1])), raw
            )
            get_times.append((time.perf_counter() - started) * 1e3)
        print(f"tasks/get: p50 {statistics.median(get_times):.2f} ms, max {max(get_times):.1f} ms")
        verdict("tasks/get round trip (median)", statistics.median(get_times), GET_TARGET_MS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--gets", type=int, default=50)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"== MCP tasks ({time.strftime('%Y-%m-%d %H:%M')})")
    print(f"machine: {os.cpu_count()} CPU(s), {platform.machine()}, Python {platform.python_version()}, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"options: calls={args.calls}, gets={args.gets}")
    import anyio

    from tao_ocrnet.data.synth.generate import generate_dataset

    with tempfile.TemporaryDirectory(prefix="bench_mcp_tasks_") as tmp:
        root = Path(tmp)
        generate_dataset(root / "data", 48, 16, seed=3, workers=1)
        env = {**os.environ, "OCRNET_HOME": str(root / "home"), "OCRNET_RESULTS_ROOT": str(root / "results")}
        anyio.run(bench, env, root, args.calls, args.gets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
