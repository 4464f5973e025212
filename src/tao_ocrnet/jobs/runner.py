# SPDX-License-Identifier: Apache-2.0
"""The job runner: runs one job folder's command and records its exit. Every `runners/<action>.py` calls `run`.

A platform starts `python JOB_DIR/runner.py JOB_DIR` (the action's shim, see `runner_shim.py`) detached.
`run` executes the action's skill_info `command` on the job's spec with this interpreter (`ocrnet` is
`python -m tao_ocrnet`), streams the output to stdout (the platform points it at JOB_DIR/job.log), writes
JOB_DIR/.runner/exit.json when the command ends, then records the exit code and the KPIs of the action's
status.json in the job record. Before the command starts, a job launched into its platform's queue waits for a
free slot (`queue.take_turn`: PENDING `queued: N ahead` until then), and the command gets the job's share of the
cores (OMP_NUM_THREADS, MKL_NUM_THREADS), which the log's first line states; a job stopped while queued never
runs its command (exit code null). A cluster platform whose allocation has several tasks names a launcher
(`OCRNET_TASK_LAUNCHER`, e.g. `srun ...`) that the command runs under, one copy per task; there, on Linux, the
command dies with the runner (a runner killed with -9 leaves no trainer behind).

The verdict: COMPLETE only when the command exited 0 and its status.json ends with SUCCESS (it finished its
work and wrote its outputs). CANCELED only when `ocrnet jobs cancel` asked for it (its marker, written before
the SIGTERM it sends); a SIGTERM from anything else (a node drain, a scheduler's preemption, an operator's
`kill`) is an ERROR that says so. When launch.json names `key_env`, encryption_key travels from that variable
to the command in its environment only (`config.secrets.ENCRYPTION_KEY_ENV`): no file holds it; it is masked in the log.

This module runs inside the job process before the command starts: it imports the stdlib and the light jobs
modules only (no torch, no pydantic).
"""

from __future__ import annotations

import ctypes
import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from tao_ocrnet.atomic import staged
from tao_ocrnet.config.secrets import ENCRYPTION_KEY_ENV
from tao_ocrnet.jobs.hooks import record_exit
from tao_ocrnet.jobs.queue import Turn, take_turn
from tao_ocrnet.jobs.record import state_of
from tao_ocrnet.jobs.runstate import EXIT_NAME, LAUNCH_NAME, cancel_requested, state_dir
from tao_ocrnet.results.partial import clean_stale_partials
from tao_ocrnet.results.status import STATUS_NAME, read_status

MASK = b"*****"
# Set (maybe empty) by a cluster platform's batch script: the runner runs in a scheduler's allocation. Its words
# go before the command when the allocation has several tasks (Slurm: `srun ...`), so that every task runs the
# same command and Lightning's cluster environment takes over; and the command dies with the runner.
LAUNCHER_ENV = "OCRNET_TASK_LAUNCHER"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _say(text: str) -> None:
    print(f"[runner {_now()}] {text}", flush=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    # exit.json is the durable exit record: on disk before the runner reports the exit.
    with staged(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())


def command_argv(command: str, config_path: str) -> list[str]:
    """The skill_info `command` with the spec path filled in; `ocrnet` runs as `python -m tao_ocrnet`."""
    words = shlex.split(command.replace("{config_path}", shlex.quote(config_path)))
    if words[0] == "ocrnet":
        words = [sys.executable, "-m", "tao_ocrnet", *words[1:]]
    return words


def _secret(launch: dict[str, Any]) -> str | None:
    """encryption_key from the variable launch.json names (None without `key_env`)."""
    name = launch.get("key_env")
    if not name:
        return None
    secret = os.environ.get(name, "")
    if not secret:
        raise RuntimeError(f"environment variable {name} (encryption_key) is not set for the job")
    return secret


class _Signals:
    """Remembers SIGTERM/SIGINT and passes them on to the command, which may not be in the signalled group."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.child: subprocess.Popen[bytes] | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        self.forward()

    def forward(self) -> None:
        """Pass the first signal received on to the command (called again once it starts)."""
        if self.received and self.child is not None and self.child.poll() is None:
            self.child.send_signal(self.received[0])

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self)
        signal.signal(signal.SIGINT, self)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # detached: a closing terminal is not a cancel


def _execute(
    job_dir: Path, launch: dict[str, Any], action: str, command: str, signals: _Signals, turn: Turn
) -> tuple[int, str | None]:
    """Run the command, streaming its output (secret masked): (exit code, the runner's own error or None)."""
    try:
        secret = _secret(launch)
        argv = command_argv(command, str(job_dir / launch["config"]))
        launcher = os.environ.pop(LAUNCHER_ENV, None)
        argv = [*shlex.split(launcher or ""), *argv]
        _say(f"job {launch['job_id']} ({action}): {' '.join(shlex.quote(w) for w in argv)}")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **turn.env()}
        if secret:
            env[ENCRYPTION_KEY_ENV] = secret
        child = subprocess.Popen(
            argv, cwd=job_dir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
            pass_fds=turn.fds,  # the slot stays taken while the command (or an orphan of it) runs
            preexec_fn=None if launcher is None else _die_with_parent(),
        )  # fmt: skip
        signals.child = child
        signals.forward()  # a signal that came before the command started stops it now
        assert child.stdout is not None
        for line in iter(child.stdout.readline, b""):
            sys.stdout.buffer.write(line.replace(secret.encode(), MASK) if secret else line)
            sys.stdout.flush()
        return child.wait(), None
    except Exception as exc:  # the runner's own failure is the job's failure, with its reason
        error = f"the runner failed: {type(exc).__name__}: {exc}"
        _say(error)
        return 1, error


def _die_with_parent() -> Callable[[], None] | None:
    """Linux: the command gets SIGKILL when the runner dies (kill -9, OOM), so nothing trains on behind an
    ERROR record where no one can stop it: a scheduler's node that tracks a job's processes by parent pid loses
    orphans. (The local platform stops a dead runner's leftovers itself.)"""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    runner_pid = os.getpid()

    def arm() -> None:  # in the child, between fork and exec
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != runner_pid:  # the runner died before the request took effect
            os._exit(137)

    return arm


def _record(job_dir: Path, metric: str | None) -> None:
    try:
        record = record_exit(job_dir)
        value = record.get("kpis", {}).get(metric) if metric else None
        shown = f" ({metric} {value})" if value is not None else ""
        _say(f"job record: {state_of(record)}{shown}")
    except Exception as exc:
        _say(f"could not update the job record ({exc}); reading the job reconciles it from exit.json")


def run(
    argv: list[str], *, action: str, command: str, config_format: str | None, mode: str | None, metric: str | None
) -> int:
    """Run the job folder `argv[1]` for `action` (the shim's constants, from skill_info); the process exit code."""
    if len(argv) != 2:
        print(f"usage: python {Path(argv[0]).name} JOB_DIR", file=sys.stderr)
        return 2
    job_dir = Path(argv[1]).resolve()
    launch = json.loads((job_dir / LAUNCH_NAME).read_text(encoding="utf-8"))
    state = state_dir(job_dir)
    state.mkdir(exist_ok=True)
    started = _now()
    if mode != "config" or config_format != "yaml":
        print(f"this runner runs config-mode YAML commands, not {mode}/{config_format}", file=sys.stderr)
        return 2
    signals = _Signals()
    signals.install()
    turn, error = _wait_turn(job_dir, signals)
    code: int | None = None  # the command never ran: stopped while queued
    if turn is not None:
        _say(turn.line)
        code, error = _execute(job_dir, launch, action, command, signals, turn)
        # A killed command may leave a partial output (dataset_convert's LMDB); no later run of this job cleans it.
        clean_stale_partials(Path(launch["task_dir"]))
    # A cancel is only what `ocrnet jobs cancel` asked for (its marker); a run that finished stays finished.
    requested = cancel_requested(job_dir)
    if code is not None:
        error = error or _failure(code, signals.received, requested, Path(launch["task_dir"]) / STATUS_NAME)
    canceled = error is not None and requested
    _write_json(
        state / EXIT_NAME,
        {
            "job_id": launch["job_id"],
            "action": action,
            "exit_code": code,
            "signal": -code if code is not None and code < 0 else None,
            "canceled": canceled,
            "error": error,
            "started_at": started,
            "finished_at": _now(),
        },
    )
    ended = "the command never ran" if code is None else f"the command ended with exit code {code}"
    _say(ended + (" (canceled)" if canceled else ""))
    if error and not canceled:
        _say(f"the job failed: {error}")
    _record(job_dir, metric)
    return 0 if error is None else 1


def _wait_turn(job_dir: Path, signals: _Signals) -> tuple[Turn | None, str | None]:
    """The job's slot and thread share (`jobs/queue.py`) once its turn comes; else (None, why it never ran)."""
    try:
        turn = take_turn(job_dir, lambda: bool(signals.received) or cancel_requested(job_dir))
    except Exception as exc:
        return None, f"the runner failed while the job was queued: {type(exc).__name__}: {exc}"
    if turn is not None:
        return turn, None
    if signals.received:
        names = ", ".join(sorted({signal.Signals(s).name for s in signals.received}))
        return None, f"stopped by {names} while queued; the command never ran"
    if cancel_requested(job_dir):
        return None, "canceled while queued; the command never ran"
    return None, "the job ended (or its launch was never recorded) while queued; the command never ran"


def _failure(code: int, received: list[int], canceled: bool, status_path: Path) -> str | None:
    """Why the run is not a success (None when it is: exit code 0 and status.json ending with SUCCESS)."""
    lines = read_status(status_path)
    last = lines[-1] if lines else {}
    if code == 0 and last.get("status") == "SUCCESS":
        return None
    said = f" ({last.get('message')})" if last.get("status") == "FAILURE" and last.get("message") else ""
    if code != 0:
        reason = f"the command exited with code {code}{said}"
    else:
        reason = f"the command exited with code 0 but {status_path} ends with {last.get('status')}, not SUCCESS"
    if received and not canceled:
        names = ", ".join(sorted({signal.Signals(s).name for s in received}))
        reason = f"the job received {names} from outside `ocrnet jobs cancel`; {reason}"
    return reason
