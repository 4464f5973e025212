# SPDX-License-Identifier: Apache-2.0
"""The MCP server on the SDK's low-level `Server`: tool schemas served verbatim from the generated file.

Every handler is wrapped so that a user problem becomes an isError result (never a stack trace) and an
unexpected fault becomes a short isError text with the details in the server log (stderr). Only an unknown
tool is a protocol error, as the spec asks. Nothing here writes to stdout: over stdio that is the wire.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any

import anyio
import mcp_types as types
from mcp.server import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tao_ocrnet.errors import UserError
from tao_ocrnet.mcp import client_logging
from tao_ocrnet.mcp.context import CheckedHandler, Runtime, ToolCall
from tao_ocrnet.mcp.errors import mcp_text
from tao_ocrnet.mcp.protocol import ProtocolExtras
from tao_ocrnet.mcp.resources import (
    EXTRA_RESOURCES,
    EXTRA_TEMPLATES,
    JOB_VIEWS,
    ResourceNotFound,
    parse_job_uri,
    read_extra,
    read_job,
    read_static,
    static_resources,
)
from tao_ocrnet.mcp.results import error_result, ok_result
from tao_ocrnet.mcp.stdio_errors import AnswerMalformed
from tao_ocrnet.mcp.tasks import TaskBook
from tao_ocrnet.mcp.validation import problem_text

log = logging.getLogger("tao_ocrnet.mcp")

RESOURCE_NOT_FOUND_LEGACY = -32002  # handshake era; 2026-07-28 uses INVALID_PARAMS

Context = ServerRequestContext[Any]  # no lifespan state


def _warm_up() -> None:
    """Import the submit path in the background once tools/list was answered (the first call stays fast)."""

    def load() -> None:
        for module in ("tao_ocrnet.jobs.resolve", "tao_ocrnet.mcp.handlers"):
            try:
                importlib.import_module(module)
            except Exception:  # warm-up only: the real call reports any problem
                log.debug("warm-up import of %s failed", module, exc_info=True)

    threading.Thread(target=load, name="ocrnet-mcp-warmup", daemon=True).start()


def build_server(runtime: Runtime) -> Server:
    tools = [types.Tool.model_validate(t) for t in runtime.tools]
    listing = types.ListToolsResult(tools=tools)
    statics = static_resources(runtime.skill_root)
    extras = ProtocolExtras.create(runtime, statics)  # prompts, completions, subscriptions, skills extension
    warmed = False

    async def list_tools(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        nonlocal warmed
        if not warmed:
            warmed = True
            _warm_up()
        return listing

    async def run_tool(ctx: Context, params: types.CallToolRequestParams, as_task: bool) -> types.CallToolResult:
        name = params.name
        binding = runtime.binding(name)
        if binding is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {name}; call tools/list for the available tools")
        args = dict(params.arguments or {})

        async def progress(value: float, total: float | None, message: str | None) -> None:
            await ctx.session.report_progress(value, total, message)

        try:
            problems = runtime.validator.problems(name, args)
            handler = runtime.handler(name)
            call = ToolCall(name, args, binding, runtime, progress, client_logging.log_fn(ctx), as_task)
            if problems:
                # Also name the spec and path problems, so one reply lists everything to fix.
                pre = handler.precheck(call) if isinstance(handler, CheckedHandler) else []
                extra = [p for p in pre if p not in problems]
                return error_result(mcp_text(problem_text(name, problems + extra)))
            return ok_result(await handler(call))
        except UserError as exc:
            return error_result(mcp_text(str(exc)))
        except Exception:
            log.exception("tool %s failed", name)
            return error_result(f"{name} failed unexpectedly on the server; the server log (stderr) has the details.")

    tasks = TaskBook(runtime, run_tool)

    async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> Any:  # CallToolResult, or a task
        if tasks.wants_task(ctx, params):
            return await tasks.start(ctx, params)
        return await run_tool(ctx, params, False)

    async def list_resources(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        return types.ListResourcesResult(
            # The skills extension's SKILL.md first: SEP-2640 clients take the first SKILL.md they list.
            resources=extras.skills.resources()
            + [
                types.Resource(uri=r.uri, name=r.name, description=r.description, mime_type=r.mime)
                for r in statics.values()
            ]
            + list(EXTRA_RESOURCES)
        )

    async def list_templates(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(uri_template=f"ocrnet://jobs/{{job_id}}/{view}", name=f"job {view}",
                                       description=text, mime_type=mime)
                for view, (mime, text) in JOB_VIEWS.items()
            ] + list(EXTRA_TEMPLATES)
        )  # fmt: skip

    async def read_resource(ctx: Context, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            if uri in statics:
                res = statics[uri]
                text, mime = await anyio.to_thread.run_sync(read_static, res, runtime.skill_root), res.mime
            elif (skill_file := await anyio.to_thread.run_sync(extras.skills.read, uri)) is not None:
                text, mime = skill_file
            elif (
                extra := await anyio.to_thread.run_sync(
                    read_extra, runtime.service, runtime.workspace, runtime.document.get("data_roots", {}), uri
                )
            ) is not None:
                return types.ReadResourceResult(contents=extra)
            else:
                parsed = parse_job_uri(uri)
                if parsed is None:
                    raise ResourceNotFound(f"no resource {uri}; see resources/list and resources/templates/list")
                job_id, view = parsed
                text = await anyio.to_thread.run_sync(read_job, runtime.service, job_id, view)
                mime = JOB_VIEWS[view][0]
        except UserError as exc:
            modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
            code = types.INVALID_PARAMS if modern else RESOURCE_NOT_FOUND_LEGACY
            data = {"uri": uri} if isinstance(exc, ResourceNotFound) else None
            raise MCPError(code, mcp_text(str(exc)), data) from None
        return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, mime_type=mime, text=text)])

    schemas = {t["name"]: t["inputSchema"] for t in runtime.tools}
    server_info = runtime.document["server"]
    server = Server(
        server_info["name"],
        version=server_info["version"],
        title=server_info["title"],
        instructions=runtime.document["instructions"],
        get_tool_input_schema=schemas.get,  # 2026-07-28 HTTP header checks: no tools/list run per call
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )
    # Added after construction: the constructor's on_set_logging_level warns that 2026-07-28 deprecates logging.
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, client_logging.set_level)
    tasks.install(server)
    extras.install(server)
    return server


async def serve_stdio(runtime: Runtime) -> None:
    server = build_server(runtime)
    async with stdio_server() as (read_stream, write_stream):
        # Malformed lines get a JSON-RPC error back (the SDK would drop them silently).
        reader = AnswerMalformed(read_stream, write_stream)
        await server.run(reader, write_stream, server.create_initialization_options())
