# SPDX-License-Identifier: Apache-2.0
"""Local worker processes: launched detached (own session, so they outlive a CLI call or an MCP request),
optionally pinned to CPUs, signalled by pid + start time (a reused pid is never signalled)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tao_ocrnet.automl import workspace as wsp
from tao_ocrnet.automl.storage import STORAGE_ENV
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.platforms import procs
from tao_ocrnet.jobs.queue import THREAD_ENVS

log = logging.getLogger(__name__)

_CHILDREN: dict[int, subprocess.Popen] = {}  # workers this process launched, reaped when polled


def reap() -> None:
    """Collect exited workers of this process (a long-lived caller such as the MCP server keeps no zombies)."""
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            del _CHILDREN[pid]


def _cpu_groups(n: int) -> list[str | None]:
    """Split this process's CPUs into `n` disjoint groups (one per worker); None when there are too few."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < n:
        log.warning("--pin-cpus: %d CPU(s) for %d workers; not pinning", len(cpus), n)
        return [None] * n
    size = len(cpus) // n
    return [",".join(map(str, cpus[i * size : (i + 1) * size])) for i in range(n)]


def launch_workers(
    ws: Path,
    name: str,
    url: str,
    n: int,
    workspace_root: Path | None = None,
    pin_cpus: bool = False,
    worker_cpus: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Start `n` detached worker processes (own sessions: they outlive the caller, e.g. a CLI call)."""
    folder = ws / wsp.WORKERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    # A fresh index per launch: the sampler seed is seed + index, so a relaunched worker never replays the
    # random draws of an earlier one.
    first = len(list(folder.glob("*.json")))
    if worker_cpus is not None and len(worker_cpus) != n:
        raise UserError(f"worker_cpus names {len(worker_cpus)} CPU list(s) for {n} worker(s)")
    groups: list[str | None] = list(worker_cpus) if worker_cpus else _cpu_groups(n) if pin_cpus else [None] * n
    env = {**os.environ, STORAGE_ENV: url, "PYTHONUNBUFFERED": "1"}  # the URL never goes on argv
    # A worker samples, polls and writes reports: one thread. The cores go to the trial jobs, whose runners set
    # each job's share (jobs/queue.py); they also queue there when more trials run than the platform allows.
    env.update(dict.fromkeys(THREAD_ENVS, "1"))
    out = []
    for i in range(n):
        index = first + i
        stamp = dt.datetime.now().strftime("%Y%m%d_%H%M%S")
        log_path = folder / f"worker-{index}-{stamp}.log"
        argv = [sys.executable, "-m", "tao_ocrnet", "automl", "worker", "--study", name, "--index", str(index)]
        if workspace_root:
            argv += ["--workspace-root", str(workspace_root)]
        cpus = groups[i]
        if cpus:
            argv += ["--cpus", cpus]
        with open(log_path, "ab") as fh:
            proc = subprocess.Popen(
                argv, cwd=ws, env=env, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True,
            )  # fmt: skip
        _CHILDREN[proc.pid] = proc
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        out.append(wsp.register_worker(ws, proc.pid, index=index, log=str(log_path), state="starting",
                                       started_at=started, cpus=groups[i]))  # fmt: skip
    return out


def signal_worker(info: Mapping[str, Any], sig: signal.Signals) -> None:
    if procs.is_running(info["pid"], info.get("start_time")):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(info["pid"], sig)
