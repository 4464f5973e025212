# SPDX-License-Identifier: Apache-2.0
"""The job runner (`tao_ocrnet.jobs.runner`) run the way a platform runs it: a shim in a real job folder,
started as its own process; and the generated shims (`runners/<action>.py`) that call it."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import yaml

from tao_ocrnet.config.render import GENERATED_BY
from tao_ocrnet.config.secrets import ENCRYPTION_KEY_ENV
from tao_ocrnet.datasources.resolver import DataRoots
from tao_ocrnet.jobs import runner
from tao_ocrnet.jobs.catalog import JobAction, job_action, job_actions
from tao_ocrnet.jobs.record import CANCELED, COMPLETE, ERROR, RECORD_SCHEMA, last_transition, new_record, state_of
from tao_ocrnet.jobs.request import JobRequest
from tao_ocrnet.jobs.runner_shim import RUNNER_DIR, render_runner
from tao_ocrnet.jobs.runstate import EXIT_NAME, RUNNER_NAME, SPEC_NAME, STATE_DIR, request_cancel, write_launch
from tao_ocrnet.jobs.service import JobService
from tao_ocrnet.jobs.store import JobStore
from tao_ocrnet.skill_root import skill_root

from jobs_fixtures import FakePlatform, jobs_env, synth_root  # noqa: F401

SPDX_LINES = (
    "# SPDX-FileCopyrightText: Copyright (c) 2026 NVIDIA CORPORATION & AFFILIATES. All rights reserved.",
    "# SPDX-License-Identifier: Apache-2.0",
)
KEY_ENV = "OCRNET_TEST_RUNNER_KEY"
SECRET = "runner-secret-that-must-not-leak-5678"

# The job's command: prints the spec it was given and the key from its environment (the variable its second
# argument names; for the runner to mask), writes a KPI to the task's status.json, then ends it with the spec's
# `status` (SUCCESS when it exits 0) and exits with the spec's `exit` or, with `wait`, waits to be signalled.
COMMAND_SCRIPT = """
import json, os, sys, time
from pathlib import Path
import yaml
spec_path = Path(sys.argv[1])
spec = yaml.safe_load(spec_path.read_text())
print("spec", spec_path.name, json.dumps(spec), "key", os.environ.get(sys.argv[2]), flush=True)
status = Path(spec["task_dir"]) / "status.json"
status.write_text(json.dumps({"status": "RUNNING", "kpi": {"acc": 0.75}}) + "\\n")
if spec.get("wait"):
    print("waiting", flush=True)
    time.sleep(60)
if spec.get("die_in_partial"):  # killed while writing its output, as a SIGKILLed dataset_convert
    from tao_ocrnet.results.partial import partial_dir
    with partial_dir(Path(spec["task_dir"])):
        os.kill(os.getpid(), 9)
code = spec.get("exit", 0)
with status.open("a") as fh:
    fh.write(json.dumps({"status": spec.get("status", "SUCCESS" if code == 0 else "FAILURE")}) + "\\n")
sys.exit(code)
"""


def _job(tmp_path: Path, spec: dict, key_env: str | None = None) -> tuple[JobStore, str, Path]:
    """A job folder as `JobService` writes it (record, spec, launch.json, the shim) for the test command."""
    script = tmp_path / "command.py"
    script.write_text(COMMAND_SCRIPT, encoding="utf-8")
    entry = {
        "command": f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {{config_path}} {ENCRYPTION_KEY_ENV}",
        "config_format": "yaml",
        "mode": "config",
        "metric": "acc",
    }
    action = JobAction("train", "skill_info", entry, {}, {})
    store = JobStore(tmp_path / "jobs")
    job_id = store.reserve(action.name)
    job_dir = store.job_dir(job_id)
    task_dir = tmp_path / "results" / job_id
    task_dir.mkdir(parents=True)
    (job_dir / SPEC_NAME).write_text(yaml.safe_dump({**spec, "task_dir": str(task_dir)}), encoding="utf-8")
    (job_dir / RUNNER_NAME).write_text(render_runner(action), encoding="utf-8")
    write_launch(
        job_dir,
        {"job_id": job_id, "action": action.name, "config": SPEC_NAME, "key_env": key_env, "task_dir": str(task_dir)},
    )
    record = new_record(
        job_id=job_id, action=action.name, command=action.command, platform="local",
        results_dir=str(task_dir), job_dir=str(job_dir), spec=spec,
    )  # fmt: skip
    store.create(record)
    return store, job_id, job_dir


def _start(job_dir: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`python runner.py JOB_DIR` in its own session, its output into job.log, as the local platform starts it."""
    with open(job_dir / "job.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, str(job_dir / RUNNER_NAME), str(job_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )


def _exit_info(job_dir: Path) -> dict:
    return json.loads((job_dir / STATE_DIR / EXIT_NAME).read_text(encoding="utf-8"))


def test_a_job_runs_to_its_exit_record_and_the_job_record(tmp_path):
    store, job_id, job_dir = _job(tmp_path, {"exit": 0})
    assert _start(job_dir).wait(timeout=60) == 0
    info = _exit_info(job_dir)
    assert set(info) == {"job_id", "action", "exit_code", "signal", "canceled", "error", "started_at", "finished_at"}
    assert info["job_id"] == job_id and info["action"] == "train"
    assert (info["exit_code"], info["signal"], info["canceled"], info["error"]) == (0, None, False, None)
    assert info["started_at"] <= info["finished_at"]
    record = store.read(job_id)
    assert state_of(record) == COMPLETE and record["exit_code"] == 0 and record["kpis"] == {"acc": 0.75}
    assert last_transition(record)["source"] == "backend-hook"
    log = (job_dir / "job.log").read_text()
    assert f"job {job_id} (train): {shlex.quote(sys.executable)} " in log  # the command line it ran
    assert "the command ended with exit code 0\n" in log and "job record: COMPLETE (acc 0.75)" in log


def test_a_failing_command_is_an_error(tmp_path):
    store, job_id, job_dir = _job(tmp_path, {"exit": 3})
    assert _start(job_dir).wait(timeout=60) == 1
    info = _exit_info(job_dir)
    assert (info["exit_code"], info["signal"], info["canceled"]) == (3, None, False)
    assert info["error"] == "the command exited with code 3"
    record = store.read(job_id)
    assert state_of(record) == ERROR and record["exit_code"] == 3


def test_the_secret_reaches_the_command_in_its_environment_only_and_is_masked(tmp_path):
    store, job_id, job_dir = _job(tmp_path, {"exit": 0}, key_env=KEY_ENV)
    assert _start(job_dir, {KEY_ENV: SECRET}).wait(timeout=60) == 0
    log = (job_dir / "job.log").read_text()
    assert SECRET not in log and f"spec {SPEC_NAME} " in log  # the job's own spec ran ...
    assert f" key {runner.MASK.decode()}\n" in log  # ... and the key came in the environment (masked here)
    for path in job_dir.rglob("*"):  # no file of the job holds the key
        assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path
    assert state_of(store.read(job_id)) == COMPLETE


def test_a_missing_key_variable_fails_the_job_with_the_reason(tmp_path):
    store, job_id, job_dir = _job(tmp_path, {"exit": 0}, key_env=KEY_ENV)
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    with open(job_dir / "job.log", "wb") as log:
        code = subprocess.run(
            [sys.executable, str(job_dir / RUNNER_NAME), str(job_dir)], stdout=log, stderr=subprocess.STDOUT, env=env
        ).returncode
    assert code == 1
    info = _exit_info(job_dir)
    assert info["exit_code"] == 1 and info["canceled"] is False
    reason = f"environment variable {KEY_ENV} (encryption_key) is not set for the job"
    assert info["error"] == f"the runner failed: RuntimeError: {reason}"
    record = store.read(job_id)
    assert state_of(record) == ERROR and info["error"] in last_transition(record)["message"]


def _sigterm_when_waiting(job_dir: Path) -> subprocess.Popen[bytes]:
    proc = _start(job_dir)
    log = job_dir / "job.log"
    deadline = time.monotonic() + 60
    while "waiting" not in log.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # the runner alone: it passes the signal on to the command
    assert proc.wait(timeout=30) == 1
    return proc


def test_a_sigterm_that_is_not_a_cancel_is_an_error_with_the_reason(tmp_path):
    store, job_id, job_dir = _job(tmp_path, {"wait": True})
    _sigterm_when_waiting(job_dir)
    info = _exit_info(job_dir)
    assert (info["exit_code"], info["signal"], info["canceled"]) == (-signal.SIGTERM, signal.SIGTERM, False)
    assert "received SIGTERM from outside `ocrnet jobs cancel`" in info["error"]
    record = store.read(job_id)
    assert state_of(record) == ERROR and record["exit_code"] == -signal.SIGTERM
    assert info["error"] in last_transition(record)["message"]


def test_sigterm_after_a_cancel_request_cancels_the_job_and_stops_its_command(tmp_path):
    store, job_id, job_dir = _job(tmp_path, {"wait": True})
    request_cancel(job_dir)  # what `ocrnet jobs cancel` writes before its SIGTERM
    _sigterm_when_waiting(job_dir)
    info = _exit_info(job_dir)
    assert (info["exit_code"], info["signal"], info["canceled"]) == (-signal.SIGTERM, signal.SIGTERM, True)
    record = store.read(job_id)
    assert state_of(record) == CANCELED and record["exit_code"] == -signal.SIGTERM
    assert f"the command ended with exit code {-signal.SIGTERM} (canceled)" in (job_dir / "job.log").read_text()


def test_a_killed_command_leaves_no_partial_output(tmp_path):
    store, job_id, job_dir = _job(tmp_path, {"die_in_partial": True})
    assert _start(job_dir).wait(timeout=60) == 1
    task_dir = Path(yaml.safe_load((job_dir / SPEC_NAME).read_text())["task_dir"])
    assert not list(task_dir.parent.glob(f".{task_dir.name}.partial-*"))  # the runner removed the dead run's
    assert state_of(store.read(job_id)) == ERROR


def test_exit_code_0_without_success_in_status_json_is_an_error(tmp_path):
    store, job_id, job_dir = _job(tmp_path, {"exit": 0, "status": "RUNNING"})
    assert _start(job_dir).wait(timeout=60) == 1
    info = _exit_info(job_dir)
    assert info["exit_code"] == 0 and "ends with RUNNING, not SUCCESS" in info["error"]
    record = store.read(job_id)
    assert state_of(record) == ERROR and record["exit_code"] == 0


def test_the_runner_module_imports_neither_torch_nor_pydantic():
    code = "import sys, tao_ocrnet.jobs.runner; print(sorted({'torch', 'pydantic'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_generated_shims_are_short_licensed_and_run():
    folder = skill_root() / RUNNER_DIR
    assert sorted(p.stem for p in folder.glob("*.py")) == sorted(job_actions())
    for path in folder.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        assert len(lines) <= 30, path
        assert lines[0] == "#!/usr/bin/env python3" and all(line in lines for line in SPDX_LINES), path
        assert f"# {GENERATED_BY}" in lines and max(map(len, lines)) <= 120, path
        assert f'ACTION = "{path.stem}"' in lines and f"from {runner.__name__} import run" in lines, path
    done = subprocess.run(
        [sys.executable, str(folder / "dataset_convert.py")], capture_output=True, text=True, cwd=folder.parent
    )
    assert done.returncode == 2 and done.stderr == "usage: python dataset_convert.py JOB_DIR\n"


def test_a_submitted_job_records_the_runner_module_it_runs(jobs_env, synth_root):  # noqa: F811
    submitted = JobService(platform=FakePlatform()).submit(
        JobRequest("dataset_convert", DataRoots(train_datasets=(str(synth_root),)))
    )
    record = submitted.record
    assert record is not None
    jsonschema.Draft202012Validator(RECORD_SCHEMA).validate(record)
    entry = record["runner"]
    copy = Path(entry["path"])
    assert copy == Path(record["job_dir"]) / RUNNER_NAME
    assert copy.read_text(encoding="utf-8") == render_runner(job_action("dataset_convert"))
    assert entry["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert entry["from"] == "skill_info actions.dataset_convert"
    assert entry["module"] == "tao_ocrnet.jobs.runner"
    assert entry["module_sha256"] == hashlib.sha256(Path(runner.__file__).read_bytes()).hexdigest()
