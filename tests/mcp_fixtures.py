# SPDX-License-Identifier: Apache-2.0
"""Helpers for the MCP tests: isolated job homes, a tiny synthetic dataset, servers in-process, over stdio
and over HTTP (as subprocesses of `ocrnet mcp`), and the SDK's own client for each."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tao_ocrnet.skill_root import find_project_root

from tiny_config import TINY_TRAIN

ROOT = find_project_root()

# The tiny CPU model (spec_overrides for ocrnet_train); the calls pass num_gpus themselves.
TINY = {key: value for key, value in TINY_TRAIN.items() if key != "train.num_gpus"}


@dataclass
class McpEnv:
    root: Path
    data: Path  # the synthetic dataset (inside `workspace`)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def workspace(self) -> Path:
        return self.root / "ws"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def results(self) -> Path:
        return self.root / "results"

    def job_entries(self) -> tuple[list[str], list[str]]:
        """(job store entries, results root entries): what a refused call must not create."""
        jobs = sorted(p.name for p in (self.home / "jobs").iterdir()) if (self.home / "jobs").is_dir() else []
        results = sorted(p.name for p in self.results.iterdir()) if self.results.is_dir() else []
        return jobs, results

    def server_args(self) -> list[str]:
        return ["mcp", "--workspace", str(self.workspace)]


@pytest.fixture(scope="session")
def mcp_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 train / 16 test crops in the skill's data-source layout."""
    from tao_ocrnet.data.synth.generate import generate_dataset

    root = tmp_path_factory.mktemp("mcp_data") / "data"
    generate_dataset(root, 48, 16, seed=11, workers=1)
    return root


def make_env(root: Path, data: Path, monkeypatch: pytest.MonkeyPatch | None = None) -> McpEnv:
    env = McpEnv(root, root / "ws" / "data")
    env.workspace.mkdir(parents=True, exist_ok=True)
    if not env.data.exists():
        # A copy, not a link: a link to the session folder would (rightly) be refused as leaving the workspace.
        import shutil

        shutil.copytree(data, env.data)
    values = {"OCRNET_HOME": str(env.home), "OCRNET_RESULTS_ROOT": str(env.results)}
    env.env = {k: v for k, v in os.environ.items() if not k.startswith("OCRNET_")} | values
    if monkeypatch is not None:
        for key in [k for k in os.environ if k.startswith("OCRNET_")]:
            monkeypatch.delenv(key)
        for key, value in values.items():
            monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def mcp_env(tmp_path: Path, mcp_data: Path, monkeypatch: pytest.MonkeyPatch) -> McpEnv:
    return make_env(tmp_path, mcp_data, monkeypatch)


def in_process_server(env: McpEnv) -> Any:
    from tao_ocrnet.mcp.context import Runtime
    from tao_ocrnet.mcp.server import build_server

    return build_server(Runtime.load(ROOT, [str(env.workspace)]))


def stdio_client(env: McpEnv, mode: str) -> Any:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "tao_ocrnet", *env.server_args()], env=env.env)
    return Client(params, mode=mode, cache=None)


@dataclass
class HttpServer:
    url: str
    proc: subprocess.Popen
    token: str | None


@contextlib.contextmanager
def http_server(env: McpEnv, token: str | None = None, timeout: float = 60) -> Iterator[HttpServer]:
    """`ocrnet mcp --http 127.0.0.1:0` as a subprocess; the port is read from its one start-up line."""
    extra = {"OCRNET_MCP_TOKEN": token} if token else {}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tao_ocrnet", *env.server_args(), "--http", "127.0.0.1:0"],
        env=env.env | extra,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        url = None
        seen = []
        assert proc.stderr is not None
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            m = re.search(r"on (http://127\.0\.0\.1:\d+/mcp)", line)
            url = m.group(1) if m else None
        assert url, "the HTTP server did not start:\n" + "".join(seen)
        yield HttpServer(url, proc, token)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.asynccontextmanager
async def http_client(server: HttpServer, mode: str, token: str | None = None) -> AsyncIterator[Any]:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(server.url, http_client=http), mode=mode, cache=None) as client,
    ):
        yield client


async def call(client: Any, name: str, args: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A tool call that must succeed; returns its structured content."""
    result = await client.call_tool(name, args, **kwargs)
    assert not result.is_error, f"{name}: {result.content[0].text}"
    assert result.structured_content is not None
    return result.structured_content


async def call_error(client: Any, name: str, args: dict[str, Any]) -> str:
    """A tool call that must fail as an isError result; returns its text."""
    result = await client.call_tool(name, args)
    assert result.is_error, f"{name} unexpectedly succeeded: {result.structured_content}"
    text = result.content[0].text
    assert "Traceback" not in text
    return text


async def wait_state(client: Any, job_id: str, states: tuple[str, ...], timeout: float = 300) -> dict[str, Any]:
    import anyio

    deadline = time.monotonic() + timeout
    while True:
        view = await call(client, "ocrnet_job_status", {"job_id": job_id})
        if view["state"] in states:
            return view
        if time.monotonic() > deadline:
            logs = await call(client, "ocrnet_job_logs", {"job_id": job_id, "tail_lines": 40})
            raise AssertionError(f"{job_id} is {view['state']}, not {states}, after {timeout} s:\n{logs['text']}")
        await anyio.sleep(0.3)
