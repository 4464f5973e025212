# SPDX-License-Identifier: Apache-2.0
"""MCP tasks, heartbeats and log lines, through real clients.

- 2025-11-25: the SDK client cannot send a task-augmented `tools/call` (it checks the answer against
  CallToolResult), so a tiny JSON-RPC line client drives `ocrnet mcp` over stdio: capability, taskSupport,
  CreateTaskResult at once, tasks/get working -> completed, tasks/result, tasks/list, tasks/cancel (the job ends
  CANCELED), settled and failed tasks, status notifications and log lines while tasks/result waits.
- 2026-07-28: the SDK client with the `io.modelcontextprotocol/tasks` extension and a result claim (in-process).
- Heartbeats and log lines while a plain tool call waits: the SDK client in the handshake era.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import sys
import threading
import time
from typing import Any, Literal

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.shared.exceptions import MCPError
from pydantic import TypeAdapter

from automl_fixtures import stop_leftovers

from mcp_fixtures import TINY, McpEnv, call, in_process_server, wait_state

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
EXTENSION = "io.modelcontextprotocol/tasks"
TERMINAL = ("completed", "failed", "cancelled")
ANY = TypeAdapter(dict[str, Any])


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- a JSON-RPC line client (2025-11-25) ----------------------------------------------------------------


class LineClient:
    """`ocrnet mcp` over stdio, spoken to line by line; notifications are collected in `notes`."""

    def __init__(self, env: McpEnv) -> None:
        self.stderr = (env.root / "server.err").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tao_ocrnet", *env.server_args()],
            env=env.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.notes: list[dict[str, Any]] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict[str, Any] | None = None, timeout: float = 120) -> dict[str, Any]:
        """The whole response (`result` or `error`)."""
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, **({"params": params} if params is not None else {})})
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.lines.get(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == self.next_id and "method" not in message:
                return message
            if "method" in message and "id" not in message:
                self.notes.append(message)

    def result(self, method: str, params: dict[str, Any] | None = None, timeout: float = 120) -> dict[str, Any]:
        response = self.request(method, params, timeout)
        assert "result" in response, response
        return response["result"]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def bad_dataset(env: McpEnv) -> str:
    """A dataset whose gt file names missing images: its dataset_convert job starts, then ends ERROR."""
    root = env.workspace / "bad"
    (root / "train").mkdir(parents=True, exist_ok=True)
    (root / "character_list").write_text((env.data / "character_list").read_text())
    (root / "train" / "gt_new.txt").write_text("missing_1.jpg\tabc\nmissing_2.jpg\tdef\n")
    return "bad"


def task_call(client: LineClient, tool: str, args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return client.request("tools/call", {"name": tool, "arguments": args, "task": {"ttl": 60_000}, **extra})


def poll_until(client: LineClient, task_id: str, timeout: float = 180) -> list[str]:
    """tasks/get until the task ends -> the statuses seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while not seen or seen[-1] not in TERMINAL:
        got = client.result("tasks/get", {"taskId": task_id})
        assert got["taskId"] == task_id and got["createdAt"] and got["lastUpdatedAt"] and "ttl" in got
        seen.append(got["status"])
        assert time.monotonic() < deadline, seen
        time.sleep(0.3)
    return seen


def test_tasks_in_the_2025_11_25_era_over_stdio(mcp_env: McpEnv):
    client = LineClient(mcp_env)
    try:
        init = client.result("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                            "clientInfo": {"name": "line-client", "version": "1"}})  # fmt: skip
        assert init["protocolVersion"] == "2025-11-25"
        assert init["capabilities"]["tasks"] == {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
        assert "logging" in init["capabilities"]
        client.send({"method": "notifications/initialized"})
        tools = {t["name"]: t for t in client.result("tools/list")["tools"]}
        assert tools["ocrnet_train"]["execution"] == {"taskSupport": "optional"}
        assert "execution" not in tools["ocrnet_job_status"]

        # A job that will fail: started first, checked at the end.
        failing = task_call(client, "ocrnet_dataset_convert", {"train_datasets": [bad_dataset(mcp_env)]})
        failing_id = failing["result"]["task"]["taskId"]

        # A task-augmented call returns its task at once; the task id is the job id.
        started = time.monotonic()
        created = task_call(client, "ocrnet_dataset_convert", {"train_datasets": ["data"]})["result"]["task"]
        assert time.monotonic() - started < 5
        assert created["status"] == "working" and created["taskId"].startswith("ocrnet-dataset_convert-")
        assert created["pollInterval"] > 0 and created["ttl"] is None  # a job stays until it is deleted
        train_conv = created["taskId"]
        seen = poll_until(client, train_conv)
        assert seen[-1] == "completed", seen
        assert client.result("tasks/get", {"taskId": train_conv})["statusMessage"].startswith("COMPLETE")

        # tasks/result: the tool's own result once the job ended (structured content, with the results).
        result = client.result("tasks/result", {"taskId": train_conv})
        assert result["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": train_conv}
        assert not result.get("isError") and result["structuredContent"]["state"] == "COMPLETE"
        assert result["structuredContent"]["job_id"] == train_conv and result["structuredContent"]["results"]
        assert json.loads(result["content"][0]["text"])["state"] == "COMPLETE"

        # tasks/result blocks until the end, sending status notifications and, once enabled, log lines.
        client.result("logging/setLevel", {"level": "info"})
        eval_conv = task_call(client, "ocrnet_dataset_convert", {"eval_dataset": "data"})["result"]["task"]["taskId"]
        result = client.result("tasks/result", {"taskId": eval_conv, "_meta": {"progressToken": "r1"}})
        assert result["structuredContent"]["state"] == "COMPLETE"
        methods = [n["method"] for n in client.notes]
        statuses = [n["params"] for n in client.notes if n["method"] == "notifications/tasks/status"]
        assert statuses and statuses[-1]["taskId"] == eval_conv and statuses[-1]["status"] == "completed", methods
        logs = [n["params"] for n in client.notes if n["method"] == "notifications/message"]
        assert any("line" in p["data"] for p in logs), methods
        assert any(p["data"].get("state") == "COMPLETE" for p in logs), logs
        assert any(n["method"] == "notifications/progress" for n in client.notes)

        # tasks/list pages through the workspace's jobs as tasks.
        listed = client.result("tasks/list")
        ids = [t["taskId"] for t in listed["tasks"]]
        assert {train_conv, eval_conv} <= set(ids) and ids.index(eval_conv) < ids.index(train_conv)  # newest first
        assert client.request("tasks/list", {"cursor": "bogus"})["error"]["code"] == -32602

        # Cancelling a task that ended is refused; so is a task-augmented call of a tool that takes no task.
        error = client.request("tasks/cancel", {"taskId": train_conv})["error"]
        assert error["code"] == -32602 and "already completed" in error["message"]
        error = task_call(client, "ocrnet_job_status", {"job_id": train_conv})["error"]
        assert error["code"] == -32601
        assert client.request("tasks/get", {"taskId": "ocrnet-train-000000"})["error"]["code"] == -32602

        # A call that starts nothing is a settled task: a dry run completed, a refused call failed.
        dry = task_call(client, "ocrnet_dataset_convert", {"train_datasets": ["data"], "dry_run": True})
        dry_id = dry["result"]["task"]["taskId"]
        assert dry["result"]["task"]["status"] == "completed"
        assert client.result("tasks/result", {"taskId": dry_id})["structuredContent"]["dry_run"] is True
        bad = task_call(client, "ocrnet_dataset_convert", {"train_datasets": ["nowhere"]})["result"]["task"]
        assert bad["status"] == "failed"
        refused = client.result("tasks/result", {"taskId": bad["taskId"]})
        assert refused["isError"] and "nowhere" in refused["content"][0]["text"]

        # tasks/cancel ends a running job CANCELED.
        train_args = {"train_datasets": [f"job:{train_conv}"], "eval_dataset": f"job:{eval_conv}", "num_epochs": 50,
                      "num_gpus": 0, "automl_policy": "off", "spec_overrides": TINY}  # fmt: skip
        train = task_call(client, "ocrnet_train", train_args)["result"]["task"]
        assert train["status"] == "working"
        cancelled = client.result("tasks/cancel", {"taskId": train["taskId"]})
        assert cancelled["status"] == "cancelled" and cancelled["taskId"] == train["taskId"]
        assert client.result("tasks/get", {"taskId": train["taskId"]})["status"] == "cancelled"
        status = client.result("tools/call", {"name": "ocrnet_job_status", "arguments": {"job_id": train["taskId"]}})
        assert status["structuredContent"]["state"] == "CANCELED"
        final = client.result("tasks/result", {"taskId": train["taskId"]})
        assert not final.get("isError") and final["structuredContent"]["state"] == "CANCELED"

        # A job that ends ERROR is a failed task; its result is an isError result with the cause.
        assert poll_until(client, failing_id)[-1] == "failed"
        failed = client.result("tasks/result", {"taskId": failing_id})
        assert failed["isError"] and "no valid sample" in failed["content"][0]["text"]
        assert "Last log lines:" in failed["content"][0]["text"]
    finally:
        client.close()


# --- the SDK client in the 2026-07-28 era ---------------------------------------------------------------


class CreatedTask(types.Result):
    result_type: Literal["task"] = "task"
    task_id: str
    status: str
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None


async def get_task(session: Any, task_id: str) -> dict[str, Any]:
    request = types.GetTaskRequest(params=types.GetTaskRequestParams(task_id=task_id))
    return await session.send_request(request, ANY)


async def follow(task: CreatedTask, ctx: ClaimContext) -> types.CallToolResult:
    """The client side of the extension: poll tasks/get until the task ends, then its inlined result."""
    while True:
        got = await get_task(ctx.session, task.task_id)
        if got["status"] in TERMINAL:
            return types.CallToolResult.model_validate(got["result"], by_name=False)
        await anyio.sleep(0.3)


class Tasks(ClientExtension):
    identifier = EXTENSION

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=follow)]


async def test_tasks_in_the_2026_07_28_era_with_the_sdk_client(mcp_env: McpEnv):
    server = in_process_server(mcp_env)
    async with Client(server, mode="auto", extensions=[Tasks()], cache=None) as client:
        assert client.protocol_version == "2026-07-28"
        assert EXTENSION in (client.server_capabilities.extensions or {})
        failing = await client.session.call_tool("ocrnet_dataset_convert", {"train_datasets": [bad_dataset(mcp_env)]},
                                                 allow_claimed=True)  # fmt: skip

        started = time.monotonic()
        task = await client.session.call_tool("ocrnet_dataset_convert", {"train_datasets": ["data"]},
                                              allow_claimed=True)  # fmt: skip
        assert time.monotonic() - started < 5
        assert isinstance(task, CreatedTask) and task.status == "working" and task.poll_interval_ms
        seen = []
        while not seen or seen[-1]["status"] not in TERMINAL:
            seen.append(await get_task(client.session, task.task_id))
            await anyio.sleep(0.3)
        assert seen[0]["status"] == "working" and seen[-1]["status"] == "completed", [s["status"] for s in seen]
        assert seen[-1]["result"]["structuredContent"]["state"] == "COMPLETE" and "ttlMs" in seen[-1]

        # The claim resolves a task transparently: call_tool returns the tool's own (validated) result.
        result = await client.call_tool("ocrnet_dataset_convert", {"eval_dataset": "data"})
        assert not result.is_error and result.structured_content["state"] == "COMPLETE"
        # A dry run starts nothing: its plain result comes back.
        dry = await call(client, "ocrnet_dataset_convert", {"eval_dataset": "data", "dry_run": True})
        assert dry["dry_run"] is True
        # 2026-07-28 keeps `failed` for JSON-RPC errors: a job that ended ERROR is a completed isError call.
        result = await client.call_tool("ocrnet_dataset_convert", {"train_datasets": [bad_dataset(mcp_env)]})
        assert result.is_error and "no valid sample" in result.content[0].text
        got = await get_task(client.session, failing.task_id)
        while got["status"] == "working":
            await anyio.sleep(0.3)
            got = await get_task(client.session, failing.task_id)
        assert got["status"] == "completed" and got["result"]["isError"] and got["statusMessage"].startswith("ERROR")

    # A client without the extension is told what it lacks.
    async with Client(in_process_server(mcp_env), mode="auto", cache=None) as plain:
        with pytest.raises(MCPError) as err:
            await get_task(plain.session, task.task_id)
        assert err.value.code == types.MISSING_REQUIRED_CLIENT_CAPABILITY
        plain_result = await call(plain, "ocrnet_job_status", {"job_id": task.task_id})
        assert plain_result["state"] == "COMPLETE"


# --- heartbeats and log lines while a tool waits -------------------------------------------------------


@pytest.mark.filterwarnings("ignore:The logging capability is deprecated")  # handshake-era clients still use it
async def test_heartbeat_and_log_lines_while_a_tool_waits(mcp_env: McpEnv):
    progress: list[tuple[float, float | None, str | None]] = []
    logs: list[types.LoggingMessageNotificationParams] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params)

    server = in_process_server(mcp_env)
    async with Client(server, mode="legacy", logging_callback=on_log, cache=None) as client:
        await call(client, "ocrnet_dataset_convert", {"train_datasets": ["data"], "wait_seconds": 50})
        assert not logs  # logging is off until the client asks for it
        await client.set_logging_level("info")
        evals = await call(client, "ocrnet_dataset_convert", {"eval_dataset": "data", "wait_seconds": 50})
        assert evals["state"] == "COMPLETE"
        assert any(isinstance(p.data, dict) and "line" in p.data for p in logs), logs
        assert any(p.level == "notice" and p.data.get("state") == "COMPLETE" for p in logs)

        jobs = (await call(client, "ocrnet_job_list", {"action": "dataset_convert"}))["jobs"]
        train_conv = next(j["id"] for j in jobs if j["id"] != evals["job_id"])
        args = {"train_datasets": [f"job:{train_conv}"], "eval_dataset": f"job:{evals['job_id']}", "num_epochs": 50,
                "num_gpus": 0, "automl_policy": "off", "spec_overrides": TINY, "wait_seconds": 7}  # fmt: skip
        waited = await call(client, "ocrnet_train", args, progress_callback=on_progress)
        assert waited["state"] in ("PENDING", "RUNNING"), waited
        await call(client, "ocrnet_job_cancel", {"job_id": waited["job_id"], "grace_seconds": 5})
        await wait_state(client, waited["job_id"], ("CANCELED",), timeout=60)

    values = [v for v, _, _ in progress]
    assert values == sorted(set(values)), values  # strictly increasing, as the spec asks
    assert all(total == 50 for _, total, _ in progress)
    # The job starts (runner, queue, torch) for longer than a heartbeat: notes came while nothing changed.
    facts = [(m or "").partition("; waited")[0] for _, _, m in progress]
    assert any(a == b for a, b in itertools.pairwise(facts)), progress
    assert all("waited" in (m or "") for _, _, m in progress)


# --- an AutoML study as a task ---------------------------------------------------------------------------


async def test_a_routed_train_call_is_a_task_on_its_study(mcp_env: McpEnv):
    budget = {"max_recommendations": 2, "max_epochs": 1, "seed": 3, "study_name": "as-task"}
    args = {"train_datasets": [str(mcp_env.data)], "num_gpus": 0, "num_epochs": 1, "spec_overrides": TINY,
            "automl_policy": "on", "automl_settings": budget}  # fmt: skip
    try:
        async with Client(in_process_server(mcp_env), mode="auto", extensions=[Tasks()], cache=None) as client:
            task = await client.session.call_tool("ocrnet_train", args, allow_claimed=True)
            assert isinstance(task, CreatedTask) and task.task_id == "as-task" and task.status == "working"
            got = await get_task(client.session, "as-task")
            assert got["status"] == "working" and "trials finished" in got["statusMessage"]
            cancel = types.CancelTaskRequest(params=types.CancelTaskRequestParams(task_id="as-task"))
            assert (await client.session.send_request(cancel, ANY)).get("resultType") == "complete"
            got = await get_task(client.session, "as-task")
            assert got["status"] == "cancelled", got
            listed = await client.session.send_request(types.ListTasksRequest(), ANY)
            assert "as-task" in [t["taskId"] for t in listed["tasks"]]
    finally:
        stop_leftovers(mcp_env.home)
