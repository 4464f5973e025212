# SPDX-License-Identifier: Apache-2.0
"""AutoML studies that really train (tiny model, 1 epoch per trial, 48 synthetic crops) through the CLI: a worker
killed mid-trial and resumed. The tiny study end to end (its files, `automl status|list`) is proved once, started over
MCP: tests/test_mcp_automl.py::test_tiny_study_end_to_end_through_ocrnet_train."""

from __future__ import annotations

import json
import os
import signal

import pytest

from automl_fixtures import TINY, automl, automl_env, automl_json  # noqa: F401
from tao_ocrnet.automl.runner import study_status
from tao_ocrnet.jobs.record import state_of
from tao_ocrnet.jobs.service import JobService

from guards import wait_for
from jobs_fixtures import synth_root  # noqa: F401

pytestmark = pytest.mark.slow
TIMEOUT = "900"  # seconds; trials take ~10 s each on an idle 2-core machine, several times that when it is busy


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
