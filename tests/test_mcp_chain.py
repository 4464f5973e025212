# SPDX-License-Identifier: Apache-2.0
"""The whole workflow through MCP tool calls only, on synthetic data, across two server processes:

server A (stdio, handshake era): dataset_convert both splits (waiting, with progress) -> ocrnet_train (tiny)
returns its job id at once -> server A exits while training runs;
server B (streamable HTTP, 2026-07-28 era, bearer token): sees the train job finish -> evaluate, export and
inference together -> trt_evaluate on the exported ONNX file with ONNX Runtime; KPIs, files, logs, listing
and job resources checked.

Steps whose command the installed CLI lacks (export, `ocrnet deploy evaluate`) are skipped at run time.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tao_ocrnet.jobs.platforms import procs
from tao_ocrnet.jobs.store import JobStore

from mcp_fixtures import TINY, McpEnv, call, http_client, http_server, stdio_client, wait_state

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
TOKEN = "chain-token-0123456789abcdef"
DONE = ("COMPLETE", "ERROR", "CANCELED")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def files_of(results: dict) -> set[str]:
    """File names (paths under the results folder, e.g. `train/best_accuracy.pth`, without their folders)."""
    return {f["name"].rpartition("/")[2] for f in results["files"]}


async def start_jobs(env: McpEnv) -> tuple[str, str, str]:
    """Server A: convert both splits (waiting, with progress), submit train, then exit. -> job ids."""
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async with stdio_client(env, "legacy") as client:
        train_convert = await call(
            client,
            "ocrnet_dataset_convert",
            {"train_datasets": [str(env.data)], "wait_seconds": 50},
            progress_callback=on_progress,
        )
        eval_convert = await call(client, "ocrnet_dataset_convert", {"eval_dataset": "data", "wait_seconds": 50})
        assert train_convert["state"] == eval_convert["state"] == "COMPLETE", (train_convert, eval_convert)
        assert progress and progress[-1][2].startswith("COMPLETE")
        assert [v for v, _, _ in progress] == sorted({v for v, _, _ in progress})  # strictly increasing
        train = await call(
            client,
            "ocrnet_train",
            {
                "train_datasets": [f"job:{train_convert['job_id']}"],
                "eval_dataset": f"job:{eval_convert['job_id']}",
                "num_epochs": 1,
                "num_gpus": 0,
                "request": "just train it, no HPO",
                "spec_overrides": TINY,
            },
        )
        assert train["state"] in ("PENDING", "RUNNING") and train["automl"]["policy"] == "off"
    return train_convert["job_id"], eval_convert["job_id"], train["job_id"]


async def test_full_chain_across_two_servers(mcp_env: McpEnv):
    # Evaluate, inference and export run side by side, not queued one at a time as on 2 cores by default: the queue
    # has its own tests (test_jobs_queue.py), and each job start imports torch for seconds.
    mcp_env.env["OCRNET_MAX_JOBS"] = "3"
    _, convert_eval, train_id = await start_jobs(mcp_env)

    # Server A is gone; the job runs on in its own process group.
    record = JobStore(mcp_env.home / "jobs").read(train_id)
    ref = record["backend_ref"]
    assert procs.is_running(ref["pid"], ref["start_time"]), "the train job died with the server"

    with http_server(mcp_env, token=TOKEN) as server:
        async with http_client(server, "auto", TOKEN) as client:
            trained = await wait_state(client, train_id, DONE)
            assert trained["state"] == "COMPLETE", trained
            assert 0.0 <= trained["kpis"]["val_acc"] <= 1.0 and trained["exit_code"] == 0
            results = await call(client, "ocrnet_job_results", {"job_id": train_id})
            assert "best_accuracy.pth" in files_of(results) and "status.json" in files_of(results)

            ids = {
                "evaluate": await call(
                    client,
                    "ocrnet_evaluate",
                    {"eval_dataset": f"job:{convert_eval}", "parent_job_id": train_id, "num_gpus": 0},
                ),
                "inference": await call(
                    client,
                    "ocrnet_inference",
                    {"eval_dataset": "data", "inference_dataset": "data", "parent_job_id": train_id, "num_gpus": 0},
                ),
            }
            ids["export"] = await call(client, "ocrnet_export", {"eval_dataset": "data", "parent_job_id": train_id})
            views = {name: await wait_state(client, out["job_id"], DONE) for name, out in ids.items()}
            assert all(v["state"] == "COMPLETE" for v in views.values()), views

            assert 0.0 <= views["evaluate"]["kpis"]["test_acc"] <= 100.0
            inference = await call(client, "ocrnet_job_results", {"job_id": ids["inference"]["job_id"]})
            assert "inference_results.json" in files_of(inference)
            predictions = json.loads((Path(inference["task_dir"]) / "inference_results.json").read_text())
            assert len(predictions) == 16

            exported = await call(client, "ocrnet_job_results", {"job_id": ids["export"]["job_id"]})
            onnx = exported["outputs"]["export.onnx_file"]
            assert onnx["exists"] and onnx["path"].endswith(".onnx")
            trt = await call(
                client,
                "ocrnet_trt_evaluate",
                {"eval_dataset": "data", "parent_job_id": ids["export"]["job_id"], "wait_seconds": 50},
            )
            trt = trt if trt["state"] in DONE else await wait_state(client, trt["job_id"], DONE)
            assert trt["state"] == "COMPLETE", trt
            assert trt["kpis"]["num_samples"] == 16 and 0.0 <= trt["kpis"]["accuracy"] <= 1.0
            # ONNX Runtime runs the same model on the same 16 crops: within one sample of PyTorch
            assert abs(trt["kpis"]["accuracy"] * 100 - views["evaluate"]["kpis"]["test_acc"]) <= 100 / 16

            # job tools and job resources
            logs = await call(client, "ocrnet_job_logs", {"job_id": train_id, "tail_lines": 5, "max_bytes": 256})
            assert 0 < logs["bytes"] <= 256 and logs["lines"] <= 5
            listing = await call(client, "ocrnet_job_list", {"limit": 2})
            assert listing["total"] >= 6 and len(listing["jobs"]) == 2 and listing["next_cursor"] == "2"
            trains = await call(client, "ocrnet_job_list", {"action": "train"})
            assert [j["id"] for j in trains["jobs"]] == [train_id]
            log = await client.read_resource(f"ocrnet://jobs/{train_id}/log")
            assert "the command ended with exit code 0" in log.contents[0].text
            status = json.loads((await client.read_resource(f"ocrnet://jobs/{train_id}/status")).contents[0].text)
            assert status["state"] == "COMPLETE"
            canceled = await call(client, "ocrnet_job_cancel", {"job_id": train_id})
            assert canceled["state"] == "COMPLETE"  # a finished job is left as it is
