# SPDX-License-Identifier: Apache-2.0
"""`references/ocrnet-mcp.md`: how an agent (or a person) uses the MCP server; its text is
`text/ocrnet-mcp.md.j2`, its facts the tool list and the server's constants."""

from __future__ import annotations

from tao_ocrnet.mcp import constants as C
from tao_ocrnet.mcp.resources import BLOB_MAX_BYTES, JOB_VIEWS
from tao_ocrnet.skill.manifests import MCP_CONFIG
from tao_ocrnet.skill.text import render_text
from tao_ocrnet.skill.tooldefs import ToolDef, tool_registry


def _args(tool: ToolDef) -> str:
    props = tool.input_schema.get("properties", {})
    required = set(tool.input_schema.get("required", []))
    return ", ".join(f"`{name}`" + ("" if name in required else "?") for name in props)


def render_guide_md() -> str:
    return render_text(
        "ocrnet-mcp.md.j2",
        tools=[(f"`{t.name}`", t.description.split(". ")[0].rstrip(".") + ".", _args(t)) for t in tool_registry()],
        job_views=[f"ocrnet://jobs/{{job_id}}/{view}" for view in JOB_VIEWS],
        mcp_config=MCP_CONFIG,
        server_name=C.SERVER_NAME,
        token_env=C.TOKEN_ENV,
        workspace_env=C.WORKSPACE_ENV,
        wait_max_s=C.WAIT_MAX_SECONDS,
        arguments_kib=C.MAX_ARGUMENTS_BYTES >> 10,
        http_body_mib=C.MAX_HTTP_BODY_BYTES >> 20,
        log_kib=C.LOG_MAX_BYTES >> 10,
        blob_mib=BLOB_MAX_BYTES >> 20,
    )
