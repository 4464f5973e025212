# SPDX-License-Identifier: Apache-2.0
"""The launcher interface: submit, status, logs, cancel (the skill bank's platform verbs).

The local process platform (`local.py`) is the embedded default. A cluster scheduler is one more module
implementing `Platform` and one more line in `PLATFORMS`; records name their platform, so every later read
goes back to the one that launched the job.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.record import CANCELED, COMPLETE, ERR_PROGRAM, ERROR

PLATFORM_ENV = "OCRNET_PLATFORM"
DEFAULT_PLATFORM = "local"
PLATFORMS: dict[str, str] = {
    "local": "tao_ocrnet.jobs.platforms.local:LocalPlatform",
    "slurm": "tao_ocrnet.jobs.platforms.slurm:SlurmPlatform",
}


@dataclass(frozen=True)
class ComputeShape:
    """The allocation a job needs, from its spec: what a cluster scheduler (Slurm, Kubernetes) reserves.

    One task per device, as Lightning requires under a scheduler (tasks per node == devices per node,
    nodes == `num_nodes`): a GPU job runs one task per GPU; a CPU job one task per CPU process.
    """

    nodes: int = 1
    tasks_per_node: int = 1
    gpus_per_node: int = 0
    cpus_per_task: int = 1

    @property
    def tasks(self) -> int:
        return self.nodes * self.tasks_per_node

    @classmethod
    def from_spec(cls, spec: dict[str, Any], section: str | None, gpu: bool = False) -> ComputeShape:
        """Training (`section` train) reads `train.num_nodes`, `train.num_gpus` and, with no GPU,
        `train.num_cpu_processes`; other actions run one task on one node, with a GPU when their section's
        `num_gpus` asks for one or `gpu` says they need one (TensorRT). Each task gets a CPU for itself and one
        per data-loader worker (`dataset.workers`)."""
        own = spec.get(section) if section else None
        own = own if isinstance(own, dict) else {}
        dataset = spec.get("dataset")
        cpus = 1 + max(0, int((dataset.get("workers") if isinstance(dataset, dict) else 0) or 0))
        if section == "train":
            gpus = int(own.get("num_gpus") or 0)
            tasks = gpus or int(own.get("num_cpu_processes") or 1)  # CPU training: one task per CPU process
            return cls(int(own.get("num_nodes") or 1), tasks, gpus, cpus)
        return cls(1, 1, 1 if gpu or int(own.get("num_gpus") or 0) > 0 else 0, cpus)


@dataclass(frozen=True)
class Launch:
    """Everything a platform needs to start one job: run `python runner job_dir` in the allocation `shape`."""

    job_id: str
    job_dir: Path
    runner: Path
    log_path: Path
    python: str
    shape: ComputeShape = ComputeShape()


@dataclass(frozen=True)
class Observation:
    """What the platform sees now. `state` uses the record vocabulary; UNKNOWN means it cannot tell."""

    state: str
    message: str = ""
    exit_code: int | None = None
    err_class: str | None = None


@dataclass(frozen=True)
class LogChunk:
    text: str
    offset: int  # where the next read starts
    size: int  # the log's size now


class Platform(Protocol):
    """A platform may also define `check() -> None`: submit calls it before anything is recorded (a cluster
    platform's settings and client commands), so a bad setting is one error and leaves no job behind."""

    name: str

    def submit(self, launch: Launch) -> dict[str, Any]:
        """Start the job detached from the caller; return the backend reference to record."""
        ...

    def status(self, record: dict[str, Any]) -> Observation: ...

    def logs(self, record: dict[str, Any], offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk:
        """Log bytes from `offset` (negative: that many bytes before the end)."""
        ...

    def cancel(self, record: dict[str, Any], grace: float) -> Observation:
        """Stop the job (terminate, escalate after `grace` seconds); idempotent."""
        ...


def read_log(path: Path, offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk:
    """Bytes of a job's log file from `offset` (negative: that many before the end); every platform whose jobs
    write their log into the job folder reads it this way."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            start = max(0, size + offset) if offset < 0 else min(offset, size)
            fh.seek(start)
            data = fh.read(max_bytes)
    except FileNotFoundError:
        return LogChunk("", 0, 0)
    return LogChunk(data.decode("utf-8", errors="replace"), start + len(data), size)


def get_platform(name: str | None = None) -> Platform:
    chosen = name or os.environ.get(PLATFORM_ENV, "").strip() or DEFAULT_PLATFORM
    try:
        target = PLATFORMS[chosen]
    except KeyError:
        raise UserError(f"unknown job platform `{chosen}`; available: {', '.join(PLATFORMS)}") from None
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)()


def exit_observation(exit_info: dict[str, Any]) -> Observation:
    """The terminal state for a runner exit record: canceled -> CANCELED; exit code 0 with no `error` (the runner
    found the action's status.json ending with SUCCESS) -> COMPLETE; else ERROR with the runner's reason."""
    code = exit_info.get("exit_code")
    error = exit_info.get("error")
    if exit_info.get("canceled"):
        if code is None:  # canceled while queued (jobs/queue.py)
            return Observation(CANCELED, "canceled while queued; the command never ran")
        return Observation(CANCELED, "canceled; the command stopped" + (f" (exit code {code})" if code else ""), code)
    if code == 0 and not error:
        return Observation(COMPLETE, "the command exited with code 0", 0)
    reason = error or f"the command exited with code {code}"
    return Observation(ERROR, f"{reason}; see the log (ocrnet jobs logs)", code, ERR_PROGRAM)
