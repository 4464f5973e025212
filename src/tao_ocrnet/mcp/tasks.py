# SPDX-License-Identifier: Apache-2.0
"""MCP tasks over the jobs and AutoML studies: a long action call becomes a task the client polls.

Both wire forms are served (the SDK ships only their types):

- 2025-11-25 (experimental `tasks` capability, SEP-1686): the client adds `task: {ttl}` to `tools/call` and gets
  `{task: {taskId, status, ...}}` at once; `tasks/get`, `tasks/result` (blocks until the task ends, then returns
  the tool's own result), `tasks/list` and `tasks/cancel`; `notifications/tasks/status` while `tasks/result`
  waits. A tool result with `isError` makes the task `failed`.
- 2026-07-28 (extension `io.modelcontextprotocol/tasks`, SEP-2663): the client declares the extension in the
  request's `_meta` and the server decides; the result is `{resultType: "task", taskId, ...}` with `ttlMs` and
  `pollIntervalMs`; `tasks/get` inlines the tool result once completed (`failed` is reserved for JSON-RPC
  errors, so a failed job is `completed` with an isError result); `tasks/cancel` is an empty acknowledgement.

The task id IS the job id (or the AutoML study name for a routed `ocrnet_train`/`ocrnet_retrain`), so tasks
outlive this server like their jobs do and every job of the workspace is a task (`tasks/list`), whoever
started it. A call that starts nothing (a dry run, a refused call) is answered directly on 2026-07-28 and, on
2025-11-25 where the client asked for a task, kept in memory as an already settled task.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp.server import ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError
from mcp_types import methods as wire_methods
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from tao_ocrnet.config.secrets import redact
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.ids import check_job_id
from tao_ocrnet.jobs.record import CANCELED, COMPLETE, ERROR, TERMINAL
from tao_ocrnet.mcp import client_logging
from tao_ocrnet.mcp.context import Runtime
from tao_ocrnet.mcp.errors import mcp_result, mcp_text
from tao_ocrnet.mcp.progress import JobWatch, epochs_of, kpi_text, status_line
from tao_ocrnet.mcp.results import error_result, ok_result

EXTENSION = "io.modelcontextprotocol/tasks"
RELATED_TASK = "io.modelcontextprotocol/related-task"
LEGACY_VERSION = "2025-11-25"  # the one handshake version that defines tasks
LEGACY_CAPABILITY: dict[str, Any] = {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
POLL_INTERVAL_MS = 2000
RESULT_POLL_SECONDS = 1.0
SETTLED_TTL_MS = 3_600_000  # settled calls are kept in memory; jobs and studies stay on disk (ttl null)
MAX_SETTLED = 256
LIST_PAGE = 50
CANCEL_GRACE_SECONDS = 10.0
ERROR_LOG_LINES = 10

Context = ServerRequestContext[Any]
RunTool = Callable[[Context, types.CallToolRequestParams, bool], Awaitable[types.CallToolResult]]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _modern(ctx: Context) -> bool:
    return ctx.protocol_version in MODERN_PROTOCOL_VERSIONS


def _declares_extension(ctx: Context) -> bool:
    meta = (ctx.params or {}).get("_meta") or {}
    capabilities = meta.get(types.CLIENT_CAPABILITIES_META_KEY) or {}
    return isinstance(capabilities, dict) and EXTENSION in (capabilities.get("extensions") or {})


def _not_found(task_id: str) -> MCPError:
    return MCPError(types.INVALID_PARAMS, f"no task {task_id}; tasks/list lists this workspace's tasks")


@dataclass
class Snapshot:
    """One task as read now: its MCP status and what the client is told about it."""

    task_id: str
    status: str  # working | completed | failed | cancelled
    message: str
    created_at: str
    updated_at: str
    ttl_ms: int | None = None

    def wire(self, modern: bool) -> dict[str, Any]:
        ttl, poll = ("ttlMs", "pollIntervalMs") if modern else ("ttl", "pollInterval")
        out: dict[str, Any] = {"taskId": self.task_id, "status": self.status, "statusMessage": self.message,
                               "createdAt": self.created_at, "lastUpdatedAt": self.updated_at,
                               ttl: self.ttl_ms}  # fmt: skip
        if self.status == "working":
            out[poll] = POLL_INTERVAL_MS
        return out

    @property
    def terminal(self) -> bool:
        return self.status != "working"


@dataclass
class Settled:
    """A task-augmented call that started nothing (2025-11-25 only): its result, kept in memory."""

    result: types.CallToolResult
    created_at: str

    def snapshot(self, task_id: str) -> Snapshot:
        status = "failed" if self.result.is_error else "completed"
        block = self.result.content[0] if self.result.content else None
        text = block.text if isinstance(block, types.TextContent) else ""
        message = text.splitlines()[0][:300] if self.result.is_error and text else "finished; nothing was started"
        return Snapshot(task_id, status, message, self.created_at, self.created_at, SETTLED_TTL_MS)


def _status(state: str, modern: bool) -> str:
    if state not in TERMINAL:
        return "working"
    if state == CANCELED:
        return "cancelled"
    # 2026-07-28 keeps `failed` for JSON-RPC errors; a failed job is a completed call with an isError result.
    return "failed" if state == ERROR and not modern else "completed"


class TaskBook:
    """The task methods of one server, and what it remembers of the calls that started tasks."""

    def __init__(self, runtime: Runtime, run_tool: RunTool) -> None:
        self.runtime = runtime
        self.run_tool = run_tool
        self.started: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()  # task id -> (tool, result)
        self.settled: OrderedDict[str, Settled] = OrderedDict()

    # --- registration ------------------------------------------------------------------------------

    def install(self, server: Server[Any]) -> None:
        server.add_request_handler("tasks/get", types.GetTaskRequestParams, self.get_task)
        server.add_request_handler("tasks/result", types.GetTaskPayloadRequestParams, self.task_result)
        server.add_request_handler("tasks/list", types.PaginatedRequestParams, self.list_tasks)
        server.add_request_handler("tasks/cancel", types.CancelTaskRequestParams, self.cancel_task)
        server.add_request_handler("tasks/update", types.GetTaskRequestParams, self.update_task)
        server.extensions[EXTENSION] = {}  # 2026-07-28: advertised by server/discover
        server.middleware.append(self.middleware)

    def supports(self, name: str) -> bool:
        tool = next((t for t in self.runtime.tools if t["name"] == name), {})
        return (tool.get("execution") or {}).get("taskSupport") in ("optional", "required")

    async def middleware(self, ctx: Context, call_next: CallNext) -> HandlerResult:
        """2025-11-25 task-augmented `tools/call` (its CreateTaskResult is not a CallToolResult, which the SDK's
        result check would refuse), and the `tasks` capability in that era's initialize result."""
        if ctx.method == "tools/call" and not _modern(ctx) and isinstance((ctx.params or {}).get("task"), dict):
            return await self._legacy_call(ctx)
        result = await call_next(ctx)
        if ctx.method == "initialize" and isinstance(result, dict) and result.get("protocolVersion") == LEGACY_VERSION:
            result["capabilities"]["tasks"] = LEGACY_CAPABILITY
        return result

    # --- creating a task -----------------------------------------------------------------------------

    def wants_task(self, ctx: Context, params: types.CallToolRequestParams) -> bool:
        """2026-07-28: the server's choice; a task for an action that will start work, if the client can take one."""
        args = params.arguments or {}
        return _modern(ctx) and _declares_extension(ctx) and self.supports(params.name) and not args.get("dry_run")

    async def start(self, ctx: Context, params: types.CallToolRequestParams) -> dict[str, Any] | types.CallToolResult:
        """Run the call without waiting; the task it started (2026-07-28 form), else its plain result."""
        result = await self.run_tool(ctx, params, True)
        task_id = self._remember(params.name, result)
        if task_id is None:
            return result
        snap = await self.snapshot(task_id, modern=True)
        return {"resultType": "task", **snap.wire(modern=True)}

    async def _legacy_call(self, ctx: Context) -> dict[str, Any]:
        raw = dict(ctx.params or {})
        try:
            wire_methods.validate_client_request("tools/call", ctx.protocol_version, raw)
            params = types.CallToolRequestParams.model_validate(raw, by_name=False)
        except ValidationError:
            raise MCPError(types.INVALID_PARAMS, "Invalid request parameters") from None
        if self.runtime.binding(params.name) is None:
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}; tools/list names the tools")
        if not self.supports(params.name):
            raise MCPError(types.METHOD_NOT_FOUND, f"{params.name} does not run as a task; call it without `task`")
        result = await self.run_tool(ctx, params, True)
        task_id = self._remember(params.name, result)
        if task_id is None:  # nothing started: a task that is already settled
            task_id = f"ocrnet-call-{secrets.token_hex(4)}"
            self.settled[task_id] = Settled(result, _now())
            while len(self.settled) > MAX_SETTLED:
                self.settled.popitem(last=False)
        snap = await self.snapshot(task_id, modern=False)
        return {"task": snap.wire(modern=False)}

    def _remember(self, tool: str, result: types.CallToolResult) -> str | None:
        data = result.structured_content or {}
        if result.is_error or data.get("dry_run"):
            return None
        task_id = data.get("study") or data.get("job_id")
        if not isinstance(task_id, str):
            return None
        self.started[task_id] = (tool, data)
        while len(self.started) > MAX_SETTLED:
            self.started.popitem(last=False)
        return task_id

    # --- reading a task ----------------------------------------------------------------------------------

    def _is_job(self, task_id: str) -> bool:
        try:
            check_job_id(task_id)
        except UserError:
            return False
        return (self.runtime.service.store.root / f"{task_id}.json").is_file()

    async def snapshot(self, task_id: str, modern: bool) -> Snapshot:
        if task_id in self.settled:
            return self.settled[task_id].snapshot(task_id)
        if self._is_job(task_id):
            service = self.runtime.service
            record = await anyio.to_thread.run_sync(service.get, task_id)
            return self._job_snapshot(record, service.view(record), modern)
        return self._study_snapshot(task_id, await self._study(task_id), modern)

    def _job_snapshot(self, record: dict[str, Any], view: dict[str, Any], modern: bool) -> Snapshot:
        epoch = (view.get("progress") or {}).get("epoch")
        text = status_line(view["state"], epoch, epochs_of(record), view.get("kpis") or {})
        if view.get("message"):
            text += f" - {redact(view['message'])[0]}"
        return Snapshot(record["id"], _status(view["state"], modern), mcp_text(text), record["submitted_at"],
                        view["updated_at"])  # fmt: skip

    async def _study(self, study: str) -> dict[str, Any]:
        from tao_ocrnet.automl.runner import study_status  # the AutoML runner: only for study tasks

        try:
            return await anyio.to_thread.run_sync(lambda: study_status(study))
        except UserError:
            raise _not_found(study) from None

    def _study_snapshot(self, study: str, status: dict[str, Any], modern: bool) -> Snapshot:
        p = status.get("progress") or {}
        text = f"{status['state']}: {p.get('completed', 0)}/{p.get('total', '?')} trials finished"
        best = status.get("best") or {}
        if isinstance(best, dict) and best.get("metrics"):
            text += f"; best {kpi_text(best['metrics'])}"
        for run in status.get("running") or []:
            text += f"; trial {run['rec_id']} epoch {run['epochs_done']}"
        if status.get("reason"):
            text += f" - {status['reason']}"
        state = {"STOPPED": COMPLETE}.get(status["state"], status["state"])
        created = (self.started.get(study) or ("", {}))[1].get("created_at") or status.get("created_at") or _now()
        return Snapshot(study, _status(state, modern), mcp_text(text), created, _now())

    async def get_task(self, ctx: Context, params: types.GetTaskRequestParams) -> dict[str, Any]:
        self._check_extension(ctx)
        modern = _modern(ctx)
        snap = await self._snapshot_or_404(params.task_id, modern)
        out = snap.wire(modern)
        if modern and snap.status == "completed":
            out["result"] = self._wire_result(ctx, await self.final_result(params.task_id))
        return out

    async def _snapshot_or_404(self, task_id: str, modern: bool) -> Snapshot:
        try:
            return await self.snapshot(task_id, modern)
        except UserError:
            raise _not_found(task_id) from None

    def _check_extension(self, ctx: Context) -> None:
        if _modern(ctx) and not _declares_extension(ctx):
            raise MCPError(
                types.MISSING_REQUIRED_CLIENT_CAPABILITY,
                "Missing required client capability",
                data={"requiredCapabilities": {"extensions": {EXTENSION: {}}}},
            )

    # --- the result -----------------------------------------------------------------------------------------

    async def final_result(self, task_id: str) -> types.CallToolResult:
        """What the tool call would have returned had it waited for the end: its own result, updated."""
        if task_id in self.settled:
            return self.settled[task_id].result
        tool, start = self.started.get(task_id) or ("", {})
        if self._is_job(task_id):
            service = self.runtime.service
            record = await anyio.to_thread.run_sync(service.get, task_id)
            view = service.view(record)
            tool = tool or f"ocrnet_{record['action']}"
            if view["state"] == ERROR:
                return error_result(await anyio.to_thread.run_sync(self._failure_text, tool, record, view))
            out = {"job_id": task_id, "action": record["action"], "dry_run": False,
                   "results_dir": record["results_dir"], **start, "state": view["state"],
                   "message": view["message"], "kpis": view["kpis"], "exit_code": view["exit_code"]}  # fmt: skip
            out.pop("next", None)  # its advice (poll the job) no longer applies
            if view["state"] == COMPLETE:
                out["results"] = await anyio.to_thread.run_sync(service.results, task_id)
            return ok_result(mcp_result(out))
        status = await self._study(task_id)
        if status["state"] == ERROR:
            return error_result(mcp_text(f"AutoML study {task_id} ended ERROR: {status.get('reason')}"))
        out = {"study": task_id, "action": "train", "dry_run": False, **start, "state": status["state"],
               "reason": status.get("reason"), "progress": status.get("progress"),
               "best": status.get("best")}  # fmt: skip
        return ok_result(mcp_result(out))

    def _failure_text(self, tool: str, record: dict[str, Any], view: dict[str, Any]) -> str:
        chunk = self.runtime.service.platform_for(record).logs(record, offset=-(16 << 10))
        tail = [redact(line)[0] for line in chunk.text.splitlines()[-ERROR_LOG_LINES:]]
        text = f"{tool} job {record['id']} ended ERROR: {redact(view['message'] or 'no message')[0]}"
        if tail:
            text += "\nLast log lines:\n" + "\n".join(tail)
        return mcp_text(text)

    def _wire_result(self, ctx: Context, result: types.CallToolResult) -> dict[str, Any]:
        dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
        return wire_methods.serialize_server_result("tools/call", ctx.protocol_version, dumped)

    async def task_result(self, ctx: Context, params: types.GetTaskPayloadRequestParams) -> dict[str, Any]:
        """`tasks/result`: wait for the task's end (progress, status and log lines meanwhile), then its result."""
        task_id = params.task_id
        modern = _modern(ctx)
        snap = await self._snapshot_or_404(task_id, modern)
        if not snap.terminal:
            await self._follow(ctx, task_id, snap, modern)
        out = self._wire_result(ctx, await self.final_result(task_id))
        out["_meta"] = {**(out.get("_meta") or {}), RELATED_TASK: {"taskId": task_id}}
        return out

    async def _follow(self, ctx: Context, task_id: str, snap: Snapshot, modern: bool) -> None:
        async def progress(value: float, total: float | None, message: str | None) -> None:
            await ctx.session.report_progress(value, total, message)

        watch = (JobWatch(self.runtime.service, task_id, progress, client_logging.log_fn(ctx))
                 if self._is_job(task_id) else None)  # fmt: skip
        last = snap.status
        started = time.monotonic()
        while True:
            if watch is not None:
                await watch.poll()
            snap = await self.snapshot(task_id, modern)
            if watch is None:
                await progress(time.monotonic() - started, None, snap.message)  # a study: elapsed seconds
            if snap.status != last and not modern:
                last = snap.status
                notification = types.TaskStatusNotification(params=types.TaskStatusNotificationParams(
                    task_id=task_id, status=snap.status, status_message=snap.message,  # type: ignore[arg-type]
                    created_at=snap.created_at, last_updated_at=snap.updated_at, ttl=snap.ttl_ms,
                ))  # fmt: skip
                await ctx.session.send_notification(notification, ctx.request_id)  # type: ignore[arg-type]
            if snap.terminal:
                return
            await anyio.sleep(RESULT_POLL_SECONDS)

    # --- listing, cancelling ----------------------------------------------------------------------------

    async def list_tasks(self, ctx: Context, params: types.PaginatedRequestParams) -> dict[str, Any]:
        modern = _modern(ctx)
        start = 0
        if params.cursor is not None:
            if not params.cursor.isdigit():
                raise MCPError(types.INVALID_PARAMS, f"cursor {params.cursor!r} is not one this server gave")
            start = int(params.cursor)
        snaps = await anyio.to_thread.run_sync(self._all_snapshots, modern)
        page = snaps[start : start + LIST_PAGE]
        out: dict[str, Any] = {"tasks": [s.wire(modern) for s in page]}
        if start + LIST_PAGE < len(snaps):
            out["nextCursor"] = str(start + LIST_PAGE)
        return out

    def _all_snapshots(self, modern: bool) -> list[Snapshot]:
        service = self.runtime.service
        snaps = [self._job_snapshot(r, service.view(r), modern) for r in service.list()]
        snaps += [s.snapshot(task_id) for task_id, s in self.settled.items()]
        snaps += self._study_snapshots(modern)
        return sorted(snaps, key=lambda s: s.created_at, reverse=True)

    def _study_snapshots(self, modern: bool) -> list[Snapshot]:
        from tao_ocrnet.automl.runner import list_studies, study_status  # the AutoML runner: only if studies exist

        out = []
        for info in list_studies():
            try:
                status = study_status(info["study"])
            except UserError:
                continue  # its storage is gone or elsewhere: not a task this server can follow
            out.append(self._study_snapshot(info["study"], {**status, "created_at": info.get("created_at")}, modern))
        return out

    async def cancel_task(self, ctx: Context, params: types.CancelTaskRequestParams) -> dict[str, Any]:
        self._check_extension(ctx)
        task_id = params.task_id
        modern = _modern(ctx)
        snap = await self._snapshot_or_404(task_id, modern)
        if snap.terminal:
            if modern:
                return {}  # cooperative cancellation: acknowledged, nothing to stop
            raise MCPError(types.INVALID_PARAMS, f"task {task_id} is already {snap.status}; nothing to cancel")
        if self._is_job(task_id):
            await anyio.to_thread.run_sync(lambda: self.runtime.service.cancel(task_id, CANCEL_GRACE_SECONDS))
        else:
            from tao_ocrnet.automl.runner import cancel_study

            await anyio.to_thread.run_sync(lambda: cancel_study(task_id, grace=CANCEL_GRACE_SECONDS))
        if modern:
            return {}
        snap = await self.snapshot(task_id, modern)
        return snap.wire(modern)

    async def update_task(self, ctx: Context, params: types.GetTaskRequestParams) -> dict[str, Any]:
        """`tasks/update` (2026-07-28): no task here ever asks for input, so responses are acknowledged and ignored."""
        self._check_extension(ctx)
        await self._snapshot_or_404(params.task_id, _modern(ctx))
        return {}
