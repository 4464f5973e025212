# SPDX-License-Identifier: Apache-2.0
"""AutoML studies that really train (tiny model, 1 epoch per trial, 48 synthetic crops): end to end through the
CLI, a worker killed mid-trial and resumed, and two workers sharing one SQLite storage."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from automl_fixtures import TINY, assert_tiny_study_outputs, automl, automl_env, automl_json  # noqa: F401
from tao_ocrnet.automl.runner import study_status
from tao_ocrnet.jobs.record import state_of
from tao_ocrnet.jobs.service import JobService

from guards import wait_for
from jobs_fixtures import synth_root  # noqa: F401

pytestmark = pytest.mark.slow
TIMEOUT = "900"  # seconds; trials take ~10 s each on an idle 2-core machine, several times that when it is busy


def test_tiny_study_end_to_end_through_the_cli(capsys, automl_env, synth_root):  # noqa: F811
    code, out, err = automl(
        capsys, "run", "--train-dataset", str(synth_root), "--study", "tiny", "--max-recommendations", "3",
        "--max-epochs", "1", "--seed", "11", "--delete-intermediate-ckpt", "--wait", "--timeout", TIMEOUT, *TINY,
    )  # fmt: skip
    assert code == 0, err
    status = json.loads(out)
    assert status["state"] == "COMPLETE", status
    ws = automl_env.home / "automl" / "tiny"
    summary = json.loads((ws / "summary.json").read_text())

    # progress / baseline / history (the bank runner's result shape)
    p = summary["progress"]
    assert (p["completed"], p["total"], p["succeeded"], p["failed"]) == (3, 3, 3, 0)
    assert p["algorithm"] == "bayesian" and p["sampler"].startswith("GPSampler")
    history = summary["history"]
    assert [r["rec_id"] for r in history] == [0, 1, 2] and [r["baseline"] for r in history] == [True, False, False]
    assert history[0]["specs"]["train.optim.lr"] == 0.001  # trial 0 is the user's spec
    assert all(r["status"] == "success" and r["epochs"] == 1 and r["metric"] is not None for r in history)
    assert len({r["job_id"] for r in history}) == 3
    baseline = summary["baseline"]
    assert baseline["status"] == "measured" and baseline["rec_id"] == 0
    assert baseline["comparison_to_best"]["delta"] >= 0

    # best: the highest val_acc among complete trials, with its job and checkpoint
    best = summary["best"]
    assert best["metric_value"] == max(r["metric"] for r in history)
    record = JobService().get(best["job_id"])
    assert state_of(record) == "COMPLETE" and record["action"] == "train"
    assert best["checkpoint"] == str(Path(best["results_dir"]) / "best_accuracy.pth")
    assert Path(best["checkpoint"]).is_file()

    assert_tiny_study_outputs(ws, best, history)
    assert len((ws / "trials.csv").read_text().strip().splitlines()) == 4
    review = json.loads((ws / "review.json").read_text())
    assert review["first_batch"][0]["baseline"] and review["seed"] == 11
    overhead = [json.loads(line)["overhead_s"] for line in (ws / "timings.jsonl").read_text().splitlines()]
    assert len(overhead) == 3 and all(o is not None for o in overhead)
    again = automl_json(capsys, "status", "tiny")
    assert again["state"] == "COMPLETE" and again["best"]["job_id"] == best["job_id"] and "history" not in again
    listed = automl_json(capsys, "list")
    assert [s["study"] for s in listed] == ["tiny"] and listed[0]["completed"] == 3


def test_killed_worker_is_recovered_and_resume_keeps_finished_trials(capsys, automl_env, synth_root):  # noqa: F811
    started = automl_json(
        capsys, "run", "--train-dataset", str(synth_root), "--study", "crash", "--algorithm", "random",
        "--max-recommendations", "2", "--max-epochs", "1", "--seed", "3", *TINY,
    )  # fmt: skip
    worker = started["workers"][0]

    def second_trial_job():
        rows = study_status("crash")["history"]
        return rows[1]["job_id"] if len(rows) > 1 and rows[1]["job_id"] else None

    orphan = wait_for(second_trial_job, "the second trial's job")
    baseline_job = study_status("crash")["history"][0]["job_id"]
    os.kill(worker["pid"], signal.SIGKILL)  # the worker dies mid-trial; its job runs on, orphaned
    wait_for(lambda: study_status("crash")["state"] == "STOPPED", "the study to show as stopped", 30)

    code, out, err = automl(capsys, "resume", "crash", "--wait", "--timeout", TIMEOUT)
    assert code == 0, err
    assert json.loads(out)["state"] == "COMPLETE"
    history = study_status("crash")["history"]
    by_id = {r["rec_id"]: r for r in history}
    assert [r["status"] for r in history] == ["success", "interrupted", "success"]
    assert by_id[0]["job_id"] == baseline_job  # the finished baseline was not run again
    assert sum(r["baseline"] for r in history) == 1
    assert by_id[2]["retry_of"] == 1 and by_id[2]["specs"] == by_id[1]["specs"]  # same params, new trial
    assert "its worker (pid" in by_id[1]["failure_reason"]
    assert state_of(JobService().get(orphan)) in ("CANCELED", "COMPLETE")
    assert len(JobService().list(action="train")) == 3  # baseline, the interrupted trial, its retry
