# SPDX-License-Identifier: Apache-2.0
"""MCP server latency and size, measured with the SDK's own client over stdio (`ocrnet mcp`).

1. Start-up: spawn `ocrnet mcp`, handshake, first `tools/list` answer; repeated, median.
   Target: < 1.5 s (torch is never imported by the server).
2. Payload: `len(json.dumps(tools/list result))` as the client receives it, all tools. Target: <= 24 KiB.
3. Round trips: median of `tools/list` and of `ocrnet_job_status` calls on one connection, in the
   handshake era (legacy) and the 2026-07-28 era (auto); client response cache off. Target: tools/list
   < 5 ms, job_status < 10 ms.
4. Submit: `ocrnet_train` (a tiny CPU run on the LMDBs of two dataset_convert jobs made first through the
   same server) until its job id comes back; repeated, median; each job is cancelled right after.
   Target: < 300 ms.

    python benchmarks/bench_mcp.py [--starts N] [--calls N] [--submits N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts tests/ on sys.path for tiny_config)

from tiny_config import TINY_TRAIN

START_TARGET_MS = 1500.0
PAYLOAD_TARGET_KB = 24.0  # KiB
TOOLS_LIST_TARGET_MS = 5.0
ROUND_TRIP_TARGET_MS = 10.0
SUBMIT_TARGET_MS = 300.0


def header(args: argparse.Namespace) -> None:
    load = os.getloadavg()
    print(f"== MCP server ({time.strftime('%Y-%m-%d %H:%M')})")
    print(f"machine: {os.cpu_count()} CPU(s), {platform.machine()}, Python {platform.python_version()}, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"options: starts={args.starts}, calls={args.calls}, submits={args.submits}")
    sys.stdout.flush()


def verdict(name: str, measured: float, target: float, unit: str) -> None:
    ok = measured < target
    print(f"{'PASS' if ok else 'MISS'}: {name}: measured {measured:.1f} {unit} (target < {target:g} {unit})")
    sys.stdout.flush()


def params(env: dict[str, str], workspace: Path) -> Any:
    from mcp.client.stdio import StdioServerParameters

    return StdioServerParameters(command="ocrnet", args=["mcp", "--workspace", str(workspace)], env=env)


async def bench_start(env: dict[str, str], workspace: Path, starts: int) -> None:
    from mcp import Client

    times = []
    for _ in range(starts):
        started = time.perf_counter()
        async with Client(params(env, workspace), mode="legacy", cache=None) as client:
            await client.list_tools()
            times.append((time.perf_counter() - started) * 1e3)
    print(f"start -> first tools/list: {', '.join(f'{t:.0f}' for t in times)} ms")
    verdict("start to first tools/list (median)", statistics.median(times), START_TARGET_MS, "ms")


async def bench_calls(env: dict[str, str], workspace: Path, calls: int, job_id: str) -> None:
    from mcp import Client

    for mode in ("legacy", "auto"):
        async with Client(params(env, workspace), mode=mode, cache=None) as client:
            listed = await client.list_tools()
            if mode == "legacy":
                wire = listed.model_dump(by_alias=True, exclude_none=True, mode="json")
                size = len(json.dumps(wire)) / 1024
                largest = max(listed.tools, key=lambda t: len(t.model_dump_json(by_alias=True, exclude_none=True)))
                print(f"tools/list: {len(listed.tools)} tools, {size:.1f} KiB; largest {largest.name}")
                verdict("tools/list payload", size, PAYLOAD_TARGET_KB, "KiB")
            lists, statuses = [], []
            for _ in range(calls):
                started = time.perf_counter()
                await client.list_tools()
                lists.append((time.perf_counter() - started) * 1e3)
            for _ in range(calls):
                started = time.perf_counter()
                result = await client.call_tool("ocrnet_job_status", {"job_id": job_id})
                statuses.append((time.perf_counter() - started) * 1e3)
            assert not result.is_error, result
            era = getattr(client.session, "protocol_version", None) or mode
            print(f"{mode} ({era}): tools/list p50 {statistics.median(lists):.2f} ms, max {max(lists):.1f} ms; "
                  f"job_status p50 {statistics.median(statuses):.2f} ms, max {max(statuses):.1f} ms")  # fmt: skip
            verdict(f"median tools/list round trip ({mode})", statistics.median(lists), TOOLS_LIST_TARGET_MS, "ms")
            verdict(f"median job_status round trip ({mode})", statistics.median(statuses), ROUND_TRIP_TARGET_MS, "ms")


async def call(client: Any, name: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    if result.is_error:
        raise RuntimeError(f"{name}: {result.content[0].text}")
    return result.structured_content


async def prepare_and_submit(env: dict[str, str], workspace: Path, submits: int) -> str:
    """Convert both splits (through the server), then time ocrnet_train submits; returns a job id."""
    from mcp import Client

    async with Client(params(env, workspace), mode="legacy", cache=None) as client:
        await client.list_tools()
        train = await call(client, "ocrnet_dataset_convert", {"train_datasets": ["data"], "wait_seconds": 50})
        evals = await call(client, "ocrnet_dataset_convert", {"eval_dataset": "data", "wait_seconds": 50})
        assert train["state"] == evals["state"] == "COMPLETE", (train, evals)
        args = {
            "train_datasets": [f"job:{train['job_id']}"],
            "eval_dataset": f"job:{evals['job_id']}",
            "num_epochs": 1,
            "automl_policy": "off",
            "spec_overrides": TINY_TRAIN,  # train.num_gpus=0 included
        }
        times = []
        for _ in range(submits):
            started = time.perf_counter()
            submitted = await call(client, "ocrnet_train", args)
            times.append((time.perf_counter() - started) * 1e3)
            await call(client, "ocrnet_job_cancel", {"job_id": submitted["job_id"], "grace_seconds": 5})
        print(f"ocrnet_train -> job id: {', '.join(f'{t:.0f}' for t in times)} ms")
        verdict("ocrnet_train returns its job id (median)", statistics.median(times), SUBMIT_TARGET_MS, "ms")
        return train["job_id"]


async def main_async(args: argparse.Namespace) -> None:
    from tao_ocrnet.data.synth.generate import generate_dataset

    with tempfile.TemporaryDirectory(prefix="bench_mcp_") as tmp:
        root = Path(tmp)
        generate_dataset(root / "data", 48, 16, seed=3, workers=1)
        env = {**os.environ, "OCRNET_HOME": str(root / "home"), "OCRNET_RESULTS_ROOT": str(root / "results")}
        await bench_start(env, root, args.starts)
        job_id = await prepare_and_submit(env, root, args.submits)
        await bench_calls(env, root, args.calls, job_id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--submits", type=int, default=5)
    args = parser.parse_args()
    header(args)
    import anyio

    anyio.run(main_async, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
