# SPDX-License-Identifier: Apache-2.0
"""Crash recovery: trials whose worker died are failed and queued again; a resume re-queues interrupted ones.

A RUNNING trial is stale when its worker on this host is gone (pid + start time). For a worker on another
host (whose pid means nothing here): when it stopped sending heartbeats (RDB storages: Optuna's own
heartbeats, judged here so that the trial keeps the reason), or stopped renewing its trial's lease (a
journal, which has no heartbeats in Optuna 5: the worker writes the wall-clock time into the trial's `lease`
user attr every half interval; the hosts' clocks must agree to well within the grace period, as NTP keeps
them). Its configuration runs again as a new trial (at most MAX_RETRY_DEPTH times), and the orphaned trial
job is canceled.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time
from typing import Any

from tao_ocrnet.automl.algorithms import quiet_optuna
from tao_ocrnet.automl.storage import timing
from tao_ocrnet.jobs.platforms import procs
from tao_ocrnet.jobs.service import JobService

log = logging.getLogger(__name__)

MAX_RETRY_DEPTH = 2  # a trial interrupted this many times (e.g. it kills its worker) is not retried again
UNOWNED_GRACE_S = 120  # a RUNNING trial that never recorded its worker is stale after this long
LEASE_ATTR = "lease"  # epoch seconds: when a worker without storage heartbeats last renewed its trial


def enqueue_retry(study: Any, failed: Any, reason: str) -> bool:
    """Queue the params of an interrupted trial again (at most MAX_RETRY_DEPTH times for one configuration)."""
    depth = int(failed.user_attrs.get("retry_depth", 0))
    if depth >= MAX_RETRY_DEPTH:
        log.warning("trial %d was interrupted %d times; not retried again", failed.number, depth + 1)
        return False
    attrs = {"retry_of": failed.number, "retry_depth": depth + 1, "retry_reason": reason}
    if failed.user_attrs.get("baseline"):
        attrs["baseline"] = True
    with quiet_optuna():
        study.enqueue_trial(dict(failed.params), user_attrs=attrs)
    log.info("trial %d (%s) queued again as a new trial", failed.number, reason)
    return True


def heartbeat_stale_ids(study: Any) -> set[int] | None:
    """RUNNING trials whose last heartbeat is older than the grace period (an RDB storage: the database's clock
    judges), or None for a storage without heartbeats (a journal)."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    storage = study._storage
    return set(storage._get_stale_trial_ids(study._study_id)) if is_heartbeat_enabled(storage) else None


def stale_reason(trial: Any, beat_stale: set[int] | None) -> str | None:
    """Why a RUNNING trial is stale (its worker is gone), or None if it is not (or we cannot tell yet).

    `beat_stale`: `heartbeat_stale_ids` of the trial's study."""
    worker = trial.user_attrs.get("worker")
    if not worker:
        started = trial.datetime_start
        age = (dt.datetime.now() - started).total_seconds() if started else 0
        return "its worker stopped before recording itself" if age > UNOWNED_GRACE_S else None
    if worker.get("host") == socket.gethostname():
        if procs.is_running(worker["pid"], worker.get("start_time")):
            return None
        return f"its worker (pid {worker['pid']}) stopped"
    where = f"its worker on {worker.get('host')} (pid {worker['pid']})"
    if beat_stale is not None:
        return f"{where} stopped sending heartbeats" if trial._trial_id in beat_stale else None
    lease = trial.user_attrs.get(LEASE_ATTR)
    if not isinstance(lease, int | float):
        return None  # a worker that keeps no lease: cannot tell
    age = time.time() - lease
    return f"{where} stopped renewing its lease {age:.0f} s ago" if age > timing()[1] else None


def recover_stale(study: Any) -> list[int]:
    """Fail RUNNING trials whose worker is dead and queue them again; stop their orphaned jobs.

    Only one process wins a trial's FAIL transition (the storage rejects a second), and only the winner
    queues the retry, so concurrent recoveries never duplicate work. Returns the trial numbers recovered.
    """
    import optuna
    from optuna.trial import TrialState

    recovered = []
    storage = study._storage
    beat_stale = heartbeat_stale_ids(study)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = stale_reason(trial, beat_stale)
        if reason is None:
            continue
        try:
            storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
            storage.set_trial_user_attr(trial._trial_id, "failure_reason", f"interrupted: {reason}")
            if not storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another process recovered it (or it just finished)
        _cancel_orphan(trial.user_attrs.get("job_id"))
        enqueue_retry(study, study._storage.get_trial(trial._trial_id), reason)
        recovered.append(trial.number)
    return recovered


def requeue_interrupted(study: Any) -> list[int]:
    """On resume: queue again the trials a cancel (or a crash) interrupted, unless already queued."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    out = []
    for t in trials:
        interrupted = t.state == TrialState.FAIL and t.user_attrs.get("interrupted") and t.number not in retried
        if interrupted and enqueue_retry(study, t, "interrupted by a cancel or a crash"):
            out.append(t.number)
    return out


def _cancel_orphan(job_id: str | None) -> None:
    """A dead worker's trial job runs on in its own process group: stop it (it will be re-run)."""
    if not job_id:
        return
    try:
        JobService().cancel(job_id, grace=5.0)
        log.info("canceled job %s of an interrupted trial", job_id)
    except Exception as exc:  # a job of another host, or a record this host does not hold
        log.warning("could not cancel job %s of an interrupted trial: %s", job_id, exc)
