# SPDX-License-Identifier: Apache-2.0
"""A job's state is the truth: real jobs ended by a direct SIGTERM, a cancel and kill -9 of their group; a store
that cannot be written; unreadable records; the key of `--key-env` never on disk; `ocrnet jobs ... | head`."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tao_ocrnet.config.secrets import ENCRYPTION_KEY_ENV
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.platforms import procs
from tao_ocrnet.jobs.platforms.local import LocalPlatform
from tao_ocrnet.jobs.record import COMPLETE, last_transition, new_record, transition
from tao_ocrnet.jobs.request import JobRequest
from tao_ocrnet.jobs.service import JobService
from tao_ocrnet.jobs.store import LOCK_NAME, JobStore
from tao_ocrnet.results.status import read_status

from jobs_fixtures import JobsEnv, jobs_env, run, submit, synth_root, tiny, wait_for  # noqa: F401
from mcp_fixtures import McpEnv, call, in_process_server

SECRET = "key-env-secret-that-must-never-be-on-disk-4242"


def _record(job_id: str) -> dict[str, Any]:
    return JobService().store.read(job_id)


def _task_dir(job_id: str) -> Path:
    return Path(_record(job_id)["outputs"]["task_dir"])


def _training(job_id: str, timeout: float = 120) -> int:
    """Wait until the job's `ocrnet train` process has finished an epoch (inside Lightning's fit); its pid."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ref = _record(job_id)["backend_ref"] or {}
        action = [p for p in procs.group_members(ref.get("pgid", -1)) if " -m tao_ocrnet train " in procs.cmdline(p)]
        lines = read_status(_task_dir(job_id) / "status.json")
        if action and any(line.get("message", "").startswith("Train epoch") for line in lines):
            return action[0]
        time.sleep(0.1)
    raise AssertionError(f"{job_id} did not start training in {timeout} s")


def _last_status(job_id: str) -> dict[str, Any]:
    return read_status(_task_dir(job_id) / "status.json")[-1]


def _job_processes(marker: str) -> list[int]:
    """Live processes whose command line names `marker` (a job folder or a job home)."""
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    return [pid for pid in pids if pid != os.getpid() and marker in procs.cmdline(pid) and procs.is_running(pid)]


def _files_holding(secret: str, *folders: Path) -> list[Path]:
    needle = secret.encode()
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            try:
                if path.is_file() and needle in path.read_bytes():
                    found.append(path)
            except OSError:  # a file removed while scanning
                continue
    return found


@pytest.mark.slow
def test_a_training_process_sigtermed_directly_ends_error_not_complete(jobs_env, synth_root, capsys):  # noqa: F811
    """A node drain or an operator's `kill` of the trainer: ERROR with the reason, status.json FAILURE."""
    job_id = submit(capsys, "train", "--train-dataset", str(synth_root), *tiny(50))
    os.kill(_training(job_id), signal.SIGTERM)  # the trainer itself, not the runner: no cancel was asked
    record = wait_for(job_id, ("COMPLETE", "ERROR", "CANCELED"), timeout=60)
    assert record["terminal_state"] == "ERROR" and record["exit_code"] == 128 + signal.SIGTERM
    assert "terminated by SIGTERM" in last_transition(record)["message"]
    last = _last_status(job_id)
    assert (last["status"], last["message"]) == ("FAILURE", "terminated by SIGTERM")
    # ... so it is not a parent a later job can build on.
    code, _, err = run(capsys, "submit", "evaluate", "--parent-job", job_id, "--eval-dataset", str(synth_root),
                       "--dry-run")  # fmt: skip
    assert code == 2 and "not COMPLETE" in err


@pytest.mark.slow
def test_cancel_ends_canceled_with_a_nonzero_exit_code(jobs_env, synth_root, capsys):  # noqa: F811
    job_id = submit(capsys, "train", "--train-dataset", str(synth_root), *tiny(50))
    _training(job_id)
    code, out, err = run(capsys, "cancel", job_id, "--grace", "20")
    assert code == 0, err
    assert json.loads(out)["state"] == "CANCELED"
    record = _record(job_id)
    assert record["terminal_state"] == "CANCELED" and record["exit_code"] not in (0, None)
    assert _last_status(job_id)["status"] == "FAILURE"


@pytest.mark.slow
def test_kill_9_ends_error_closes_status_json_and_leaves_no_key_on_disk(
    jobs_env: JobsEnv,  # noqa: F811
    synth_root,  # noqa: F811
    capsys,
    monkeypatch,
):
    monkeypatch.setenv("OCRNET_TEST_KEY", SECRET)
    job_id = submit(capsys, "train", "--train-dataset", str(synth_root), "--key-env", "OCRNET_TEST_KEY", *tiny(50))
    trainer = _training(job_id)
    # The key reached the action through its environment only: no file of the job holds it while it runs.
    assert f"{ENCRYPTION_KEY_ENV}={SECRET}".encode() in Path(f"/proc/{trainer}/environ").read_bytes()
    assert "encryption_key: '*****'" in (_task_dir(job_id) / "experiment.yaml").read_text()
    assert _files_holding(SECRET, jobs_env.home, jobs_env.results) == []

    os.killpg(_record(job_id)["backend_ref"]["pgid"], signal.SIGKILL)  # the whole group: no handler runs
    record = wait_for(job_id, ("ERROR",), timeout=30)
    reason = last_transition(record)["message"]
    assert "ended without an exit record" in reason and record["exit_code"] is None
    last = _last_status(job_id)
    assert last["status"] == "FAILURE" and reason in last["message"]
    assert _files_holding(SECRET, jobs_env.home, jobs_env.results) == []  # nothing left behind by the kill


def _good_record(jobs: Path, job_id: str = "ocrnet-train-000001") -> dict[str, Any]:
    record = new_record(
        job_id=job_id, action="train", command="ocrnet train -e {config_path}", platform="local",
        results_dir=str(jobs.parent / "results" / job_id), job_dir=str(jobs / job_id), spec={},
        transitions=[transition(COMPLETE, "the command exited with code 0", "backend-hook")],
        terminal_state=COMPLETE, terminal_write_by="backend-hook", exit_code=0,
    )  # fmt: skip
    jobs.mkdir(parents=True, exist_ok=True)
    (jobs / f"{job_id}.json").write_text(json.dumps(record), encoding="utf-8")
    return record


def _bad_records(jobs: Path) -> dict[str, str]:
    """Four records that are not job records; file name -> what the warning says about it."""
    good = _good_record(jobs)
    bad = {
        "ocrnet-train-00000a.json": (b'{"id": "\xff\xfe"}', "not UTF-8"),
        "ocrnet-train-00000b.json": (b"[1, 2, 3]", "is not of type 'object'"),
        "ocrnet-train-00000c.json": (json.dumps({"id": "ocrnet-train-00000c"}).encode(), "is a required property"),
        "ocrnet-train-00000d.json": (
            json.dumps({**good, "id": "ocrnet-train-00000d", "transitions": "RUNNING"}).encode(),
            "transitions: 'RUNNING' is not of type 'array'",
        ),
    }
    for name, (data, _) in bad.items():
        (jobs / name).write_bytes(data)
    return {name: why for name, (_, why) in bad.items()}


def _ocrnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tao_ocrnet", *args], capture_output=True, text=True, timeout=120)


def test_unreadable_records_are_skipped_with_a_warning_naming_the_file(jobs_env: JobsEnv):  # noqa: F811
    bad = _bad_records(jobs_env.jobs)
    done = _ocrnet("jobs", "list", "--json")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ["ocrnet-train-000001"]
    for name, why in bad.items():
        line = next(line for line in done.stderr.splitlines() if name in line)
        assert "skipping unreadable job record" in line and str(jobs_env.jobs / name) in line and why in line
    assert "Traceback" not in done.stderr
    done = _ocrnet("jobs", "status", "ocrnet-train-00000d")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "ocrnet-train-00000d.json" in done.stderr and "move it aside" in done.stderr


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_unreadable_records_do_not_break_the_mcp_job_list(mcp_env: McpEnv, caplog):
    from mcp import Client

    bad = _bad_records(mcp_env.home / "jobs")
    async with Client(in_process_server(mcp_env)) as client:
        listed = await call(client, "ocrnet_job_list", {})
    assert [job["id"] for job in listed["jobs"]] == ["ocrnet-train-000001"] and listed["total"] == 1
    assert all(name in caplog.text for name in bad)


def _userns_available() -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _userns_available(), reason="needs `unshare -rm` (user and mount namespaces)")
@pytest.mark.parametrize("broken", ["full", "read-only"])
def test_a_store_that_cannot_be_written_refuses_the_submit_and_leaves_nothing(
    jobs_env: JobsEnv,  # noqa: F811
    synth_root,  # noqa: F811
    broken: str,
):
    """A full disk (a real 64 KiB tmpfs, filled) or a read-only one (a read-only bind mount) under the job
    store, in a private mount namespace: `ocrnet jobs submit` fails with one line and leaves nothing."""
    jobs = jobs_env.jobs
    jobs.mkdir(parents=True)
    q = shlex.quote
    if broken == "full":
        setup = f"mount -t tmpfs -o size=64k tmpfs {q(str(jobs))} && (dd if=/dev/zero of={q(str(jobs / 'fill'))} " \
                "bs=4k 2>/dev/null; true)"  # fmt: skip
    else:
        setup = f"mount --bind {q(str(jobs))} {q(str(jobs))} && mount -o remount,ro,bind {q(str(jobs))}"
    submit_cmd = [sys.executable, "-m", "tao_ocrnet", "jobs", "submit", "dataset_convert", "--train-dataset",
                  str(synth_root)]  # fmt: skip
    script = f'{setup} || exit 99\n{shlex.join(submit_cmd)}\necho "rc=$?"\nls -A {q(str(jobs))}\n'
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "rc=2", done.stdout + done.stderr
    assert sorted(lines[1:]) == (["fill"] if broken == "full" else [])  # no record, no job folder
    error = done.stderr.strip().splitlines()[-1]
    assert error.startswith("ocrnet jobs: error: ") and "Traceback" not in done.stderr
    assert ("No space left on device" if broken == "full" else "Read-only file system") in error
    assert jobs_env.entries()[1] == []  # no results folder either
    assert _job_processes(str(jobs_env.home)) == []  # and nothing launched


class _StoreFailsAfterLaunch(LocalPlatform):
    """Launches for real, then makes the job's next record write fail for real: its lock file becomes a
    folder (EISDIR), as a store gone read-only or full between the two writes of a submit would."""

    def submit(self, launch: Any) -> dict[str, Any]:
        ref = super().submit(launch)
        lock = launch.job_dir / LOCK_NAME
        lock.unlink()
        lock.mkdir()
        return ref


def test_a_launch_that_cannot_be_recorded_is_stopped_and_removed(jobs_env: JobsEnv, synth_root):  # noqa: F811
    from tao_ocrnet.datasources.resolver import DataRoots

    service = JobService(platform=_StoreFailsAfterLaunch())
    with pytest.raises(UserError, match="was stopped and removed: its launch could not be recorded") as err:
        service.submit(JobRequest("dataset_convert", DataRoots(train_datasets=(str(synth_root),))))
    assert "Is a directory" in str(err.value)
    assert JobStore().list() == []
    jobs, results = jobs_env.entries()
    assert [name for name in jobs if not name.startswith(".")] == [] and results == []
    assert _job_processes(str(jobs_env.jobs)) == []


def _pipeline(command: str, reader: str) -> tuple[int, str]:
    """`ocrnet COMMAND | READER` in a real shell: (ocrnet's exit status, its stderr)."""
    ocrnet = shutil.which("ocrnet") or f"{shlex.quote(sys.executable)} -m tao_ocrnet"
    done = subprocess.run(
        ["bash", "-c", f"{ocrnet} {command} 2>stderr.txt | {reader} >/dev/null; echo ${{PIPESTATUS[0]}}"],
        capture_output=True, text=True, timeout=120, cwd=os.environ["OCRNET_HOME"],
    )  # fmt: skip
    return int(done.stdout.strip()), (Path(os.environ["OCRNET_HOME"]) / "stderr.txt").read_text()


def test_a_reader_that_stops_early_gets_no_broken_pipe_traceback(jobs_env: JobsEnv):  # noqa: F811
    for i in range(400):  # a listing far larger than a pipe's buffer
        _good_record(jobs_env.jobs, f"ocrnet-train-{i:06x}")
    job_id = "ocrnet-train-000001"
    job_dir = jobs_env.jobs / job_id
    job_dir.mkdir()
    (job_dir / "job.log").write_text("".join(f"log line {i}\n" for i in range(200_000)))
    for command, reader, closed_early in (
        ("jobs list", "head -1", False),  # may or may not outrun `head`: either way, no traceback
        ("jobs list --json", "head -1", True),
        (f"jobs logs {job_id}", "head -1", True),
        (f"jobs status {job_id}", "head -n 0", True),  # the reader is gone before the status is written
    ):
        code, err = _pipeline(command, reader)
        assert err == "", f"{command} | {reader}: {err}"
        assert code == (141 if closed_early else code) and code in (0, 141), f"{command} | {reader}: {code}"
