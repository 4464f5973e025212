# SPDX-License-Identifier: Apache-2.0
"""Plugin manifests (generated): one MCP server config, `.mcp.json`, that every host's manifest points at.

- Claude Code discovers `.mcp.json` at the plugin root by itself, so its manifest does not repeat it.
- Codex and Cursor name it explicitly (`mcpServers`); Cursor's manifest schema is closed, so only its
  documented keys are written.
- Codex and Cursor look for skills at `skills/<name>/SKILL.md` unless `skills` says otherwise; this plugin's
  skill is its root folder (SKILL.md beside the manifests), so both name it.
The server command is the installed `ocrnet` CLI; tool paths are confined to the folder the host starts it
in unless `--workspace DIR` is added to `args`. `env` names the job home (`OCRNET_HOME`) so that every host,
whatever environment it passes, finds the same jobs as the CLI's default; the value is a literal (hosts
differ in which `${...}` forms they expand, the Inspector CLI expands none) and `~` is expanded by the server.
"""

from __future__ import annotations

from typing import Any

from tao_ocrnet.jobs import paths
from tao_ocrnet.jobs import skill_info as md
from tao_ocrnet.mcp.constants import SERVER_NAME, SERVER_TITLE

PLUGIN_NAME = SERVER_NAME
MCP_CONFIG = ".mcp.json"
SKILLS = "./"  # the plugin root is the skill folder
KEYWORDS = ["ocr", "text-recognition", "nvidia-tao", "mcp", *md.TAGS]
SHORT = "Train, evaluate, export and deploy NVIDIA TAO OCRNet (text recognition) through MCP tools."


def mcp_config() -> dict[str, Any]:
    env = {paths.HOME_ENV: paths.DEFAULT_HOME}
    return {"mcpServers": {SERVER_NAME: {"command": "ocrnet", "args": ["mcp"], "env": env}}}


def _common() -> dict[str, Any]:
    return {
        "name": PLUGIN_NAME,
        "version": md.SKILL_VERSION,
        "description": SHORT,
        "author": {"name": md.AUTHOR},
        "license": "Apache-2.0",
        "keywords": list(dict.fromkeys(KEYWORDS)),
    }


def claude_plugin() -> dict[str, Any]:
    return _common()


def codex_plugin() -> dict[str, Any]:
    return {
        **_common(),
        "mcpServers": f"./{MCP_CONFIG}",
        "skills": SKILLS,
        "interface": {"displayName": SERVER_TITLE, "shortDescription": SHORT, "developerName": md.AUTHOR},
    }


def cursor_plugin() -> dict[str, Any]:
    return {**_common(), "displayName": SERVER_TITLE, "mcpServers": f"./{MCP_CONFIG}", "skills": SKILLS}


def manifest_files() -> dict[str, dict[str, Any]]:
    """Relative path -> JSON content of every plugin file."""
    return {
        MCP_CONFIG: mcp_config(),
        ".claude-plugin/plugin.json": claude_plugin(),
        ".codex-plugin/plugin.json": codex_plugin(),
        ".cursor-plugin/plugin.json": cursor_plugin(),
    }
