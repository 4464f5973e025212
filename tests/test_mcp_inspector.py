# SPDX-License-Identifier: Apache-2.0
"""The MCP Inspector CLI (a third-party client, Node) against `ocrnet mcp`, with the README's commands.

The Inspector is installed once into the project-local `.cache/mcp-inspector/` (npm; offline afterwards).
Without npm, or when the install fails (no registry), the tests are skipped with the reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_fixtures import ROOT, McpEnv

VERSION = "2.12.0"
FOLDER = ROOT / ".cache" / "mcp-inspector"
BINARY = FOLDER / "node_modules" / ".bin" / "mcp-inspector"


@pytest.fixture(scope="module")
def inspector() -> Path:
    if BINARY.is_file():
        return BINARY
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("node/npm are not installed: the MCP Inspector CLI cannot run here")
    FOLDER.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            [npm, "install", "--prefix", str(FOLDER), "--no-audit", "--no-fund", "--prefer-offline",
             "--loglevel=error", f"@modelcontextprotocol/inspector@{VERSION}"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.skip("installing @modelcontextprotocol/inspector timed out (no npm registry?)")
    if proc.returncode != 0 or not BINARY.is_file():
        pytest.skip(f"could not install @modelcontextprotocol/inspector@{VERSION}: {proc.stderr.strip()[-300:]}")
    return BINARY


def run(inspector: Path, env: McpEnv, *args: str, server: list[str] | None = None, cwd: Path | None = None):
    command = server if server is not None else [sys.executable, "-m", "tao_ocrnet", *env.server_args()]
    passed = [w for k, v in env.env.items() if k.startswith("OCRNET_") for w in ("-e", f"{k}={v}")]
    return subprocess.run(
        [str(inspector), "--cli", *command, *passed, *args, "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd or env.workspace,
    )


def test_lists_tools_with_no_portability_problems(inspector: Path, mcp_env: McpEnv):
    out = run(inspector, mcp_env, "--method", "tools/list", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["result"]["tools"]) == 19
    strict = run(inspector, mcp_env, "--method", "tools/list", "--strict")
    assert strict.returncode == 0, strict.stderr  # exit 6 on schema portability errors
    modern = run(inspector, mcp_env, "--protocol-era", "modern", "--method", "tools/list", "--format", "json")
    assert modern.returncode == 0 and len(json.loads(modern.stdout)["result"]["tools"]) == 19


def test_calls_and_resources(inspector: Path, mcp_env: McpEnv):
    out = run(inspector, mcp_env, "--method", "tools/call", "--tool-name", "ocrnet_describe_action",
              "--tool-arg", "action=train", "fields=false")  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["structuredContent"]["tool"] == "ocrnet_train"
    bad = run(inspector, mcp_env, "--method", "tools/call", "--tool-name", "ocrnet_job_status",
              "--tool-args-json", '{"job_id": "not-a-job"}')  # fmt: skip
    assert bad.returncode == 5 and "tool_is_error" in bad.stderr  # isError, reported as such
    unknown = run(inspector, mcp_env, "--method", "tools/call", "--tool-name", "nope")
    assert unknown.returncode == 5 and "tool_not_found" in unknown.stderr
    skill = run(inspector, mcp_env, "--method", "resources/read", "--uri", "ocrnet://skill/SKILL.md")
    assert skill.returncode == 0 and "tao-train-ocrnet" in skill.stdout


def test_the_plugin_config_starts_the_server(inspector: Path, mcp_env: McpEnv):
    if shutil.which("ocrnet") is None:
        pytest.skip("the `ocrnet` command is not on PATH (install the package)")
    out = run(inspector, mcp_env, "--config", ".mcp.json", "--server", "tao-ocrnet", "--method", "tools/list",
              server=[], cwd=ROOT)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "ocrnet_train" in out.stdout
