# SPDX-License-Identifier: Apache-2.0
"""The protocol beyond tools: prompts, completions, job-state subscriptions, the skills extension (SEP-2640),
not-found errors, malformed stdio input and HTTP sessions that never run out. Through the SDK's own client
(in-process and over stdio/HTTP subprocesses), raw stdio for malformed lines and raw HTTP for sessions."""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from pydantic import TypeAdapter

from tao_ocrnet.mcp import constants as C
from tao_ocrnet.mcp.prompts import PROMPTS_FILE
from tao_ocrnet.mcp.skills import EXTENSION, SkillGetParams
from tao_ocrnet.skill import prompts as generated_prompts

from mcp_fixtures import ROOT, McpEnv, call, http_server, in_process_server, stdio_client, wait_state

pytestmark = pytest.mark.anyio
MODES = ("legacy", "auto")
SKILL_MD = "skill://tao-train-ocrnet/SKILL.md"
ANY = TypeAdapter(dict[str, Any])
CLIENT = {"name": "t", "version": "1"}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": CLIENT}}  # fmt: skip


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def raw(client: Client, method: str, params: types.RequestParams | None = None) -> dict[str, Any]:
    """A request the SDK client has no method for (an extension's)."""
    return await client.session.send_request(types.Request(method=method, params=params), ANY)


# --- prompts -----------------------------------------------------------------------------------


def test_the_server_reads_the_generated_prompts_file():
    assert PROMPTS_FILE == generated_prompts.PROMPTS_FILE
    assert json.loads((ROOT / PROMPTS_FILE).read_text())["prompts"] == generated_prompts.prompts_document()["prompts"]


@pytest.mark.parametrize("mode", MODES)
async def test_prompts_for_the_main_workflows(mcp_env: McpEnv, mode: str):
    async with Client(in_process_server(mcp_env), mode=mode) as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        assert set(listed) >= {"train_on_my_data", "finetune_shipped_model", "deploy_model"}
        assert all(p.description for p in listed.values())
        got = await client.get_prompt("finetune_shipped_model", {"train_dataset": "/d/train", "eval_dataset": "/d/ev"})
        text = got.messages[0].content.text
        assert '"train.pretrained_model_path": "ocrnet_cpu_small"' in text and 'train_datasets=["/d/train"]' in text
        assert "num_epochs=10" in text and "$" not in text  # the default filled in, no placeholder left
        deploy = (await client.get_prompt("deploy_model", {"job_id": "ocrnet-train-abc123"})).messages[0].content
        assert 'parent_job_id="ocrnet-train-abc123"' in deploy.text and "ocrnet_gen_trt_engine" in deploy.text
        with pytest.raises(MCPError, match=r"missing required argument.*eval_dataset"):
            await client.get_prompt("train_on_my_data", {"train_dataset": "/d"})
        with pytest.raises(MCPError, match=r"no prompt 'nope'.*train_on_my_data"):
            await client.get_prompt("nope")


# --- completions -------------------------------------------------------------------------------


async def test_completions_for_job_ids_studies_and_actions(mcp_env: McpEnv):
    (mcp_env.home / "automl" / "study1").mkdir(parents=True)
    (mcp_env.home / "automl" / "study1" / "study.json").write_text(json.dumps({"name": "ocrnet-study-one"}))
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        job = await call(client, "ocrnet_dataset_convert", {"eval_dataset": str(mcp_env.data)})
        prompt = types.PromptReference(type="ref/prompt", name="deploy_model")
        done = await client.complete(prompt, {"name": "job_id", "value": "ocrnet-dataset"})
        assert done.completion.values == [job["job_id"]]
        assert (await client.complete(prompt, {"name": "job_id", "value": "zzz"})).completion.values == []
        template = types.ResourceTemplateReference(type="ref/resource", uri="ocrnet://jobs/{job_id}/status")
        assert (await client.complete(template, {"name": "job_id", "value": ""})).completion.values == [job["job_id"]]
        follow = types.PromptReference(type="ref/prompt", name="follow_training")
        studies = await client.complete(follow, {"name": "study", "value": "ocrnet-st"})
        assert studies.completion.values == ["ocrnet-study-one"]
        explain = types.PromptReference(type="ref/prompt", name="explain_action")
        actions = await client.complete(explain, {"name": "action", "value": "tr"})
        assert set(actions.completion.values) == {"train", "trt_evaluate", "trt_inference"}
        # An argument the server cannot complete gets an empty list, not an error.
        other = await client.complete(prompt, {"name": "runtime", "value": "t"})
        assert other.completion.values == []
        await wait_state(client, job["job_id"], ("COMPLETE",), timeout=120)


# --- subscriptions -----------------------------------------------------------------------------


async def test_job_state_subscription_in_both_eras(mcp_env: McpEnv):
    updates: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(str(message.params.uri))

    server = in_process_server(mcp_env)
    async with (
        Client(server, mode="legacy", message_handler=on_message) as legacy,
        Client(server, mode="auto") as modern,
    ):
        assert legacy.server_capabilities.resources.subscribe is True
        job = await call(legacy, "ocrnet_dataset_convert", {"eval_dataset": str(mcp_env.data)})
        uri = f"ocrnet://jobs/{job['job_id']}/status"
        await legacy.subscribe_resource(uri)
        async with modern.listen(resource_subscriptions=[uri]) as sub:
            heard: list[str] = []
            with anyio.fail_after(120):
                async for event in sub:
                    heard.append(event.uri)
                    state = json.loads((await modern.read_resource(uri)).contents[0].text)["state"]
                    if state == "COMPLETE":
                        break
        assert heard and set(heard) == {uri}
        with anyio.fail_after(10):
            while uri not in updates:
                await anyio.sleep(0.2)
        await legacy.unsubscribe_resource(uri)


# --- skills extension --------------------------------------------------------------------------


async def test_skills_extension_serves_this_skill(mcp_env: McpEnv):
    async with Client(in_process_server(mcp_env), mode="auto") as client:
        assert EXTENSION in (client.server_capabilities.extensions or {})
        listed = await raw(client, "skills/list")
        (entry,) = listed["skills"]
        assert entry["uri"] == SKILL_MD and entry["frontmatter"]["name"] == "tao-train-ocrnet"
        files = {r["uri"]: r for r in entry["resources"]}
        skill_md = (ROOT / "SKILL.md").read_bytes()
        assert files[SKILL_MD] == {"uri": SKILL_MD, "size": len(skill_md),
                                   "digest": "sha256:" + hashlib.sha256(skill_md).hexdigest()}  # fmt: skip
        guide = "skill://tao-train-ocrnet/references/ocrnet-mcp.md"
        assert guide in files
        read = (await client.read_resource(guide)).contents[0]
        assert read.text == (ROOT / "references" / "ocrnet-mcp.md").read_text()
        assert (await raw(client, "skills/get", SkillGetParams(uri=SKILL_MD)))["skill"] == entry
        with pytest.raises(MCPError) as err:
            await raw(client, "skills/get", SkillGetParams(uri="skill://other/SKILL.md"))
        assert err.value.error.code == types.INVALID_PARAMS
        assert (await client.list_resources()).resources[0].uri == SKILL_MD


# --- not found ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_not_found_errors_carry_the_uri(mcp_env: McpEnv, mode: str):
    async with Client(in_process_server(mcp_env), mode=mode) as client:
        for uri in ("ocrnet://nothing/here", "skill://tao-train-ocrnet/references/missing.md"):
            with pytest.raises(MCPError) as err:
                await client.read_resource(uri)
            assert err.value.error.data == {"uri": uri}


# --- malformed stdio input ---------------------------------------------------------------------


def test_stdio_answers_malformed_json_with_a_parse_error(mcp_env: McpEnv):
    lines = ["{not json", json.dumps(INIT), json.dumps([1, 2]), ""]
    proc = subprocess.run(
        [sys.executable, "-m", "tao_ocrnet", *mcp_env.server_args()],
        input="\n".join(lines), env=mcp_env.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    replies = [json.loads(line) for line in proc.stdout.splitlines()]
    assert replies[0] == {"jsonrpc": "2.0", "id": None,
                          "error": {"code": -32700, "message": "Parse error: the line is not valid JSON"}}  # fmt: skip
    assert replies[1]["id"] == 1 and "result" in replies[1]
    assert replies[2]["id"] is None and replies[2]["error"]["code"] == -32600
    assert len(replies) == 3


async def test_stdio_client_still_works(mcp_env: McpEnv):
    async with stdio_client(mcp_env, "auto") as client:
        assert len((await client.list_prompts()).prompts) >= 3


# --- HTTP sessions -----------------------------------------------------------------------------

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def open_session(http: httpx2.Client, url: str) -> str:
    """An initialize that is never followed by DELETE: the session stays open, as the Inspector CLI leaves it."""
    reply = http.post(url, json=INIT, headers=HEADERS)
    assert reply.status_code == 200, reply.text
    return reply.headers["mcp-session-id"]


def ping(http: httpx2.Client, url: str, session: str) -> int:
    headers = HEADERS | {"mcp-session-id": session, "mcp-protocol-version": "2025-06-18"}
    return http.post(url, json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=headers).status_code


def test_http_sessions_never_run_out(mcp_env: McpEnv):
    mcp_env.env[C.MAX_SESSIONS_ENV] = "16"
    with http_server(mcp_env) as server, httpx2.Client(timeout=30) as http:
        sessions = [open_session(http, server.url) for _ in range(17)]  # the 17th evicts the first
        assert ping(http, server.url, sessions[0]) == 404  # least recently used: gone, its client re-initializes
        assert all(ping(http, server.url, s) == 200 for s in sessions[2:])
        newest = open_session(http, server.url)  # and the next one works too
        assert ping(http, server.url, newest) == 200
        assert ping(http, server.url, sessions[1]) == 404  # now the least recently used one went


def test_a_refused_session_says_what_to_do(mcp_env: McpEnv):
    mcp_env.env[C.MAX_SESSIONS_ENV] = "2"
    with http_server(mcp_env) as server, httpx2.Client(timeout=30) as http, contextlib.ExitStack() as streams:
        for _ in range(2):  # two sessions, each busy with an open GET stream
            session = open_session(http, server.url)
            headers = {"Accept": "text/event-stream", "mcp-session-id": session, "mcp-protocol-version": "2025-06-18"}
            assert streams.enter_context(http.stream("GET", server.url, headers=headers)).status_code == 200
        refused = http.post(server.url, json=INIT, headers=HEADERS)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        message = refused.json()["error"]["message"]
        assert "--max-sessions" in message and C.MAX_SESSIONS_ENV in message and "DELETE" in message


def test_session_limits_are_checked(mcp_env: McpEnv):
    for args, words in ((["--max-sessions", "0"], "--max-sessions"), (["--session-idle-timeout", "x"], "idle"),
                        (["--max-sessions", "5"], "--http")):  # fmt: skip
        extra = ["--http", "127.0.0.1:0"] if words != "--http" else []
        proc = subprocess.run([sys.executable, "-m", "tao_ocrnet", *mcp_env.server_args(), *extra, *args],
                              env=mcp_env.env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_session_defaults_are_the_sdks():
    from mcp.server.streamable_http_manager import DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_IDLE_TIMEOUT

    assert (C.MAX_HTTP_SESSIONS, C.HTTP_SESSION_IDLE_SECONDS) == (DEFAULT_MAX_SESSIONS, DEFAULT_SESSION_IDLE_TIMEOUT)
