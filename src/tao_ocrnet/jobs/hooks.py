# SPDX-License-Identifier: Apache-2.0
"""Writing what a platform observed into the record: used by the runner's exit hook and by reconciliation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tao_ocrnet.jobs.platforms.base import Observation, exit_observation
from tao_ocrnet.jobs.record import TERMINAL, UNKNOWN, state_of
from tao_ocrnet.jobs.runstate import read_exit
from tao_ocrnet.jobs.store import JobStore, TerminalStateError
from tao_ocrnet.results.status import summarize


def task_dir_of(record: dict[str, Any]) -> Path:
    return Path((record.get("outputs") or {}).get("task_dir") or record["results_dir"])


def apply_observation(store: JobStore, record: dict[str, Any], obs: Observation, source: str) -> dict[str, Any]:
    """Record `obs` if it changes the state; terminal states also get the exit code and the final KPIs."""
    if obs.state in (UNKNOWN, state_of(record)) or state_of(record) in TERMINAL:
        return record
    fields: dict[str, Any] = {}
    if obs.state in TERMINAL:
        fields = {
            "exit_code": obs.exit_code,
            "kpis": summarize(task_dir_of(record))["kpis"],
            "err_class": obs.err_class,
        }
    try:
        return store.mark(record["id"], obs.state, obs.message, source, **fields)
    except TerminalStateError:  # another observer recorded the end first: theirs stands
        return store.read(record["id"])


def record_exit(job_dir: Path) -> dict[str, Any]:
    """Called by the runner once `.runner/exit.json` is written (source: backend-hook)."""
    store = JobStore(job_dir.parent)
    record = store.read(job_dir.name)
    exit_info = read_exit(job_dir)
    if exit_info is None:
        raise RuntimeError(f"{job_dir} has no exit record yet")
    return apply_observation(store, record, exit_observation(exit_info), "backend-hook")
