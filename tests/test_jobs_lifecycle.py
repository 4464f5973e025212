# SPDX-License-Identifier: Apache-2.0
"""Real detached jobs on the local platform: logs, cancel, reconciliation after kill -9, and resuming a
killed training job from its last checkpoint without losing finished epochs."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tao_ocrnet.jobs.platforms import procs
from tao_ocrnet.jobs.record import last_transition
from tao_ocrnet.jobs.service import JobService
from tao_ocrnet.results.checkpoints import parse_periodic, periodic_checkpoints

from jobs_fixtures import jobs_env, run, status, submit, submit_wait, synth_root, tiny, wait_for  # noqa: F401

pytestmark = pytest.mark.slow


def _record(job_id: str) -> dict:
    return JobService().store.read(job_id)


def _wait_until(check, timeout: float = 120, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _job_processes(job_id: str) -> list[int]:
    ref = _record(job_id)["backend_ref"]
    return [p for p in procs.group_members(ref["pgid"]) if job_id in procs.cmdline(p)]


def test_cancel_stops_the_process_group(jobs_env, synth_root, capsys):  # noqa: F811
    job_id = submit(capsys, "train", "--train-dataset", str(synth_root), *tiny(50))
    assert status(capsys, job_id)["state"] == "RUNNING"
    _wait_until(lambda: len(_job_processes(job_id)) >= 2, what="the runner and its command")  # runner + ocrnet
    code, out, err = run(capsys, "cancel", job_id, "--grace", "5")
    assert code == 0, err
    view = json.loads(out)
    assert view["state"] == "CANCELED" and "cancel" in view["message"]
    assert _job_processes(job_id) == []
    record = _record(job_id)
    assert record["terminal_write_by"] in ("agent", "backend-hook")
    # idempotent, and terminal: a second cancel changes nothing
    assert json.loads(run(capsys, "cancel", job_id)[1])["state"] == "CANCELED"
    assert _record(job_id)["transitions"] == record["transitions"]


def test_a_killed_runner_is_reconciled_and_its_command_stopped(jobs_env, synth_root, capsys):  # noqa: F811
    job_id = submit(capsys, "train", "--train-dataset", str(synth_root), *tiny(50))
    _wait_until(lambda: len(_job_processes(job_id)) >= 2, what="the runner and its command")
    runner_pid = _record(job_id)["backend_ref"]["pid"]
    os.kill(runner_pid, signal.SIGKILL)  # only the runner: its command is orphaned
    _wait_until(lambda: not procs.is_running(runner_pid) or JobService().get(job_id)["terminal_state"], what="death")
    view = status(capsys, job_id)
    assert view["state"] == "ERROR"
    assert "without an exit record" in view["message"] and "leftover" in view["message"]
    assert _record(job_id)["err_class"] == "ERR_INFRA"
    _wait_until(lambda: _job_processes(job_id) == [], timeout=20, what="the orphaned command to stop")


def test_kill_9_then_resume_continues_from_the_last_checkpoint(jobs_env, synth_root, capsys):  # noqa: F811
    data = ["--train-dataset", str(synth_root)]
    job_id = submit(capsys, "train", *data, *tiny(40))
    task = Path(_record(job_id)["outputs"]["task_dir"])
    _wait_until(lambda: len(periodic_checkpoints(task)) >= 1 if task.is_dir() else False, timeout=300,
                what="the first checkpoint")  # fmt: skip
    os.killpg(_record(job_id)["backend_ref"]["pgid"], signal.SIGKILL)
    killed = wait_for(job_id, ("ERROR",), timeout=30)
    assert "ended without an exit record" in last_transition(killed)["message"]
    assert killed["terminal_write_by"] == "poller" and killed["exit_code"] is None

    last = periodic_checkpoints(task)[-1]
    last_epoch = parse_periodic(last.name)[0]
    finished_before = {json.loads(line).get("epoch") for line in (task / "status.json").read_text().splitlines()
                       if '"Train epoch' in line}  # fmt: skip
    view = submit_wait(capsys, "train", *data, "--resume-from", job_id, *tiny(last_epoch + 2))  # fmt: skip
    resumed = _record(view["id"])
    assert resumed["retry_of"] == job_id
    assert resumed["spec"]["train"]["resume_training_checkpoint_path"] == str(last)
    new_task = Path(resumed["outputs"]["task_dir"])
    lines = [json.loads(line) for line in (new_task / "status.json").read_text().splitlines()]
    epochs_run = {line["epoch"] for line in lines if "epoch" in line}
    assert epochs_run == {last_epoch + 1}, (epochs_run, finished_before)  # nothing before the checkpoint again
    assert [p.name for p in periodic_checkpoints(new_task)] == [f"model_epoch_{last_epoch + 1:03d}_step_"
                                                                 f"{3 * (last_epoch + 2):05d}.pth"]  # fmt: skip
    assert (new_task / "best_accuracy.pth").is_file()  # carried over (or improved)
    assert view["kpis"]["epochs"] == last_epoch + 2
    code, out, _ = run(capsys, "logs", view["id"], "--tail", "3")
    assert code == 0 and "the command ended with exit code 0" in out
    code, out, _ = run(capsys, "results", view["id"])
    results = json.loads(out)
    assert results["state"] == "COMPLETE" and "best_accuracy.pth" in {f["name"] for f in results["files"]}
    code, out, _ = run(capsys, "list", "--action", "train")
    assert code == 0 and job_id in out and view["id"] in out and "ERROR" in out
