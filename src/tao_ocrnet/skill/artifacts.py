# SPDX-License-Identifier: Apache-2.0
"""The MCP server's generated files, as `ocrnet skill generate` registry entries (drift-checked in CI).

- `schemas/mcp/tools.json`: the tool definitions the server serves (and their bindings);
- `references/ocrnet-mcp.md`: the guide SKILL.md points to;
- the plugin manifests (`.mcp.json`, `.claude-plugin/`, `.codex-plugin/`, `.cursor-plugin/`): this
  repository is the plugin, so they are written for the repo layout only, never into a bank package.
"""

from __future__ import annotations

from tao_ocrnet.config.render import dump_json
from tao_ocrnet.mcp.constants import GUIDE_MD, TOOLS_FILE
from tao_ocrnet.skill.guide_md import render_guide_md
from tao_ocrnet.skill.layout import Layout
from tao_ocrnet.skill.manifests import manifest_files
from tao_ocrnet.skill.tooldefs import tools_document


def tool_files(_: Layout) -> dict[str, str]:
    return {TOOLS_FILE: dump_json(tools_document()), GUIDE_MD: render_guide_md()}


def plugin_files(layout: Layout) -> dict[str, str]:
    if layout.name != "repo":
        return {}
    return {path: dump_json(data) for path, data in manifest_files().items()}
