# SPDX-License-Identifier: Apache-2.0
"""The MCP server in-process with the SDK's own client, in both protocol eras: tools, bad input, resources.

Every refused call must come back as an isError result naming the argument and the fix, leave no job behind
and leave the server serving.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from jsonschema import Draft202012Validator
from mcp import Client
from mcp.shared.exceptions import MCPError

from tao_ocrnet.mcp import constants as C

from mcp_fixtures import ROOT, TINY, McpEnv, call, call_error, in_process_server

pytestmark = pytest.mark.anyio
MODES = ["legacy", "auto"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("mode", MODES)
async def test_lists_every_tool_with_valid_schemas(mcp_env: McpEnv, mode: str):
    async with Client(in_process_server(mcp_env), mode=mode) as client:
        tools = (await client.list_tools()).tools
        wire = [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]
    assert [t["name"] for t in wire] == [t["name"] for t in json.loads((ROOT / C.TOOLS_FILE).read_text())["tools"]]
    for tool in wire:
        Draft202012Validator.check_schema(tool["inputSchema"])
        Draft202012Validator.check_schema(tool["outputSchema"])
    assert len(json.dumps({"tools": wire}, separators=(",", ":")).encode()) < 48_000


@pytest.mark.parametrize("mode", MODES)
async def test_bad_input_is_an_error_result_and_creates_nothing(mcp_env: McpEnv, mode: str, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (mcp_env.workspace / "escape").symlink_to(outside)
    data = str(mcp_env.data)
    async with Client(in_process_server(mcp_env), mode=mode) as client:
        with pytest.raises(MCPError) as err:
            await client.call_tool("ocrnet_no_such_tool", {})
        assert err.value.code == -32602 and "Unknown tool" in err.value.message

        text = await call_error(client, "ocrnet_job_status", {})
        assert "`job_id` is required" in text
        text = await call_error(client, "ocrnet_train", {"train_datasets": data, "num_epochs": "two"})
        assert "`train_datasets` must be a list" in text and "`num_epochs` must be an integer" in text
        text = await call_error(
            client, "ocrnet_train", {"train_datasets": [data], "spec_overrides": {"train.optim.lrr": 0.1}}
        )
        assert "did you mean `train.optim.lr`?" in text
        text = await call_error(client, "ocrnet_train", {"train_datasets": [data], "num_epochs": 0})
        assert "`num_epochs` = 0 is out of range; use a value in [1, 100000]" in text
        text = await call_error(
            client, "ocrnet_evaluate", {"eval_dataset": data, "spec_overrides": {"evaluate.batch_size": 10**6}}
        )
        assert "`spec_overrides.evaluate.batch_size`" in text and "out of range" in text
        text = await call_error(client, "ocrnet_train", {"train_datasets": ["/etc"]})
        assert "`train_datasets[0]`: /etc is outside the workspace" in text and "--workspace" in text
        text = await call_error(client, "ocrnet_evaluate", {"eval_dataset": str(mcp_env.workspace / "escape")})
        assert "through a symbolic link" in text
        text = await call_error(
            client, "ocrnet_evaluate", {"eval_dataset": data, "spec_overrides": {"evaluate.checkpoint": "/etc/x.pth"}}
        )
        assert "`spec_overrides.evaluate.checkpoint`" in text and "outside the workspace" in text
        for tool in ("ocrnet_job_status", "ocrnet_job_logs", "ocrnet_job_cancel", "ocrnet_job_results"):
            text = await call_error(client, tool, {"job_id": "../../etc/passwd"})
            assert "job ids look like ocrnet-train-1a2b3c" in text
            text = await call_error(client, tool, {"job_id": "ocrnet-train-abcdef"})
            assert "no job `ocrnet-train-abcdef`" in text and "ocrnet_job_list" in text
        text = await call_error(
            client, "ocrnet_evaluate", {"eval_dataset": data, "parent_job_id": "ocrnet-train-abcdef"}
        )
        assert "`parent_job_id` ocrnet-train-abcdef: no job" in text
        text = await call_error(client, "ocrnet_train", {"request": "x" * (C.MAX_ARGUMENTS_BYTES + 10)})
        assert "the limit is" in text
        text = await call_error(client, "ocrnet_dataset_convert", {"train_datasets": [data], "eval_dataset": data})
        assert "`train_datasets` or `eval_dataset`" in text
        text = await call_error(
            client, "ocrnet_train", {"train_datasets": [data], "spec_overrides": {"results_dir": data}}
        )
        assert "`results_dir` is bound to the job's results folder" in text
        text = await call_error(client, "ocrnet_train", {"train_datasets": [data], "key_env": "NOT_SET_ANYWHERE_X"})
        assert "`key_env` NOT_SET_ANYWHERE_X: that environment variable is not set" in text
        # still serving, and nothing was recorded or created
        assert len((await client.list_tools()).tools) == 19
    jobs, results = mcp_env.job_entries()
    assert jobs == [] and results == []


async def test_dry_run_resolves_the_spec_and_reports_the_automl_decision(mcp_env: McpEnv):
    data = str(mcp_env.data)
    args = {"train_datasets": [data], "num_epochs": 2, "num_gpus": 0, "spec_overrides": TINY, "dry_run": True}
    async with Client(in_process_server(mcp_env), mode="auto") as client:
        routed = await call(client, "ocrnet_train", {**args, "request": "please tune the learning rate"})
        automl = routed["automl"]
        assert automl["route"] == "automl" and automl["applied"] == "automl" and automl["source"] == "request"
        assert routed["dry_run"] is True and routed["state"] == "NOT_STARTED"
        review = routed["review"]  # the study's pre-launch review
        assert routed["study"] == review["study"] and review["budget"]["max_epochs"] == 2
        assert review["first_batch"][0]["baseline"] and "train.optim.lr" in review["first_batch"][1]["specs"]
        off = await call(client, "ocrnet_train", {**args, "automl_policy": "off", "request": "tune it"})
        assert off["automl"]["policy"] == "off" and off["automl"]["source"] == "explicit"
        assert off["automl"]["applied"] == "direct" and off["state"] == "NOT_STARTED"
        assert "num_epochs: 2" in off["spec_yaml"] and "hidden_size: 16" in off["spec_yaml"]
        assert f"character_list_file: {mcp_env.data}/character_list" in off["spec_yaml"]
        legacy = await call(client, "ocrnet_train", {**args, "automl_policy": "auto"})
        assert legacy["automl"]["policy"] == "on"
        (mcp_env.workspace / "model.pth").write_bytes(b"model")  # a dry run refuses model files that do not exist
        ev_args = {"eval_dataset": data, "dry_run": True, "spec_overrides": {"evaluate.checkpoint": "model.pth"}}
        ev = await call(client, "ocrnet_evaluate", ev_args)
        assert "automl" not in ev and f"checkpoint: {mcp_env.workspace}/model.pth" in ev["spec_yaml"]
    assert mcp_env.job_entries() == ([], [])  # dry runs, the study's review included, create nothing
    assert not (mcp_env.home / "automl").exists()


async def test_a_routed_train_request_goes_to_the_automl_router(mcp_env: McpEnv, monkeypatch):
    from tao_ocrnet.automl import router

    seen = {}

    def route_train(request, decision, *, dry_run, settings, first_job_wait):
        seen.update(request=request, decision=decision, dry_run=dry_run, settings=settings)
        review = {"study": "study-1", "budget": {"max_recommendations": 10}}
        return {"study": "study-1", "action": request.action, "state": "NOT_STARTED", "dry_run": dry_run,
                "review": review, "notes": []}  # fmt: skip

    monkeypatch.setattr(router, "route_train", route_train)
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        args = {"train_datasets": [str(mcp_env.data)], "num_epochs": 3, "dry_run": True, "request": "run HPO"}
        out = await call(client, "ocrnet_train", args)
    assert out["study"] == "study-1" and out["automl"]["applied"] == "automl" and seen["dry_run"] is True
    assert seen["decision"].route == "automl" and seen["request"].overrides["train.num_epochs"] == 3
    assert seen["request"].roots.train_datasets == (str(mcp_env.data),)


async def test_describe_action(mcp_env: McpEnv):
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        out = await call(client, "ocrnet_describe_action", {"action": "train", "template": True, "full_schema": True})
        assert out["popular"]["num_epochs"]["key"] == "train.num_epochs"
        assert "train.optim.lr" in out["fields"] and "range" in out["fields"]["train.optim.lr"]
        assert "dataset.train_dataset_dir" in out["required"]
        assert out["template_yaml"].startswith("# generated") and out["schema"]["$schema"].endswith("2020-12/schema")
        assert set(out["data_sources"]) == {"train_datasets", "eval_dataset"}
        small = await call(client, "ocrnet_describe_action", {"action": "trt_evaluate", "fields": False})
        assert "fields" not in small and "parent_job_id" in small["parent"]


async def test_resources_are_read_only_and_confined(mcp_env: McpEnv):
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        expected = {
            "ocrnet://skill/SKILL.md",
            "ocrnet://schemas/json-schema/train.json",
            "ocrnet://schemas/mcp/tools.json",
            "ocrnet://references/spec_template_train.yaml",
            "ocrnet://references/ocrnet-mcp.md",
        }
        assert expected <= uris
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert "ocrnet://jobs/{job_id}/log" in templates
        skill = await client.read_resource("ocrnet://skill/SKILL.md")
        assert skill.contents[0].text == (ROOT / "SKILL.md").read_text(encoding="utf-8")
        for bad in (
            "ocrnet://jobs/..%2F..%2Fetc/log",
            "ocrnet://skill/../../etc/passwd",
            "ocrnet://jobs/ocrnet-train-abcdef/log",
        ):
            with pytest.raises(MCPError):
                await client.read_resource(bad)


def test_torch_is_not_imported_by_the_server_or_on_the_submit_path(mcp_env: McpEnv):
    """A real ocrnet_train submit in a fresh process: the job id comes back, torch and optuna stay unloaded, cancel
    works."""
    script = textwrap.dedent(
        f"""
        import json, sys, time, anyio
        from mcp import Client
        from tao_ocrnet.mcp.context import Runtime
        from tao_ocrnet.mcp.server import build_server

        async def main():
            server = build_server(Runtime.load(__import__("pathlib").Path({str(ROOT)!r}), [{str(mcp_env.workspace)!r}]))
            async with Client(server, mode="legacy") as client:
                await client.list_tools()
                args = {{"train_datasets": [{str(mcp_env.data)!r}], "num_gpus": 0, "automl_policy": "off",
                        "spec_overrides": {TINY!r}}}
                started = time.perf_counter()
                out = (await client.call_tool("ocrnet_train", args)).structured_content
                took = time.perf_counter() - started
                loaded = [name for name in ("torch", "optuna") if name in sys.modules]
                cancel = await client.call_tool("ocrnet_job_cancel", {{"job_id": out["job_id"], "grace_seconds": 5}})
                print(json.dumps({{"heavy": loaded, "seconds": took, "job": out, "cancel": cancel.structured_content}}))

        anyio.run(main)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env=mcp_env.env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["job"]["job_id"].startswith("ocrnet-train-") and report["job"]["state"] in ("RUNNING", "PENDING")
    assert report["cancel"]["state"] in ("CANCELED", "COMPLETE", "ERROR")
    assert report["seconds"] < 5  # generous: the 300 ms target is measured by benchmarks/bench_mcp.py
