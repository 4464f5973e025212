# SPDX-License-Identifier: Apache-2.0
"""Issue 15, items 3 and 5, through the SDK's own client: train calls say which route they take (AutoML study
or one job) and how to take the other, a dry-run study's handle works with the status tools, and no text a
tool returns names a shell command or a command-line flag."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp import Client

from automl_fixtures import stop_leftovers

from mcp_fixtures import TINY, McpEnv, call, call_error, in_process_server, wait_state

pytestmark = pytest.mark.anyio

# "ocrnet " followed by a CLI subcommand, or a `--flag`: what an MCP client must never be told to run.
CLI = re.compile(
    r"\bocrnet (?:jobs|automl|deploy|skill|spec|mcp|synth|dataset_convert|train|retrain|evaluate|inference|export|"
    r"prune|quantize|gen_trt_engine)\b|(?<![\w-])--[a-z]"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def texts(result: Any) -> str:
    """Every text of a tool result: its content blocks (the structured content's JSON is one of them)."""
    return "\n".join(block.text for block in result.content if hasattr(block, "text"))


def assert_no_cli(result: Any) -> str:
    text = texts(result)
    assert not CLI.search(text), f"CLI wording in a tool result: {CLI.search(text)!r} in\n{text}"
    return text


def _train(env: McpEnv, **extra: Any) -> dict[str, Any]:
    return {"train_datasets": [str(env.data)], "num_gpus": 0, "num_epochs": 1, "spec_overrides": TINY, **extra}


async def test_descriptions_say_that_train_starts_a_study_by_default(mcp_env: McpEnv):
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in ("ocrnet_train", "ocrnet_retrain"):
        description = tools[name].description or ""
        assert "By default this starts an AutoML study" in description, description
        assert 'automl_policy "off" trains once' in description
        props = tools[name].input_schema["properties"]
        assert '"off" trains once' in props["automl_policy"]["description"]
        assert "wait_seconds" in props  # what it does for a study: test_wait_seconds_follows_a_started_study
    assert "AutoML" not in (tools["ocrnet_evaluate"].description or "")


async def test_a_dry_run_study_is_a_handle_the_status_tools_accept(mcp_env: McpEnv):
    async with Client(in_process_server(mcp_env), mode="auto") as client:
        routed = await call(client, "ocrnet_train", _train(mcp_env, dry_run=True, wait_seconds=5))
        # The route taken, how to take the other, and no job id that is not a job.
        assert routed["automl"]["applied"] == "automl" and routed["automl"]["source"] == "default"
        assert 'automl_policy "off"' in routed["automl"]["switch"] and "AutoML study" in routed["route"]
        assert "job_id" not in routed and routed["state"] == "NOT_STARTED"
        assert "a dry run starts nothing to wait for" in " ".join(routed["notes"])
        study = routed["study"]
        assert f"ocrnet_automl_status(study='{study}') answers NOT_STARTED" in routed["next"]

        status = await call(client, "ocrnet_automl_status", {"study": study})
        assert status["state"] == "NOT_STARTED" and status["progress"]["completed"] == 0
        assert "not started: this was a dry run" in status["reason"] and "ocrnet_train again" in status["reason"]
        canceled = await call(client, "ocrnet_automl_cancel", {"study": study})
        assert canceled["state"] == "NOT_STARTED" and canceled["reason"].startswith("nothing to cancel")
        # A study name is no job id; the job tools say so (and the result never offered it as one).
        assert "job_id" in await call_error(client, "ocrnet_job_status", {"job_id": study})

        direct = await call(client, "ocrnet_train", _train(mcp_env, dry_run=True, request="just one run, no sweep"))
        assert direct["automl"]["applied"] == "direct" and direct["automl"]["source"] == "request"
        assert 'automl_policy "on"' in direct["automl"]["switch"] and direct["route"] == "one training job (no AutoML)"
        assert direct["job_id"].startswith("ocrnet-train-") and "spec_yaml" in direct
    assert mcp_env.job_entries() == ([], []) and not (mcp_env.home / "automl").exists()  # dry runs record nothing


async def test_failing_calls_speak_in_tools_and_arguments(mcp_env: McpEnv):
    (mcp_env.workspace / "model.pth").write_bytes(b"not a checkpoint")
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        # A parent job that does not exist.
        missing = await client.call_tool(
            "ocrnet_evaluate", {"eval_dataset": str(mcp_env.data), "parent_job_id": "ocrnet-train-abcdef"}
        )
        assert missing.is_error and "parent_job_id" in assert_no_cli(missing) and "ocrnet_job_list" in texts(missing)
        # An AutoML status for a study that does not exist.
        unknown = await client.call_tool("ocrnet_automl_status", {"study": "no_such_study"})
        assert unknown.is_error and "no study `no_such_study`" in assert_no_cli(unknown)
        assert "OCRNET_AUTOML_STORAGE" in texts(unknown)
        # A deploy evaluate needs the engine's job.
        no_parent = await client.call_tool("ocrnet_trt_evaluate", {"eval_dataset": str(mcp_env.data)})
        assert no_parent.is_error and "parent_job_id" in assert_no_cli(no_parent)
        # An evaluate given a file that is no checkpoint: the job runs, fails, and its status says why.
        args = {"eval_dataset": str(mcp_env.data), "spec_overrides": {"evaluate.checkpoint": "model.pth"}}
        started = await client.call_tool("ocrnet_evaluate", args)
        assert_no_cli(started)
        job_id = started.structured_content["job_id"]
        view = await wait_state(client, job_id, ("ERROR",), timeout=240)
        status = await client.call_tool("ocrnet_job_status", {"job_id": job_id})
        text = assert_no_cli(status)
        assert view["state"] == "ERROR" and "ocrnet_job_logs" in text, text
        assert "neither a PyTorch checkpoint nor a pickle" in text  # the action's own words, as the cause
        for tool in ("ocrnet_job_results", "ocrnet_job_list"):
            assert_no_cli(await client.call_tool(tool, {"job_id": job_id} if tool == "ocrnet_job_results" else {}))


@pytest.mark.slow
async def test_wait_seconds_follows_a_started_study(mcp_env: McpEnv):
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    budget = {"max_recommendations": 1, "max_epochs": 1, "study_name": "waited", "delete_intermediate_ckpt": True}
    try:
        async with Client(in_process_server(mcp_env), mode="legacy") as client:
            result = await client.call_tool(
                "ocrnet_train", _train(mcp_env, automl_settings=budget, wait_seconds=50), progress_callback=on_progress
            )
            assert not result.is_error, texts(result)
            assert_no_cli(result)
            out = result.structured_content
            assert out["study"] == "waited" and out["job_id"].startswith("ocrnet-train-")  # the baseline trial's job
            assert out["progress"]["total"] == 1 and out["state"] in ("RUNNING", "COMPLETE"), out
            # The wait is either the whole study or says that it goes on, and where to follow it.
            assert out["state"] == "COMPLETE" or "ocrnet_automl_status(study='waited')" in out["waited"]
            assert progress and progress[0][1] == 1.0 and "trials finished" in (progress[0][2] or "")
            assert [v for v, _, _ in progress] == sorted({v for v, _, _ in progress})  # strictly increasing
    finally:
        stop_leftovers(mcp_env.home)
