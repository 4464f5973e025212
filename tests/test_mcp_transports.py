# SPDX-License-Identifier: Apache-2.0
"""`ocrnet mcp` as a real subprocess: stdio and streamable HTTP, both protocol eras, with the SDK client.

HTTP: 127.0.0.1 by default, DNS-rebinding protection (a foreign Host gets 421), a bearer token whenever one is
configured (and required beyond loopback), oversized bodies refused with 413, oversized arguments an isError.
"""

from __future__ import annotations

import subprocess
import sys

import httpx2
import pytest
from mcp.shared.exceptions import MCPError

from tao_ocrnet.mcp import constants as C

from mcp_fixtures import McpEnv, call, call_error, http_client, http_server, stdio_client

pytestmark = pytest.mark.anyio
TOKEN = "test-token-0123456789abcdef"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def exercise(client, env: McpEnv) -> None:
    """The same short conversation on any transport: list, a good call, bad calls, still serving."""
    tools = (await client.list_tools()).tools
    assert len(tools) == 19
    listed = await call(client, "ocrnet_job_list", {})
    assert listed == {"jobs": [], "next_cursor": None, "total": 0}
    described = await call(client, "ocrnet_describe_action", {"action": "export", "fields": False})
    assert described["tool"] == "ocrnet_export"
    text = await call_error(client, "ocrnet_train", {"train_datasets": ["/etc"], "spec_overrides": {"trian.x": 1}})
    assert "outside the workspace" in text and "`spec_overrides.trian.x`" in text
    with pytest.raises(MCPError):
        await client.call_tool("no_such_tool", {})
    overrides = {"export.checkpoint": "ocrnet_cpu_small"}  # a model file that exists: the shipped one
    dry = await call(client, "ocrnet_export", {"eval_dataset": str(env.data), "dry_run": True,
                                               "spec_overrides": overrides})  # fmt: skip
    assert dry["dry_run"] is True and "onnx_file:" in dry["spec_yaml"]
    assert len((await client.list_tools()).tools) == 19


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_stdio(mcp_env: McpEnv, mode: str):
    async with stdio_client(mcp_env, mode) as client:
        await exercise(client, mcp_env)
        skill = await client.read_resource("ocrnet://skill/SKILL.md")
        assert skill.contents[0].text.startswith("---\nname: tao-train-ocrnet")
    assert mcp_env.job_entries()[0] == []


async def test_http_with_a_token_in_both_eras(mcp_env: McpEnv):
    with http_server(mcp_env, token=TOKEN) as server:
        for mode in ("legacy", "auto"):
            async with http_client(server, mode, TOKEN) as client:
                await exercise(client, mcp_env)
                big = await call_error(client, "ocrnet_train", {"request": "x" * (C.MAX_ARGUMENTS_BYTES + 100)})
                assert "the limit is" in big
        async with httpx2.AsyncClient() as raw:
            body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
            accept = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
            assert (await raw.post(server.url, json=body, headers=accept)).status_code == 401
            wrong = {**accept, "authorization": "Bearer wrong-token-0123456789"}
            assert (await raw.post(server.url, json=body, headers=wrong)).status_code == 401
            auth = {**accept, "authorization": f"Bearer {TOKEN}"}
            foreign = await raw.post(server.url, json=body, headers={**auth, "host": "attacker.example:80"})
            assert foreign.status_code == 421  # DNS-rebinding protection
            huge = await raw.post(server.url, content=b"x" * (C.MAX_HTTP_BODY_BYTES + 1), headers=auth)
            assert huge.status_code == 413
        assert server.proc.poll() is None  # still serving


async def test_http_on_loopback_needs_no_token(mcp_env: McpEnv):
    with http_server(mcp_env) as server:
        async with http_client(server, "auto") as client:
            assert len((await client.list_tools()).tools) == 19


def test_binding_beyond_loopback_without_a_token_is_refused(mcp_env: McpEnv):
    for env, words in (
        (mcp_env.env, f"export {C.TOKEN_ENV}"),
        (mcp_env.env | {C.TOKEN_ENV: "short"}, "shorter than 16"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "tao_ocrnet", *mcp_env.server_args(), "--http", "0.0.0.0:0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr
        assert proc.stdout == ""
