# SPDX-License-Identifier: Apache-2.0
"""The local platform's reconciliation rules (pid reuse, other hosts, never-launched records) and a job
that takes encryption_key from an environment variable without storing or logging it."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from tao_ocrnet.jobs.platforms import procs
from tao_ocrnet.jobs.platforms.local import LocalPlatform
from tao_ocrnet.jobs.record import ERROR, RUNNING, UNKNOWN, new_record
from tao_ocrnet.jobs.runstate import EXIT_NAME, STATE_DIR
from tao_ocrnet.jobs.service import JobService
from tao_ocrnet.jobs.store import JobStore

from jobs_fixtures import jobs_env, submit_wait, synth_root  # noqa: F401


def _record(tmp_path: Path, **ref) -> dict:
    job_dir = tmp_path / "ocrnet-train-abcdef"
    job_dir.mkdir(exist_ok=True)
    return {"id": job_dir.name, "job_dir": str(job_dir), "results_dir": str(tmp_path), "backend_ref": ref or None}


def test_identity_by_pid_and_start_time(tmp_path):
    me = os.getpid()
    started = procs.start_time(me)
    assert started is not None and procs.is_running(me, started)
    assert not procs.is_running(me, started + 1)  # same pid, other process: reused
    platform = LocalPlatform()
    ok = platform.status(_record(tmp_path, host=socket.gethostname(), pid=me, pgid=me, start_time=started))
    assert ok.state == RUNNING
    reused = platform.status(_record(tmp_path, host=socket.gethostname(), pid=me, pgid=me, start_time=started + 1))
    assert reused.state == ERROR and "pid now belongs to another process" in reused.message
    elsewhere = platform.status(_record(tmp_path, host="another-host", pid=me, pgid=me, start_time=started))
    assert elsewhere.state == UNKNOWN and "another-host" in elsewhere.message
    # An exit record always wins: the process may be gone or still finishing its hook.
    state = tmp_path / "ocrnet-train-abcdef" / STATE_DIR
    state.mkdir()
    (state / EXIT_NAME).write_text(json.dumps({"exit_code": 3, "canceled": False}))
    failed = platform.status(_record(tmp_path, host=socket.gethostname(), pid=me, pgid=me, start_time=started))
    assert failed.state == ERROR and failed.exit_code == 3 and failed.err_class == "ERR_PROGRAM"


def test_a_record_that_never_launched_becomes_error(jobs_env):  # noqa: F811
    store = JobStore()
    job_id = store.reserve("train")
    record = new_record(job_id=job_id, action="train", command="", platform="local", results_dir="/r",
                        job_dir=str(store.job_dir(job_id)), spec={})  # fmt: skip
    record["submitted_at"] = "2020-01-01T00:00:00.000Z"
    store.create(record)
    view = JobService().view(JobService().get(job_id))
    assert view["state"] == ERROR and "never launched" in view["message"]


@pytest.mark.slow
def test_encryption_key_by_environment_name_only(jobs_env, synth_root, monkeypatch, capsys):  # noqa: F811
    secret = "tlt-key-that-must-not-leak-1234"
    monkeypatch.setenv("OCRNET_TEST_KEY", secret)
    view = submit_wait(capsys, "dataset_convert", "--train-dataset", str(synth_root), "--key-env", "OCRNET_TEST_KEY")
    record_file = jobs_env.jobs / f"{view['id']}.json"
    record = json.loads(record_file.read_text())
    job_dir = Path(record["job_dir"])
    assert record["request"]["key_env"] == "OCRNET_TEST_KEY"
    for path in (record_file, job_dir / "spec.yaml", job_dir / "job.log", job_dir / "launch.json",
                 Path(record["results_dir"]) / "experiment.yaml"):  # fmt: skip
        assert secret not in path.read_text(), path
    # The key reached the action (its experiment.yaml shows it masked) through the environment, not a file.
    assert "encryption_key: '*****'" in (Path(record["results_dir"]) / "experiment.yaml").read_text()
    assert f"-e {job_dir / 'spec.yaml'}" in (job_dir / "job.log").read_text()  # the job's own spec ran
    assert not list((job_dir / STATE_DIR).glob("*.yaml"))
