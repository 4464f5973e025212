# SPDX-License-Identifier: Apache-2.0
"""The local process platform: each job is a detached process group running its runner.

- `submit` starts `python runner.py JOB_DIR` in a new session (its own process group), so the job
  survives the process that launched it (a CLI call, an MCP server over stdio). The backend reference
  records the pid, the process group and the process start time, which makes pid reuse detectable.
- `status` reads the runner's exit record; without one, a live runner means RUNNING and a dead one
  means ERROR (killed, e.g. SIGKILL or the OOM killer). Processes of a dead runner's group that still run
  this job are stopped, so an ERROR record never has a trainer running behind it.
- `cancel` marks the request, sends SIGTERM to the group, and SIGKILL after the grace period.
- At most `OCRNET_MAX_JOBS` jobs (default: half the CPUs) run their command at once; a job launched while
  the slots are taken, or others wait, is a runner waiting in the FIFO queue (`jobs/queue.py`): PENDING
  until its turn, then RUNNING. Each job gets its share of the cores (`queue.thread_share`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tao_ocrnet.jobs.platforms import procs
from tao_ocrnet.jobs.platforms.base import Launch, LogChunk, Observation, exit_observation, read_log
from tao_ocrnet.jobs.queue import QUEUE_ENV, JobQueue, job_limit, queue_dir, read_admitted, started_message
from tao_ocrnet.jobs.record import CANCELED, ERR_INFRA, ERROR, PENDING, RUNNING, UNKNOWN
from tao_ocrnet.jobs.runstate import LOG_NAME, cancel_requested, read_exit, request_cancel

KIND = "local-process"
# Runners this process started: polled so that finished ones are reaped instead of lingering as zombies.
_CHILDREN: dict[int, subprocess.Popen] = {}


def _reap() -> None:
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            del _CHILDREN[pid]


class LocalPlatform:
    name = "local"

    def submit(self, launch: Launch) -> dict[str, Any]:
        """Start the runner with a slot (it runs at once) or a ticket (it waits its turn); `queue` in the
        reference says which: {"ahead": N, "limit": L} for a queued job."""
        _reap()
        queue = JobQueue(queue_dir(launch.job_dir.parent, self.name), job_limit())
        with queue.admit(launch.job_id, launch.job_dir) as place, open(launch.log_path, "ab") as log:
            proc = subprocess.Popen(
                [launch.python, str(launch.runner), str(launch.job_dir)],
                cwd=launch.job_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own session and process group: detached from the caller
                close_fds=True,
                pass_fds=(place.fd,),  # the slot or ticket lock: held by the runner from now on
                env={**os.environ, QUEUE_ENV: place.env_value()},
            )
        _CHILDREN[proc.pid] = proc
        ref: dict[str, Any] = {
            "kind": KIND,
            "host": socket.gethostname(),
            "pid": proc.pid,
            "pgid": proc.pid,  # a new session's leader leads its process group
            "start_time": procs.start_time(proc.pid),
        }
        if place.ticket is not None:
            ref["queue"] = {"ahead": place.ahead, "limit": place.limit}
        return ref

    def status(self, record: dict[str, Any]) -> Observation:
        _reap()
        ref = record.get("backend_ref") or {}
        job_dir = _job_dir(record)
        exit_info = read_exit(job_dir)
        if exit_info is not None:
            return exit_observation(exit_info)
        if ref.get("host") and ref["host"] != socket.gethostname():
            return Observation(UNKNOWN, f"the job runs on host {ref['host']}; check it there")
        pid = ref.get("pid")
        if pid is None:
            return Observation(UNKNOWN, "no process recorded")
        if procs.is_running(pid, ref.get("start_time")):
            if ref.get("queue"):  # launched into the queue: PENDING until it takes its slot
                admitted = read_admitted(job_dir)
                if admitted is None:
                    return Observation(PENDING, f"queued: runner process {pid} waits for a free slot")
                return Observation(RUNNING, started_message(admitted))
            return Observation(RUNNING, f"local process {pid} running")
        # The runner is gone without an exit record. Read the exit file again: it may have been written
        # between the first read and the liveness check.
        exit_info = read_exit(job_dir)
        if exit_info is not None:
            return exit_observation(exit_info)
        stopped = _stop_leftovers(ref, record, signal.SIGKILL)
        extra = f"; stopped {stopped} leftover process(es) of its group" if stopped else ""
        if cancel_requested(job_dir):
            return Observation(CANCELED, f"canceled; runner process {pid} stopped{extra}")
        now_started = procs.start_time(pid)
        reused = now_started is not None and ref.get("start_time") not in (None, now_started)
        why = "its pid now belongs to another process" if reused else "killed or crashed (e.g. SIGKILL, out of memory)"
        return Observation(
            ERROR, f"runner process {pid} ended without an exit record: {why}{extra}", err_class=ERR_INFRA
        )

    def logs(self, record: dict[str, Any], offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk:
        return read_log(_job_dir(record) / LOG_NAME, offset, max_bytes)

    def cancel(self, record: dict[str, Any], grace: float) -> Observation:
        job_dir = _job_dir(record)
        # First, so the runner and any poller read the exit as a cancel; a job folder that cannot be written
        # (full disk) must still not stop the cancel itself.
        with contextlib.suppress(OSError):
            request_cancel(job_dir)
        ref = record.get("backend_ref") or {}
        pid = ref.get("pid")
        if pid is None or not procs.is_running(pid, ref.get("start_time")):
            _stop_leftovers(ref, record, signal.SIGKILL)
            return Observation(CANCELED, "canceled before the job ran" if pid is None else "canceled")
        _signal_group(ref["pgid"], signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            _reap()
            if not procs.is_running(pid, ref.get("start_time")) and not _leftovers(ref, record):
                if ref.get("queue") and read_admitted(job_dir) is None:  # it ended without taking a slot
                    return Observation(CANCELED, "canceled while queued; the command never ran")
                return Observation(CANCELED, f"canceled: process group {ref['pgid']} ended after SIGTERM")
            time.sleep(0.1)
        _signal_group(ref["pgid"], signal.SIGKILL)
        _reap()
        return Observation(CANCELED, f"canceled: process group {ref['pgid']} killed (SIGKILL) after {grace:g} s")


def _job_dir(record: dict[str, Any]) -> Path:
    return Path(record["job_dir"])


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _leftovers(ref: dict[str, Any], record: dict[str, Any]) -> list[int]:
    """Processes of the job's group that still run this job (their command line names the job folder)."""
    pgid = ref.get("pgid")
    if pgid is None:
        return []
    marker = record["job_dir"]
    return [p for p in procs.group_members(pgid) if marker in procs.cmdline(p)]


def _stop_leftovers(ref: dict[str, Any], record: dict[str, Any], sig: signal.Signals) -> int:
    found = _leftovers(ref, record)
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    return len(found)
