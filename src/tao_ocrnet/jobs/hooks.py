# SPDX-License-Identifier: Apache-2.0
"""Writing what a platform observed into the record: used by the runner's exit hook and by reconciliation.

The record and the action's status.json agree: when a job ends ERROR or CANCELED while its status.json still
says STARTED or RUNNING (the action was killed before it could write its end), the observer that records the
end appends the FAILURE line with the reason.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tao_ocrnet.jobs.platforms.base import Observation, exit_observation
from tao_ocrnet.jobs.record import COMPLETE, TERMINAL, UNKNOWN, state_of
from tao_ocrnet.jobs.runstate import read_exit
from tao_ocrnet.jobs.store import JobStore, TerminalStateError
from tao_ocrnet.results.status import StatusWriter, summarize

log = logging.getLogger(__name__)
FINAL_STATUSES = ("SUCCESS", "FAILURE")  # the status.json words an action ends with


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
        updated = store.mark(record["id"], obs.state, obs.message, source, **fields)
    except TerminalStateError:  # another observer recorded the end first: theirs stands
        return store.read(record["id"])
    if obs.state in TERMINAL and obs.state != COMPLETE:
        _close_status(task_dir_of(record), f"job {obs.state}: {obs.message}")
    return updated


def _close_status(task_dir: Path, message: str) -> None:
    """Append FAILURE to a status.json that has not ended (never create one: the action did not start)."""
    if summarize(task_dir)["status"] in (None, *FINAL_STATUSES):
        return
    try:
        StatusWriter(task_dir).write("FAILURE", message)
    except OSError as exc:  # the record holds the truth; a status folder that cannot be written must not hide it
        log.warning("could not append the final FAILURE line to %s: %s", task_dir, exc)


def record_exit(job_dir: Path) -> dict[str, Any]:
    """Called by the runner once `.runner/exit.json` is written (source: backend-hook)."""
    store = JobStore(job_dir.parent)
    record = store.read(job_dir.name)
    exit_info = read_exit(job_dir)
    if exit_info is None:
        raise RuntimeError(f"{job_dir} has no exit record yet")
    return apply_observation(store, record, exit_observation(exit_info), "backend-hook")
