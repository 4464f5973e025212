# SPDX-License-Identifier: Apache-2.0
"""AutoML over MCP (issue 7): `ocrnet_train` routed to a tiny study (3 trials of 1 epoch, 48 synthetic crops),
polled with `ocrnet_automl_status` to COMPLETE and then read through the CLI (`ocrnet automl status|list`: one
study proves both front ends); then a second study stopped with `ocrnet_automl_cancel`.

The server runs in-process with the SDK's own client; its study workers and trial jobs are real processes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from automl_fixtures import assert_tiny_study_outputs, automl_json, stop_leftovers

from mcp_fixtures import TINY, McpEnv, call, call_error, in_process_server

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
TIMEOUT = 900.0  # seconds; trials take ~10 s each on an idle 2-core machine, several times that when it is busy
DONE = ("COMPLETE", "CANCELED", "ERROR", "STOPPED")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def study_env(mcp_env: McpEnv) -> Iterator[McpEnv]:
    yield mcp_env
    stop_leftovers(mcp_env.home)  # a failed test must not leave workers or trial jobs running


async def wait_study(client: Any, study: str, timeout: float = TIMEOUT) -> dict[str, Any]:
    """Poll ocrnet_automl_status until the study ends and its workers have exited (their reports are written)."""
    import anyio

    deadline = time.monotonic() + timeout
    while True:
        status = await call(client, "ocrnet_automl_status", {"study": study})
        if status["state"] in DONE and not any(w["alive"] for w in status["workers"]):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"study {study} is {status['state']} after {timeout:g} s: {status['reason']}")
        await anyio.sleep(1.0)


def _train_args(env: McpEnv, **extra: Any) -> dict[str, Any]:
    return {"train_datasets": [str(env.data)], "num_gpus": 0, "num_epochs": 1, "spec_overrides": TINY, **extra}


async def test_tiny_study_end_to_end_through_ocrnet_train(study_env: McpEnv, capsys: pytest.CaptureFixture[str]):
    budget = {"max_recommendations": 3, "max_epochs": 1, "seed": 11, "delete_intermediate_ckpt": True,
              "study_name": "tiny"}  # fmt: skip
    async with Client(in_process_server(study_env), mode="auto") as client:
        started = await call(
            client, "ocrnet_train", _train_args(study_env, request="tune the learning rate", automl_settings=budget)
        )
        assert started["automl"]["route"] == "automl" and started["automl"]["applied"] == "automl"
        assert started["automl"]["source"] == "request" and started["study"] == "tiny"
        assert started["state"] == "RUNNING" and started["job_id"].startswith("ocrnet-train-")  # the baseline's job
        assert started["review"]["budget"]["max_recommendations"] == 3

        status = await wait_study(client, "tiny")
        assert status["state"] == "COMPLETE", status
        assert "history" not in status  # only on request
        full = await call(client, "ocrnet_automl_status", {"study": "tiny", "history": True})

        # progress / baseline / history (the bank runner's result shape)
        p = full["progress"]
        assert (p["completed"], p["total"], p["succeeded"], p["failed"]) == (3, 3, 3, 0)
        assert p["algorithm"] == "bayesian" and p["sampler"].startswith("GPSampler")
        history = full["history"]
        assert [r["rec_id"] for r in history] == [0, 1, 2] and [r["baseline"] for r in history] == [True, False, False]
        assert history[0]["job_id"] == started["job_id"]
        assert history[0]["specs"]["train.optim.lr"] == 0.001  # trial 0 is the user's spec
        assert all(r["status"] == "success" and r["epochs"] == 1 and r["metric"] is not None for r in history)
        assert len({r["job_id"] for r in history}) == 3
        baseline = full["baseline"]
        assert baseline["status"] == "measured" and baseline["rec_id"] == 0
        assert baseline["comparison_to_best"]["delta"] >= 0

        # best: the highest val_acc among complete trials, with its job and checkpoint (seen through the job tools)
        best = full["best"]
        assert best["metric_value"] == max(r["metric"] for r in history)
        job = await call(client, "ocrnet_job_status", {"job_id": best["job_id"]})
        assert job["state"] == "COMPLETE" and job["action"] == "train"
        assert best["checkpoint"] == str(Path(best["results_dir"]) / "best_accuracy.pth")
        assert Path(best["checkpoint"]).is_file()
        results = await call(client, "ocrnet_job_results", {"job_id": best["job_id"]})
        assert "best_accuracy.pth" in {f["name"].rpartition("/")[2] for f in results["files"]}

    # the study's files, named by the status
    ws = Path(status["workspace"])
    assert ws == study_env.home / "automl" / "tiny"
    assert status["files"]["best_rec"] == str(ws / "best_rec.json")
    summary = json.loads((ws / "summary.json").read_text())
    assert summary["best"]["job_id"] == best["job_id"] and summary["progress"]["completed"] == 3

    assert_tiny_study_outputs(ws, best, history)
    assert len((ws / "trials.csv").read_text().strip().splitlines()) == 4
    review = json.loads((ws / "review.json").read_text())
    assert review["first_batch"][0]["baseline"] and review["seed"] == 11
    overhead = [json.loads(line)["overhead_s"] for line in (ws / "timings.jsonl").read_text().splitlines()]
    assert len(overhead) == 3 and all(o is not None for o in overhead)

    # the same study through the CLI
    again = automl_json(capsys, "status", "tiny")
    assert again["state"] == "COMPLETE" and again["best"]["job_id"] == best["job_id"] and "history" not in again
    listed = automl_json(capsys, "list")
    assert [s["study"] for s in listed] == ["tiny"] and listed[0]["completed"] == 3


async def test_a_study_started_over_mcp_is_canceled_with_its_running_trial(study_env: McpEnv):
    budget = {"max_recommendations": 3, "max_epochs": 1, "study_name": "stop"}
    async with Client(in_process_server(study_env), mode="legacy") as client:
        # Settings are ignored (and said so) when the run trains directly.
        direct = await call(
            client, "ocrnet_train", _train_args(study_env, automl_policy="off", automl_settings=budget, dry_run=True)
        )
        assert direct["automl"]["applied"] == "direct" and "automl_settings were ignored" in " ".join(direct["notes"])
        assert study_env.job_entries() == ([], [])

        started = await call(client, "ocrnet_train", _train_args(study_env, automl_policy="on", automl_settings=budget))
        assert started["automl"]["source"] == "explicit" and started["study"] == "stop"
        trial_job = started["job_id"]
        assert trial_job.startswith("ocrnet-train-")

        canceled = await call(client, "ocrnet_automl_cancel", {"study": "stop", "grace_seconds": 30})
        assert canceled["state"] == "CANCELED", canceled
        assert not any(w["alive"] for w in canceled["workers"])
        job = await call(client, "ocrnet_job_status", {"job_id": trial_job})
        assert job["state"] == "CANCELED", job
        again = await call(client, "ocrnet_automl_status", {"study": "stop", "history": True})
        assert again["state"] == "CANCELED" and again["progress"]["succeeded"] == 0
        assert again["history"][0]["job_id"] == trial_job
        assert again["history"][0]["status"] == "interrupted"  # a resume would run it again

        text = await call_error(client, "ocrnet_automl_status", {"study": "nope"})
        assert "no study `nope`" in text
        text = await call_error(client, "ocrnet_automl_cancel", {"study": "../etc"})
        assert "`study`" in text and "malformed" in text
