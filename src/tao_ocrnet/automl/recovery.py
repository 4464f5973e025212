# SPDX-License-Identifier: Apache-2.0
"""Crash recovery: trials whose worker died are failed and queued again; a resume re-queues interrupted ones.

A RUNNING trial is stale when its worker on this host is gone (pid + start time), or, in an RDB storage,
when its worker stopped sending heartbeats. Its configuration runs again as a new trial (at most
MAX_RETRY_DEPTH times), and the orphaned trial job is canceled.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import socket
import warnings
from typing import Any

from tao_ocrnet.automl.algorithms import quiet_optuna
from tao_ocrnet.jobs.platforms import procs
from tao_ocrnet.jobs.service import JobService

log = logging.getLogger(__name__)

MAX_RETRY_DEPTH = 2  # a trial interrupted this many times (e.g. it kills its worker) is not retried again
UNOWNED_GRACE_S = 120  # a RUNNING trial that never recorded its worker is stale after this long


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


def heartbeat_stale_callback(study: Any, trial: Any) -> None:
    """RDB heartbeats: Optuna failed a trial whose worker stopped beating; run its params again."""
    enqueue_retry(study, trial, "its worker stopped sending heartbeats")


def stale_reason(trial: Any) -> str | None:
    """Why a RUNNING trial is stale (its worker on this host is gone), or None if it is not (or we cannot tell)."""
    worker = trial.user_attrs.get("worker")
    if not worker:
        started = trial.datetime_start
        age = (dt.datetime.now() - started).total_seconds() if started else 0
        return "its worker stopped before recording itself" if age > UNOWNED_GRACE_S else None
    if worker.get("host") != socket.gethostname():
        return None  # another machine's worker: RDB heartbeats decide
    if procs.is_running(worker["pid"], worker.get("start_time")):
        return None
    return f"its worker (pid {worker['pid']}) stopped"


def recover_stale(study: Any) -> list[int]:
    """Fail RUNNING trials whose worker is dead and queue them again; stop their orphaned jobs.

    Only one process wins a trial's FAIL transition (the storage rejects a second), and only the winner
    queues the retry, so concurrent recoveries never duplicate work. Returns the trial numbers recovered.
    """
    import optuna
    from optuna.trial import TrialState

    recovered = []
    with contextlib.suppress(Exception), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # RDB heartbeats (other hosts); retries via the callback
    storage = study._storage
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = stale_reason(trial)
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
