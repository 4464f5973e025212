# SPDX-License-Identifier: Apache-2.0
"""The AutoML runner's Python API (the CLI and the MCP server call these).

    review_study(settings, request)            -> dict   pre-launch review; creates nothing
    start_study(settings, request)             -> dict   create the study, launch detached workers, return
    study_status(study)                        -> dict   summary + state, running trials, workers, ETA
    cancel_study(study)                        -> dict   stop workers and their trial jobs
    resume_study(study)                        -> dict   recover interrupted trials, launch workers again
    wait_study(study, timeout)                 -> dict   block until the study ends (status dict)
    list_studies()                             -> list   the studies in this host's AutoML root

`study` is a study name (its workspace under `$OCRNET_HOME/automl/`) or a workspace path; a study that lives
only in a shared RDB (no local workspace) also needs `storage`. States: RUNNING, COMPLETE, CANCELING,
CANCELED, ERROR (too many failures in a row), STOPPED (no worker left and budget remaining: resume it).

Importing this module imports no optuna (nor the worker module, which does): `ocrnet automl list` and the MCP
tools import it, so optuna is imported inside the functions that open a study.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tao_ocrnet.automl import workspace as wsp
from tao_ocrnet.automl.algorithms import quiet_optuna
from tao_ocrnet.automl.budget import counts
from tao_ocrnet.automl.launch import launch_workers, reap, signal_worker
from tao_ocrnet.automl.plan import Plan, StudyRequest, plan_study
from tao_ocrnet.automl.recovery import heartbeat_stale_ids, recover_stale, requeue_interrupted, stale_reason
from tao_ocrnet.automl.results import build_summary
from tao_ocrnet.automl.review import build_review
from tao_ocrnet.automl.settings import AutoMLSettings
from tao_ocrnet.automl.storage import STORAGE_ENV, has_password, mask, open_storage, url_from_env
from tao_ocrnet.automl.stored_config import CANCEL_ATTR, CONFIG_ATTR, STOP_ATTR, StudyConfig
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.platforms import procs

log = logging.getLogger(__name__)

__all__ = [
    "StudyRequest",
    "cancel_study",
    "list_studies",
    "resume_study",
    "review_study",
    "start_study",
    "study_status",
    "wait_study",
]

TERMINAL = ("COMPLETE", "CANCELED", "ERROR", "STOPPED")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# --- review and start ------------------------------------------------------------------------------------


def review_study(
    settings: Mapping[str, Any] | AutoMLSettings | None, request: StudyRequest, *, workspace_root: Path | None = None
) -> dict[str, Any]:
    """The pre-launch review (a dry run): validates everything, creates nothing."""
    plan = plan_study(settings, request, workspace_root)
    if not plan.in_workspace:
        _check_external(plan)
    return build_review(plan)


def _check_external(plan: Plan) -> Any:
    """Reach a shared storage now (unreachable = error before anything starts); the name must be free."""
    import optuna

    storage = open_storage(plan.storage_url)
    if plan.name in optuna.study.get_all_study_names(storage):
        raise UserError(
            f"study `{plan.name}` already exists in {mask(plan.storage_url)}; resume it with `ocrnet automl "
            f"resume {plan.name} --storage URL` or choose another study name"
        )
    return storage


def start_study(
    settings: Mapping[str, Any] | AutoMLSettings | None,
    request: StudyRequest,
    *,
    workspace_root: Path | None = None,
    pin_cpus: bool = False,
    worker_cpus: list[str] | None = None,
) -> dict[str, Any]:
    """Create the study (baseline and first batch queued) and launch `max_concurrent` detached workers.

    `pin_cpus` splits this host's CPUs among the workers; `worker_cpus` gives each worker's CPU list
    explicitly (e.g. ["0", "1"]). Returns at once: {study, workspace, storage, state, workers, review}. Every
    input is checked first; on any failure nothing is left behind.
    """
    import optuna

    plan = plan_study(settings, request, workspace_root)
    review = build_review(plan)  # may fail (--baseline-job): before anything exists
    external = None if plan.in_workspace else _check_external(plan)
    try:
        plan.workspace.mkdir(parents=True)
    except FileExistsError:
        raise UserError(f"study `{plan.name}` already exists ({plan.workspace})") from None
    created = False
    try:
        storage = external or open_storage(plan.storage_url)
        with quiet_optuna():  # our own log line says it; Optuna's handler may hold a stale stderr
            try:
                study = optuna.create_study(study_name=plan.name, storage=storage, direction="maximize")
            except optuna.exceptions.DuplicatedStudyError:
                raise UserError(f"study `{plan.name}` already exists in {mask(plan.storage_url)}") from None
            created = True
            study.set_user_attr(CONFIG_ATTR, plan.config.to_attr())
            for item in plan.first_batch:
                study.enqueue_trial(item["params"], user_attrs={"baseline": True} if item["baseline"] else {})
        wsp.write_json(plan.workspace / wsp.STUDY_FILE, _study_file(plan))
        wsp.write_json(plan.workspace / wsp.REVIEW_FILE, review)
        workers = launch_workers(plan.workspace, plan.name, plan.storage_url, plan.settings.max_concurrent,
                                 workspace_root, pin_cpus, worker_cpus)  # fmt: skip
    except BaseException:
        shutil.rmtree(plan.workspace, ignore_errors=True)
        if created and external is not None:
            with contextlib.suppress(Exception):
                optuna.delete_study(study_name=plan.name, storage=external)
        raise
    log.info("study %s started with %d worker(s); workspace %s", plan.name, len(workers), plan.workspace)
    return {
        "study": plan.name,
        "workspace": str(plan.workspace),
        "storage": mask(plan.storage_url),
        "state": "RUNNING",
        "workers": workers,
        "review": review,
    }


def _study_file(plan: Plan) -> dict[str, Any]:
    return {
        "name": plan.name,
        # A password is never written: resume/status then need --storage (or OCRNET_AUTOML_STORAGE).
        "storage": mask(plan.storage_url),
        "storage_has_password": has_password(plan.storage_url),
        "created_at": plan.config.created_at,
        "settings": plan.config.settings,
        "workspace_root": str(plan.workspace_root) if plan.workspace_root else None,
    }


# --- opening an existing study ---------------------------------------------------------------------------


def _open(study: str, storage: str | None, workspace_root: Path | None) -> tuple[Any, StudyConfig, Path | None, str]:
    """(optuna study, config, local workspace or None, storage URL)."""
    from tao_ocrnet.automl.worker import load_study

    ws = wsp.find_workspace(study, workspace_root)
    info = wsp.read_json(ws / wsp.STUDY_FILE) if ws else None
    name = info["name"] if info else study
    # An explicit URL first, then the workspace's own, then the environment (a shared database's password).
    url = storage or (info["storage"] if info and not info.get("storage_has_password") else None)
    url = url or url_from_env(None)
    if url is None:
        if info is None:
            raise UserError(f"no study `{study}` in {wsp.automl_root(workspace_root)}; give --storage URL for a "
                            "study in a shared database")  # fmt: skip
        raise UserError(f"study `{name}`: pass --storage URL (or set {STORAGE_ENV}); its password is not stored")
    handle = load_study(name, open_storage(url))
    return handle, StudyConfig.from_study(handle), ws, url


def _orphaned(handle: Any) -> int:
    """RUNNING trials whose worker is gone (recovery.stale_reason): they wait for a resume or another worker."""
    from optuna.trial import TrialState

    running = handle.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    beat_stale = heartbeat_stale_ids(handle)
    return sum(stale_reason(t, beat_stale) is not None for t in running)


def _state(handle: Any, cfg: StudyConfig, progress: Mapping[str, Any], live: list) -> tuple[str, str]:
    attrs = handle.user_attrs
    orphaned = _orphaned(handle) if progress["running"] else 0
    busy = bool(live) or progress["running"] > orphaned
    stopped = attrs.get(STOP_ATTR)
    if stopped and not busy:  # ended on its own: a later cancel must not overwrite its state and reason
        if stopped.get("state") == "timeout":
            return "COMPLETE", stopped.get("reason", "time budget used up")
        return "ERROR", stopped.get("reason", "stopped")
    if attrs.get(CANCEL_ATTR):
        return ("CANCELING", "workers are stopping") if busy else ("CANCELED", "canceled")
    if progress["completed"] >= progress["total"] and progress["running"] == 0:
        return "COMPLETE", f"{progress['completed']} of {progress['total']} trials finished"
    if busy:
        return "RUNNING", f"{progress['completed']} of {progress['total']} trials finished"
    why = f"the worker of {orphaned} running trial(s) stopped; " if orphaned else "no worker is running; "
    return "STOPPED", why + f"continue with `ocrnet automl resume {cfg.name}`"


def _eta(summary: Mapping[str, Any], workers: int) -> float | None:
    done = [r["duration_s"] for r in summary["history"] if r["status"] == "success" and r["duration_s"]]
    if not done:
        return None
    mean = sum(done) / len(done)
    p = summary["progress"]
    running = [r for r in summary["history"] if r["status"] == "running"]
    left = max(0, p["total"] - p["completed"] - len(running))
    busy = sum(max(0.0, mean - (r["duration_s"] or 0)) for r in running)
    return round((left * mean + busy) / max(1, workers, len(running)), 1)


def study_status(
    study: str, *, storage: str | None = None, workspace_root: Path | None = None, write_reports: bool = False
) -> dict[str, Any]:
    """The summary (best, progress, baseline, history) with state, running trials, workers and ETA."""
    reap()
    handle, cfg, ws, url = _open(study, storage, workspace_root)
    if write_reports and ws is not None:
        from tao_ocrnet.automl.worker import write_reports as write

        summary = write(handle, cfg, ws)
    else:
        summary = build_summary(handle, cfg)
    workers = wsp.workers(ws) if ws else []
    live = [w for w in workers if w["alive"]]
    state, reason = _state(handle, cfg, summary["progress"], live)
    running = [
        {
            "rec_id": r["rec_id"],
            "job_id": r["job_id"],
            "epochs_done": r["epochs"],
            "val_acc": r["curve"][-1][1] if r["curve"] else None,
            "elapsed_s": r["duration_s"],
            "worker": r["worker"],
            "specs": r["specs"],
        }
        for r in summary["history"]
        if r["status"] == "running"
    ]
    files = {}
    if ws is not None:
        for key, name in (
            ("summary", wsp.SUMMARY_FILE),
            ("best_rec", wsp.BEST_REC_FILE),
            ("plot", wsp.PLOT_FILE),
            ("trials_csv", wsp.TRIALS_CSV),
            ("review", wsp.REVIEW_FILE),
        ):
            path = ws / name
            files[key] = str(path) if path.exists() else None  # fmt: skip
    return {
        "study": cfg.name,
        "state": state,
        "reason": reason,
        "workspace": str(ws) if ws else None,
        "storage": mask(url),
        **summary,
        "running": running,
        "workers": workers,
        "eta_s": None if state in TERMINAL else _eta(summary, len(live)),
        "files": files,
    }


# --- cancel, resume, wait --------------------------------------------------------------------------------


def cancel_study(
    study: str, *, storage: str | None = None, workspace_root: Path | None = None, grace: float = 20.0
) -> dict[str, Any]:
    """Cancel: every worker (on any host) stops after canceling its trial job; local workers are signalled.

    Interrupted trials are marked so that `resume_study` runs them again.
    """
    handle, _, ws, _ = _open(study, storage, workspace_root)
    handle.set_user_attr(CANCEL_ATTR, {"at": _now(), "by": os.uname().nodename})
    live = wsp.live_workers(ws) if ws else []
    for info in live:
        signal_worker(info, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        reap()
        time.sleep(0.2)
        live = [w for w in live if procs.is_running(w["pid"], w.get("start_time"))]
    for info in live:  # did not stop in time: kill, then recover their trials here
        signal_worker(info, signal.SIGKILL)
    if live:
        time.sleep(0.2)
        reap()
        recover_stale(handle)
    return study_status(study, storage=storage, workspace_root=workspace_root, write_reports=True)


def resume_study(
    study: str,
    *,
    storage: str | None = None,
    workspace_root: Path | None = None,
    workers: int | None = None,
    max_recommendations: int | None = None,
    pin_cpus: bool = False,
) -> dict[str, Any]:
    """Continue a stopped, crashed or canceled study: finished trials are kept, interrupted ones run again.

    `max_recommendations` raises (or lowers) the budget. Launches `workers` (default: max_concurrent)."""
    handle, cfg, ws, url = _open(study, storage, workspace_root)
    if ws is None:
        ws = wsp.workspace_for(cfg.name, workspace_root)
        ws.mkdir(parents=True, exist_ok=True)
        wsp.write_json(ws / wsp.STUDY_FILE, wsp.remote_study_file(cfg.name, url))
    live = wsp.live_workers(ws)
    if live:
        raise UserError(
            f"study `{cfg.name}` is running ({len(live)} worker(s) alive); add workers with `ocrnet automl worker "
            f"--study {cfg.name}` instead"
        )
    if max_recommendations is not None:
        if max_recommendations < 1:
            raise UserError("max_recommendations must be at least 1")
        cfg.settings["max_recommendations"] = max_recommendations
        handle.set_user_attr(CONFIG_ATTR, cfg.to_attr())
    handle.set_user_attr(CANCEL_ATTR, None)
    handle.set_user_attr(STOP_ATTR, None)
    recovered = recover_stale(handle)
    requeued = requeue_interrupted(handle)
    finished = counts(handle.get_trials(deepcopy=False))["finished"]
    launched = []
    if finished < cfg.budget:  # a finished study needs no worker (raise max_recommendations to go on)
        n = workers or int(cfg.settings["max_concurrent"])
        launched = launch_workers(ws, cfg.name, url, n, workspace_root, pin_cpus)
    status = study_status(study, storage=storage, workspace_root=workspace_root)
    status["resumed"] = {"recovered": recovered, "requeued": requeued, "workers": launched}
    return status


def wait_study(
    study: str,
    *,
    storage: str | None = None,
    workspace_root: Path | None = None,
    timeout: float | None = None,
    poll: float = 1.0,
) -> dict[str, Any]:
    """Block until the study ends and its local workers have exited (their last reports are written)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        status = study_status(study, storage=storage, workspace_root=workspace_root)
        if status["state"] in TERMINAL and not any(w["alive"] for w in status["workers"]):
            return status
        if deadline is not None and time.monotonic() > deadline:
            raise UserError(f"study {status['study']} is still {status['state']} after {timeout:g} s")
        time.sleep(poll)


def list_studies(workspace_root: Path | None = None) -> list[dict[str, Any]]:
    """Studies with a workspace on this host (state from the last summary; no storage is opened)."""
    root = wsp.automl_root(workspace_root)
    out = []
    for ws in sorted(root.iterdir()) if root.is_dir() else []:
        info = wsp.read_json(ws / wsp.STUDY_FILE)
        if not isinstance(info, dict):
            continue
        summary = wsp.read_json(ws / wsp.SUMMARY_FILE) or {}
        progress = summary.get("progress") or {}
        out.append({
            "study": info.get("name", ws.name), "workspace": str(ws), "storage": info.get("storage"),
            "created_at": info.get("created_at"), "completed": progress.get("completed"),
            "total": progress.get("total"), "best_metric": progress.get("best_metric"),
            "workers_alive": len(wsp.live_workers(ws)),
        })  # fmt: skip
    return out
