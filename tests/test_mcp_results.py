# SPDX-License-Identifier: Apache-2.0
"""What an agent reads over MCP (issue 15 items 8 and 9), through the SDK's own client.

- tools/list stays small (<= 24 KiB as a client receives it) and marks what an action cannot do without;
- ocrnet_describe_action gives the fields an action reads (all on request), the workspace roots and gt format;
- `platform` picks the job platform (and is refused with the list when unknown);
- a job's files are resources: text pages, binary blobs (or a link when too large), not-found errors with data.uri;
- a failed job's status carries its cause and a `next` that fits; canceling an ERROR study keeps its reason.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from automl_fixtures import stop_leftovers
from tao_ocrnet.config.shipped import DEFAULT_MODEL
from tao_ocrnet.jobs.platforms.base import PLATFORMS
from tao_ocrnet.mcp.resources import BLOB_MAX_BYTES, FILES_TEMPLATE, WORKSPACE_URI

from mcp_fixtures import TINY, McpEnv, call, call_error, in_process_server, wait_state

pytestmark = pytest.mark.anyio
MAX_TOOLS_LIST = 24 * 1024


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _json(text: str | None) -> Any:
    assert text is not None
    return json.loads(text)


# --- item 9: lighter, clearer tool definitions --------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_tools_list_is_at_most_24_kib_as_a_client_receives_it(mcp_env: McpEnv, mode: str):
    async with Client(in_process_server(mcp_env), mode=mode) as client:
        listing = await client.list_tools()
    size = len(json.dumps(listing.model_dump(mode="json", by_alias=True, exclude_none=True)))
    assert size <= MAX_TOOLS_LIST, f"tools/list is {size} bytes"
    # The shared arguments are described once (the instructions), not per tool.
    train = next(t for t in listing.tools if t.name == "ocrnet_train").input_schema["properties"]
    assert "description" not in train["dry_run"] and "description" not in train["key_env"]


async def test_practically_required_arguments_are_marked_and_enforced(mcp_env: McpEnv):
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        required = {name: set(t.input_schema.get("required", [])) for name, t in tools.items()}
        assert required["ocrnet_train"] == {"train_datasets"}
        assert required["ocrnet_retrain"] == {"train_datasets", "parent_job_id"}
        assert required["ocrnet_evaluate"] == {"eval_dataset"}
        assert required["ocrnet_inference"] == {"inference_dataset"}
        assert required["ocrnet_trt_evaluate"] == {"eval_dataset", "parent_job_id"}
        assert required["ocrnet_trt_inference"] == {"inference_dataset", "parent_job_id"}
        assert required["ocrnet_gen_trt_engine"] == {"parent_job_id"}
        assert required["ocrnet_dataset_convert"] == set()  # either split's root

        text = await call_error(client, "ocrnet_trt_evaluate", {"dry_run": True})
        assert "`eval_dataset` is required: Root with character_list, test.tar.gz" in text
        assert "`parent_job_id` is required: A COMPLETE gen_trt_engine or export job" in text
        assert "ocrnet-train-1a2b3c" in text and "nothing was started" in text
        # Validation with did-you-mean still works on the reshaped schemas.
        text = await call_error(client, "ocrnet_evaluate", {"eval_datset": str(mcp_env.data)})
        assert "`eval_datset` is not an argument of this tool; did you mean `eval_dataset`?" in text
        text = await call_error(
            client, "ocrnet_evaluate", {"eval_dataset": str(mcp_env.data), "spec_overrides": {"evaluate.batchsize": 2}}
        )
        assert "did you mean `evaluate.batch_size`?" in text
    assert mcp_env.job_entries() == ([], [])


async def test_describe_action_gives_the_fields_the_action_reads_and_the_workspace(mcp_env: McpEnv):
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        small = await call(client, "ocrnet_describe_action", {"action": "dataset_convert"})
        assert small["fields"] and all(k.split(".")[0] in ("dataset_convert", "results_dir", "encryption_key")
                                       for k in small["fields"])  # fmt: skip
        assert "dataset_convert.input_img_dir" in small["fields"] and "train.optim.lr" not in small["fields"]
        full = await call(client, "ocrnet_describe_action", {"action": "dataset_convert", "all_fields": True})
        assert "train.optim.lr" in full["fields"] and len(full["fields"]) > 3 * len(small["fields"])
        assert full["fields_scope"] == "all"
        # The workspace roots and the gt format, without reading error text or SKILL.md.
        assert small["workspace"]["roots"] == [str(mcp_env.workspace.resolve())]
        assert "<TAB>" in small["workspace"]["gt_file"]
        assert small["data_sources"]["train_datasets"]["sets"] == ["dataset_convert.input_img_dir",
                                                                   "dataset_convert.gt_file"]  # fmt: skip
        ev = await call(client, "ocrnet_describe_action", {"action": "trt_evaluate", "fields": False})
        assert ev["required_args"] == ["eval_dataset", "parent_job_id"] and "fields" not in ev
        assert ev["parent"]["sets"] == ["evaluate.trt_engine"]

        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert WORKSPACE_URI in uris
        ws = _json((await client.read_resource(WORKSPACE_URI)).contents[0].text)
        assert ws["roots"] == [str(mcp_env.workspace.resolve())] and "<TAB>" in ws["gt_file"]
        assert "train.tar.gz" in ws["data_roots"]["files"]["train_datasets"]
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert FILES_TEMPLATE in templates and "ocrnet://jobs/{job_id}/log" in templates


async def test_platform_is_an_argument_of_every_start_tool_and_an_unknown_one_is_refused(mcp_env: McpEnv):
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        tools = (await client.list_tools()).tools
        starts = [t for t in tools if "dry_run" in t.input_schema["properties"]]
        assert len(starts) == 11
        assert all(t.input_schema["properties"]["platform"]["enum"] == list(PLATFORMS) for t in starts)
        text = await call_error(client, "ocrnet_dataset_convert", {"train_datasets": [str(mcp_env.data)],
                                                                   "platform": "nowhere"})  # fmt: skip
        assert '`platform` = "nowhere" is not allowed; choose one of ' in text
        assert all(f'"{name}"' in text for name in PLATFORMS)
        # The AutoML route takes it too (its dry run reviews the study that would run there).
        routed = await call(
            client,
            "ocrnet_train",
            {
                "train_datasets": [str(mcp_env.data)],
                "num_gpus": 0,
                "platform": "local",
                "dry_run": True,
                "spec_overrides": TINY,
            },
        )
        assert routed["automl"]["applied"] == "automl" and routed["review"]["platform"] == "local"
    assert mcp_env.job_entries() == ([], [])


# --- item 8: results an agent can read -------------------------------------------------------------------


async def test_a_jobs_files_are_resources_text_paged_binary_as_blob_or_link(mcp_env: McpEnv):
    async with Client(in_process_server(mcp_env), mode="auto") as client:
        job = await call(client, "ocrnet_dataset_convert",
                         {"train_datasets": [str(mcp_env.data)], "platform": "local"})  # fmt: skip
        view = await wait_state(client, job["job_id"], ("COMPLETE", "ERROR"))
        assert view["state"] == "COMPLETE", view
        assert view["platform"] == "local" and view["next"].startswith("ocrnet_job_results")
        results = await call(client, "ocrnet_job_results", {"job_id": job["job_id"]})
        files = {f["name"]: f for f in results["files"]}
        assert all(f["uri"].startswith(f"ocrnet://jobs/{job['job_id']}/files/") for f in files.values())

        # A binary file (the LMDB) comes as a blob, byte for byte.
        mdb = next(f for name, f in files.items() if name.endswith("data.mdb"))
        assert mdb["kind"] == "binary" and mdb["bytes"] <= BLOB_MAX_BYTES
        got = (await client.read_resource(mdb["uri"])).contents[0]
        assert isinstance(got, types.BlobResourceContents)
        on_disk = (Path(results["results_dir"]) / mdb["name"]).read_bytes()
        assert base64.b64decode(got.blob) == on_disk

        # A text file in pages: offset/limit in the URI, _meta.next_offset to go on, secrets masked.
        status = next(f for name, f in files.items() if name.endswith("status.json"))
        whole = (Path(results["results_dir"]) / status["name"]).read_text(encoding="utf-8")
        pages, offset = [], 0
        while offset is not None:
            page = (await client.read_resource(f"{status['uri']}?offset={offset}&limit=100")).contents[0]
            assert isinstance(page, types.TextResourceContents) and page.meta is not None
            assert page.meta["bytes"] == len(whole.encode()) and len(page.text.encode()) <= 100
            pages.append(page.text)
            offset = page.meta.get("next_offset")
            assert page.meta["eof"] is (offset is None)
        assert "".join(pages) == whole and len(pages) > 1

        # A binary file larger than the blob limit: its path and size instead.
        big = Path(results["results_dir"]) / "big.onnx"
        big.write_bytes(b"\0" * (BLOB_MAX_BYTES + 1))
        link = (await client.read_resource(f"ocrnet://jobs/{job['job_id']}/files/big.onnx")).contents[0]
        assert isinstance(link, types.TextResourceContents) and link.meta == {"bytes": BLOB_MAX_BYTES + 1,
                                                                              "link": True}  # fmt: skip
        assert _json(link.text)["path"] == str(big.resolve())

        # Not found / escaping / bad paging: protocol errors that carry the URI.
        for bad in (f"ocrnet://jobs/{job['job_id']}/files/none.csv", f"ocrnet://jobs/{job['job_id']}/files/../x",
                    f"{status['uri']}?limit=0", f"{status['uri']}?page=2"):  # fmt: skip
            with pytest.raises(MCPError) as err:
                await client.read_resource(bad)
            assert err.value.error.data == {"uri": bad}, bad


async def test_a_failed_job_says_why_and_what_to_do(mcp_env: McpEnv):
    bad = mcp_env.workspace / "models" / "bad.pth"
    bad.parent.mkdir()
    bad.write_bytes(b"not a checkpoint")
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        job = await call(client, "ocrnet_evaluate", {"eval_dataset": str(mcp_env.data),
                                                     "spec_overrides": {"evaluate.checkpoint": str(bad)}})  # fmt: skip
        assert "until it ends" in job["next"] and "until COMPLETE" not in job["next"]
        view = await wait_state(client, job["job_id"], ("COMPLETE", "ERROR"))
        assert view["state"] == "ERROR", view
        assert view["cause"][0] == view["message"] and len(view["cause"]) > 1
        assert any("bad.pth" in line or "checkpoint" in line.lower() for line in view["cause"]), view["cause"]
        assert "cause" in view["next"] and "COMPLETE" not in view["next"]
        status = _json((await client.read_resource(f"ocrnet://jobs/{job['job_id']}/status")).contents[0].text)
        # The same cause (the runner may have logged one more line since) and the same advice.
        assert status["cause"][0] == view["cause"][0] and status["next"] == view["next"]


@pytest.mark.slow
async def test_an_evaluate_jobs_predictions_are_read_in_pages(mcp_env: McpEnv):
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        job = await call(client, "ocrnet_evaluate", {
            "eval_dataset": str(mcp_env.data), "spec_overrides": {"evaluate.checkpoint": DEFAULT_MODEL},
        })  # fmt: skip
        view = await wait_state(client, job["job_id"], ("COMPLETE", "ERROR"))
        assert view["state"] == "COMPLETE", view
        files = {f["name"].rsplit("/", 1)[-1]: f for f in (await call(
            client, "ocrnet_job_results", {"job_id": job["job_id"]}))["files"]}  # fmt: skip
        assert {"predictions.csv", "results.json", "status.json"} <= set(files)
        first = (await client.read_resource(files["predictions.csv"]["uri"] + "?limit=200")).contents[0]
        assert isinstance(first, types.TextResourceContents) and first.mime_type == "text/csv"
        assert first.meta is not None and first.meta["next_offset"] == 200 and first.text.count("\n") >= 1
        rest = (await client.read_resource(files["predictions.csv"]["uri"] + "?offset=200")).contents[0]
        rows = (first.text + rest.text).splitlines()
        assert len(rows) == 1 + 16  # a header and one row per test image
        results = _json((await client.read_resource(files["results.json"]["uri"])).contents[0].text)
        assert "Accuracy" in json.dumps(results)


@pytest.mark.slow
async def test_canceling_an_error_study_keeps_its_reason(mcp_env: McpEnv):
    from tao_ocrnet.automl.plan import StudyRequest
    from tao_ocrnet.automl.runner import start_study
    from tao_ocrnet.datasources.resolver import DataRoots

    bad = mcp_env.workspace / "bad.pth"
    bad.write_bytes(b"not a checkpoint")  # passes the pre-launch checks, fails every trial when it loads
    overrides = {**TINY, "train.num_gpus": 0, "train.pretrained_model_path": str(bad)}
    request = StudyRequest(roots=DataRoots(train_datasets=(str(mcp_env.data),)), overrides=overrides)
    settings = {"study_name": "doomed", "max_recommendations": 3, "max_epochs": 1, "max_consecutive_failures": 1}
    try:
        start_study(settings, request)
        async with Client(in_process_server(mcp_env), mode="legacy") as client:
            import anyio

            with anyio.fail_after(240):
                while (status := await call(client, "ocrnet_automl_status", {"study": "doomed"}))["state"] != "ERROR":
                    assert status["state"] in ("RUNNING", "STOPPED"), status
                    await anyio.sleep(1.0)
            reason = status["reason"]
            assert "failed" in reason
            canceled = await call(client, "ocrnet_automl_cancel", {"study": "doomed", "grace_seconds": 5})
            assert (canceled["state"], canceled["reason"]) == ("ERROR", reason)
            again = await call(client, "ocrnet_automl_status", {"study": "doomed"})
            assert (again["state"], again["reason"]) == ("ERROR", reason)
    finally:
        stop_leftovers(mcp_env.home)
