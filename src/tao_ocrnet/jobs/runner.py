# SPDX-License-Identifier: Apache-2.0
"""The job runner: runs one job folder's command and records its exit. Every `runners/<action>.py` calls `run`.

A platform starts `python JOB_DIR/runner.py JOB_DIR` (the action's shim, see `runner_shim.py`) detached.
`run` executes the action's skill_info `command` on the job's spec with this interpreter (`ocrnet` is
`python -m tao_ocrnet`), streams the output to stdout (the platform points it at JOB_DIR/job.log), writes
JOB_DIR/.runner/exit.json when the command ends, then records the exit code and the KPIs of the action's
status.json in the job record. SIGTERM (ocrnet jobs cancel) reaches the whole process group; the exit is then
recorded as CANCELED. When launch.json names `key_env`, encryption_key is read from that environment variable
into a private copy of the spec (mode 0600, removed afterwards) and masked in the log.

This module runs inside the job process before the command starts: it imports the stdlib, PyYAML and the
light jobs modules only (no torch, no pydantic).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from tao_ocrnet.atomic import staged
from tao_ocrnet.jobs.hooks import record_exit
from tao_ocrnet.jobs.record import state_of
from tao_ocrnet.jobs.runstate import EXIT_NAME, LAUNCH_NAME, cancel_requested, state_dir

MASK = b"*****"
SECRET_SPEC = "spec.secret.yaml"  # the private copy of the spec holding encryption_key, in JOB_DIR/.runner


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


def _config(job_dir: Path, launch: dict[str, Any], state: Path) -> tuple[Path, str | None]:
    """The spec to run; with a key_env, a private copy holding encryption_key from the environment."""
    spec = job_dir / launch["config"]
    name = launch.get("key_env")
    if not name:
        return spec, None
    secret = os.environ.get(name, "")
    if not secret:
        raise RuntimeError(f"environment variable {name} (encryption_key) is not set for the job")
    tree = yaml.safe_load(spec.read_text(encoding="utf-8")) or {}
    tree["encryption_key"] = secret
    private = state / SECRET_SPEC
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(tree, fh, sort_keys=False)
    return private, secret


class _Signals:
    """Remembers SIGTERM/SIGINT and passes them on to the command, which may not be in the signalled group."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.child: subprocess.Popen[bytes] | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self)
        signal.signal(signal.SIGINT, self)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # detached: a closing terminal is not a cancel


def _execute(
    job_dir: Path, launch: dict[str, Any], action: str, command: str, signals: _Signals
) -> tuple[int, str | None]:
    """Run the command, streaming its output (secret masked): (exit code, the runner's own error or None)."""
    private: Path | None = None
    try:
        config, secret = _config(job_dir, launch, state_dir(job_dir))
        private = config if secret else None
        argv = command_argv(command, str(config))
        _say(f"job {launch['job_id']} ({action}): {' '.join(shlex.quote(w) for w in argv)}")
        child = subprocess.Popen(
            argv,
            cwd=job_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        signals.child = child
        assert child.stdout is not None
        for line in iter(child.stdout.readline, b""):
            sys.stdout.buffer.write(line.replace(secret.encode(), MASK) if secret else line)
            sys.stdout.flush()
        return child.wait(), None
    except Exception as exc:  # the runner's own failure is the job's failure, with its reason
        error = f"the runner failed: {type(exc).__name__}: {exc}"
        _say(error)
        return 1, error
    finally:
        if private is not None:
            private.unlink(missing_ok=True)


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
    code, error = _execute(job_dir, launch, action, command, signals)
    canceled = bool(signals.received) or cancel_requested(job_dir)
    _write_json(
        state / EXIT_NAME,
        {
            "job_id": launch["job_id"],
            "action": action,
            "exit_code": code,
            "signal": -code if code < 0 else None,
            "canceled": canceled,
            "error": error,
            "started_at": started,
            "finished_at": _now(),
        },
    )
    _say(f"the command ended with exit code {code}" + (" (canceled)" if canceled else ""))
    _record(job_dir, metric)
    return 0 if code == 0 else 1
