# SPDX-License-Identifier: Apache-2.0
"""The Slurm platform: each job is a Slurm batch job running the job folder's runner, through the Slurm CLI.

- `submit` writes `JOB_DIR/sbatch.sh` (it runs `python runner.py JOB_DIR` once, on the first node) and submits
  it with `sbatch --parsable`: the allocation comes from the job's spec (`ComputeShape`: nodes, tasks per node =
  devices per node, GPUs per node, CPUs per task) plus the settings of `slurm_settings.py` (partition, account,
  time limit, more options, a Pyxis/Enroot container image). Slurm writes the job's output into JOB_DIR/job.log,
  the same log the local platform keeps. With more than one task, the runner runs the action's command under
  `srun` (one copy per task, `OCRNET_TASK_LAUNCHER`), so Lightning's SLURMEnvironment sets up the ranks.
- `status` reads the runner's exit record first (the verdict is the runner's, as on the local platform: COMPLETE
  only with exit code 0 and status.json SUCCESS); without one, `scontrol show job` (and `sacct` where accounting
  exists) says where Slurm is (`slurm_state`). A job Slurm has forgotten without an exit record is ERROR.
- `cancel` writes the cancel marker, then a plain `scancel`: Slurm sends SIGTERM to every process of the job
  (the runner records the cancel) and SIGKILL after its KillWait; the Slurm job ends CANCELLED.
  (`scancel --signal=TERM --full` would end it FAILED.)
- Assumed: a file system shared by the submitting machine and the nodes, holding $OCRNET_HOME (records, job
  folders) and the results root at the same paths, and the same Python environment on the nodes (or the
  container image, with `python` set to its interpreter); the job gets the submitter's environment
  (`sbatch`'s default `--export=ALL`).

Why the plain CLI and not submitit: a job here is a job folder whose runner shim writes an exit record and
updates the job record; the local platform starts that same shim. submitit's model is a pickled Python callable
and its own result files, which would give Slurm jobs a second job model (and pickles) beside the runner's.
The CLI runs the same shim, needs nothing installed on the submitting side but the Slurm client, and leaves a
`sbatch.sh` in the job folder that a user can read and resubmit by hand.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.platforms.base import ComputeShape, Launch, LogChunk, Observation, exit_observation, read_log
from tao_ocrnet.jobs.platforms.slurm_settings import SlurmSettings, load_settings
from tao_ocrnet.jobs.queue import QUEUE_ENV
from tao_ocrnet.jobs.record import (
    CANCELED,
    COMPLETE,
    ERR_INFRA,
    ERR_PROGRAM,
    ERROR,
    PENDING,
    RUNNING,
    UNKNOWN,
)
from tao_ocrnet.jobs.runner import LAUNCHER_ENV
from tao_ocrnet.jobs.runstate import LOG_NAME, cancel_requested, read_exit, request_cancel

KIND = "slurm-job"
BATCH_NAME = "sbatch.sh"
COMMANDS = ("sbatch", "scontrol", "scancel")
CLI_TIMEOUT_S = 30.0

# Slurm's job states -> (record state, error class). Anything else reads as UNKNOWN (the next read decides).
SLURM_STATES: dict[str, tuple[str, str | None]] = {
    **dict.fromkeys(("PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING"), (PENDING, None)),
    **dict.fromkeys(("RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT", "SUSPENDED", "STOPPED"), (RUNNING, None)),
    "COMPLETED": (COMPLETE, None),
    **dict.fromkeys(("FAILED", "TIMEOUT", "OUT_OF_MEMORY", "DEADLINE"), (ERROR, ERR_PROGRAM)),
    **dict.fromkeys(("NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "REVOKED", "SPECIAL_EXIT"), (ERROR, ERR_INFRA)),
    "CANCELLED": (CANCELED, None),
}
_FIELD = re.compile(r"(?:^|\s)(JobState|Reason|ExitCode|NodeList)=(\S*)")


def slurm_state(word: str) -> tuple[str, str | None]:
    """A Slurm job state (`RUNNING`, `CANCELLED by 0`, `OUT_OF_MEMORY`, ...) as (record state, error class)."""
    head = word.strip().split(" ", 1)[0].rstrip("+").upper()
    return SLURM_STATES.get(head, (UNKNOWN, None))


def shape_of(launch: Launch, settings: SlurmSettings) -> ComputeShape:
    """The job's allocation, with the settings' CPUs per task when they name a number."""
    if settings.cpus_per_task is None:
        return launch.shape
    return replace(launch.shape, cpus_per_task=settings.cpus_per_task)


def batch_script(launch: Launch, shape: ComputeShape, python: str) -> str:
    """The batch step: the runner once, on the first node; several tasks -> the command under `srun`."""
    lines = [
        "#!/bin/bash",
        f"# tao-ocrnet job {launch.job_id}: submitted with sbatch --parsable by the slurm job platform",
        f"unset {QUEUE_ENV}  # the local platform's queue; Slurm is the queue here",
    ]
    srun = ""  # set even when empty: the runner then knows it runs in an allocation
    if shape.tasks > 1:
        srun = (
            f"srun --kill-on-bad-exit=1 --wait=60 --nodes={shape.nodes} "
            f"--ntasks-per-node={shape.tasks_per_node} --cpus-per-task={shape.cpus_per_task}"
        )
    lines.append(f"export {LAUNCHER_ENV}={shlex.quote(srun)}")
    lines.append(f"exec {shlex.quote(python)} {shlex.quote(str(launch.runner))} {shlex.quote(str(launch.job_dir))}")
    return "\n".join(lines) + "\n"


def sbatch_options(launch: Launch, shape: ComputeShape, settings: SlurmSettings) -> list[str]:
    opts = [
        f"--job-name={launch.job_id}",
        f"--output={launch.log_path}",
        "--open-mode=append",
        f"--chdir={launch.job_dir}",
        "--no-requeue",  # a requeued job would rerun in a job folder that already holds a run
        f"--nodes={shape.nodes}",
        f"--ntasks-per-node={shape.tasks_per_node}",
        f"--cpus-per-task={shape.cpus_per_task}",
    ]
    if settings.gpus and shape.gpus_per_node:
        opts.append(f"--gpus-per-node={shape.gpus_per_node}")
    for flag, value in (
        ("--partition", settings.partition),
        ("--account", settings.account),
        ("--time", settings.time_limit),
        ("--container-image", settings.container_image),
    ):
        if value:
            opts.append(f"{flag}={value}")
    return [*opts, *settings.sbatch_options]


def _slurm_env(ref: dict[str, Any]) -> dict[str, str]:
    """The submitter's SLURM_CONF, so a reader started without it (an MCP server) asks the same cluster."""
    env = dict(os.environ)
    if ref.get("slurm_conf") and not env.get("SLURM_CONF"):
        env["SLURM_CONF"] = ref["slurm_conf"]
    return env


def _cli(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=env, check=False)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


class SlurmPlatform:
    name = "slurm"

    def __init__(self, settings: SlurmSettings | None = None) -> None:
        self._settings = settings

    def check(self) -> None:
        """Before a submit records anything: the settings are valid and the Slurm client is installed."""
        missing = [cmd for cmd in COMMANDS if shutil.which(cmd) is None]
        if missing:
            raise UserError(
                f"the slurm platform needs the Slurm client commands on PATH; missing: {', '.join(missing)} "
                "(Debian: slurm-client; or submit with --platform local)"
            )
        if self._settings is None:
            self._settings = load_settings()

    def submit(self, launch: Launch) -> dict[str, Any]:
        self.check()
        assert self._settings is not None
        settings = self._settings
        script = launch.job_dir / BATCH_NAME
        shape = shape_of(launch, settings)
        script.write_text(batch_script(launch, shape, settings.python or launch.python), encoding="utf-8")
        script.chmod(0o755)
        argv = ["sbatch", "--parsable", *sbatch_options(launch, shape, settings), str(script)]
        done = _cli(argv)
        if done.returncode != 0:
            raise RuntimeError(f"sbatch refused the job: {_first_line(done.stderr) or done.returncode}")
        job, _, cluster = done.stdout.strip().partition(";")
        if not job.isdigit():
            raise RuntimeError(f"sbatch --parsable printed {done.stdout.strip()!r}, not a job id")
        return {
            "kind": KIND,
            "scheduler_job": job,
            "cluster": cluster or None,
            "sbatch": shlex.join(argv),
            "shape": asdict(shape),
            "image": settings.container_image,
            "slurm_conf": os.environ.get("SLURM_CONF"),
        }

    def status(self, record: dict[str, Any]) -> Observation:
        job_dir = Path(record["job_dir"])
        exit_info = read_exit(job_dir)
        if exit_info is not None:
            return exit_observation(exit_info)
        ref = record.get("backend_ref") or {}
        job = ref.get("scheduler_job")
        if job is None:
            return Observation(UNKNOWN, "no Slurm job recorded")
        seen = _query(str(job), _slurm_env(ref))
        if isinstance(seen, str):  # Slurm could not be asked: the next read decides
            return Observation(UNKNOWN, seen)
        exit_info = read_exit(job_dir)  # the runner may have finished between the two reads
        if exit_info is not None:
            return exit_observation(exit_info)
        if seen is None:
            return Observation(
                ERROR,
                f"Slurm no longer knows job {job} and its runner left no exit record: it ended without recording "
                "its exit (node lost, killed, or the controller's state was lost)",
                err_class=ERR_INFRA,
            )
        word, reason, code, nodes = seen
        state, err_class = slurm_state(word)
        said = f"Slurm job {job} {word}" + (f" ({reason})" if reason and reason != "None" else "")
        if state == PENDING:
            return Observation(PENDING, said)
        if state == RUNNING:
            return Observation(RUNNING, said + (f" on {nodes}" if nodes else ""))
        if state == UNKNOWN:
            return Observation(UNKNOWN, said)
        # Slurm's job ended and the runner wrote no exit record: the runner itself was stopped.
        if state == CANCELED or cancel_requested(job_dir):
            return Observation(CANCELED, f"canceled: {said}")
        why = f"{said}, exit code {code}" if code else said
        if state == COMPLETE:  # exit 0 without an exit record cannot be a success (JOB-PROMISES)
            return Observation(ERROR, f"{why}, but the runner left no exit record", err_class=ERR_INFRA)
        return Observation(ERROR, f"the runner ended without an exit record: {why}", err_class=err_class)

    def logs(self, record: dict[str, Any], offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk:
        # Slurm writes the job's output into the job folder's job.log (shared file system).
        return read_log(Path(record["job_dir"]) / LOG_NAME, offset, max_bytes)

    def cancel(self, record: dict[str, Any], grace: float) -> Observation:
        job_dir = Path(record["job_dir"])
        with contextlib.suppress(OSError):  # first, so the runner reads the SIGTERM as a cancel
            request_cancel(job_dir)
        ref = record.get("backend_ref") or {}
        job = ref.get("scheduler_job")
        if job is None:
            return Observation(CANCELED, "canceled before the job reached Slurm")
        env = _slurm_env(ref)
        try:
            done = _cli(["scancel", str(job)], env)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UserError(f"cannot cancel Slurm job {job}: scancel failed ({exc}); try again") from None
        if done.returncode != 0:
            said = _first_line(done.stderr)
            if not any(gone in said for gone in ("Invalid job id", "already completing or completed")):
                raise UserError(f"cannot cancel Slurm job {job}: scancel said: {said or done.returncode}; try again")
            return Observation(CANCELED, f"canceled; scancel {job}: {said}")
        # Wait for the runner's exit record (it records the cancel and the command's exit code), unless the job
        # never started: Slurm ended it and no batch step ever opened the job's log.
        log = job_dir / LOG_NAME
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            exit_info = read_exit(job_dir)
            if exit_info is not None:
                return Observation(CANCELED, f"canceled: Slurm job {job} stopped", exit_info.get("exit_code"))
            seen = _query(str(job), env)
            ended = seen is None or (not isinstance(seen, str) and slurm_state(seen[0])[0] not in (PENDING, RUNNING))
            if ended and not log.exists():
                return Observation(CANCELED, f"canceled: Slurm job {job} ended before it started")
            time.sleep(0.2)
        _cli(["scancel", "--signal=KILL", "--full", str(job)], env)
        return Observation(CANCELED, f"canceled: Slurm job {job} killed (SIGKILL) after {grace:g} s")


def _query(job: str, env: dict[str, str]) -> tuple[str, str, str, str] | str | None:
    """(state, reason, exit code, nodes) from `scontrol show job`, else `sacct`; None when Slurm does not
    know the job; a string saying why when Slurm could not be asked."""
    try:
        done = _cli(["scontrol", "show", "job", "-o", job], env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"scontrol show job {job} failed: {exc}"
    if done.returncode == 0:
        fields = dict(_FIELD.findall(done.stdout))
        if "JobState" in fields:
            return fields["JobState"], fields.get("Reason", ""), fields.get("ExitCode", ""), fields.get("NodeList", "")
    elif "Invalid job id" not in done.stderr:
        return f"scontrol show job {job}: {_first_line(done.stderr) or done.returncode}"
    return _sacct(job, env)


def _sacct(job: str, env: dict[str, str]) -> tuple[str, str, str, str] | None:
    """The job's line in Slurm's accounting (jobs older than the controller's MinJobAge); None without it."""
    if shutil.which("sacct") is None:
        return None
    try:
        done = _cli(["sacct", "-n", "-P", "-X", "-j", job, "-o", "State,ExitCode,NodeList"], env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = _first_line(done.stdout) if done.returncode == 0 else ""
    if not line:
        return None  # accounting disabled, or the job is not in it
    state, code, nodes = [*line.split("|"), "", ""][:3]
    return state, "", code, nodes
