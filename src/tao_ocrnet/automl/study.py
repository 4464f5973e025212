# SPDX-License-Identifier: Apache-2.0
"""The Optuna study: its stored configuration, samplers and pruners, budget accounting and crash recovery.

Everything a worker needs lives in the storage (the study's user attrs), so `ocrnet automl worker --study
NAME --storage URL` works on any machine that reaches the storage: no workspace file is required.

Algorithm mapping (automl-notes §8.3, §8.7):
- bayesian: GPSampler (needs torch + scipy; TPE when they are missing, and the review says so), no pruning;
- random: RandomSampler, no pruning;
- hyperband: TPE + HyperbandPruner(1, max_epochs, reduction_factor);
- asha: TPE + SuccessiveHalvingPruner(1, reduction_factor).
The first batch (baseline + startup trials) is sampled at creation and enqueued, so the review lists
exactly what runs first; the samplers' startup count equals that batch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import logging
import socket
import warnings
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from tao_ocrnet.automl.settings import AutoMLSettings
from tao_ocrnet.automl.space import SearchSpace

log = logging.getLogger(__name__)

CONFIG_ATTR = "ocrnet_automl"
CANCEL_ATTR = "canceled"
STOP_ATTR = "stopped"
CONFIG_VERSION = 1
MAX_RETRY_DEPTH = 2  # a trial interrupted this many times (e.g. it kills its worker) is not retried again
UNOWNED_GRACE_S = 120  # a RUNNING trial that never recorded its worker is stale after this long


@dataclass
class StudyConfig:
    """What every worker needs, stored in the study (JSON-ready)."""

    name: str
    settings: dict[str, Any]
    space: dict[str, Any]
    fixed: dict[str, Any]  # dotted overrides of every trial: the user's overrides, the budget, clamped intervals
    user_overrides: dict[str, Any]  # the user's own overrides (dotted), for the best spec
    adjustments: list[str]
    roots: dict[str, Any]
    parent_job: str | None
    epochs: int
    seed: int
    first_batch: int
    model_ema: bool
    action: str = "train"  # train, or retrain (a pruned model: parent_job is the prune job)
    key_env: str | None = None  # the NAME of the environment variable holding encryption_key
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    created_on: str = field(default_factory=socket.gethostname)
    version: int = CONFIG_VERSION

    @property
    def settings_model(self) -> AutoMLSettings:
        return AutoMLSettings.model_validate(self.settings)

    @property
    def search_space(self) -> SearchSpace:
        return SearchSpace.from_dict(self.space)

    @property
    def budget(self) -> int:
        return int(self.settings["max_recommendations"])

    def to_attr(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_study(cls, study: Any) -> StudyConfig:
        from tao_ocrnet.errors import UserError

        data = study.user_attrs.get(CONFIG_ATTR)
        if not isinstance(data, dict):
            raise UserError(f"study `{study.study_name}` was not created by `ocrnet automl` (no configuration)")
        if data.get("version", 0) > CONFIG_VERSION:
            raise UserError(f"study `{study.study_name}` was created by a newer tao-ocrnet; upgrade to run it")
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


# --- samplers and pruners --------------------------------------------------------------------------------


def gp_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "scipy"))


def describe_algorithm(algorithm: str, epochs: int, reduction_factor: int, first_batch: int) -> dict[str, str]:
    """What runs for an algorithm name, without importing the sampler (for the review)."""
    tpe = f"TPESampler(multivariate, constant_liar, n_startup_trials={first_batch})"
    if algorithm == "bayesian":
        sampler = (
            f"GPSampler(n_startup_trials={first_batch})"
            if gp_available()
            else f"{tpe} (GPSampler needs torch and scipy, which are not installed)"
        )
        return {"sampler": sampler, "pruner": "none (every trial trains max_epochs)"}
    if algorithm == "random":
        return {"sampler": "RandomSampler", "pruner": "none (every trial trains max_epochs)"}
    if algorithm == "hyperband":
        return {"sampler": tpe, "pruner": f"HyperbandPruner(min_resource=1, max_resource={epochs}, "
                f"reduction_factor={reduction_factor})"}  # fmt: skip
    return {"sampler": tpe, "pruner": f"SuccessiveHalvingPruner(min_resource=1, reduction_factor={reduction_factor})"}


def make_sampler(cfg: StudyConfig, index: int) -> Any:
    """The sampler of worker `index`: seeds differ per worker so that workers never propose the same points.

    `seed` itself drew the first batch; a worker seeded with it would draw those configurations again.
    """
    import optuna

    algorithm = cfg.settings["algorithm"]
    seed = (cfg.seed + 1 + index) % (2**31)
    if algorithm == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if algorithm == "bayesian" and gp_available():
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=cfg.first_batch, warn_independent_sampling=False)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=cfg.first_batch)


def make_pruner(cfg: StudyConfig) -> Any:
    import optuna

    s = cfg.settings
    if s["algorithm"] == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=cfg.epochs, reduction_factor=s["reduction_factor"]
        )
    if s["algorithm"] == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=1, reduction_factor=s["reduction_factor"], min_early_stopping_rate=0
        )
    return optuna.pruners.NopPruner()


def first_batch_size(settings: AutoMLSettings) -> int:
    """Baseline + startup trials: configurations that do not depend on any result."""
    startup = max(1, min(5, settings.max_recommendations // 2))
    return min(settings.max_recommendations, max(startup, settings.max_concurrent))


def sample_first_batch(space: SearchSpace, size: int, seed: int) -> list[dict[str, Any]]:
    """[{params (Optuna), specs (dotted), baseline}] for the first `size` trials; trial 0 is the baseline."""
    import optuna

    with quiet_optuna():
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed), direction="maximize")
        baseline = space.baseline_values()
        study.enqueue_trial(space.fixed_params(baseline))
        out = []
        for i in range(size):
            trial = study.ask()
            specs = space.suggest(trial, baseline=i == 0)
            out.append({"params": dict(trial.params), "specs": specs, "baseline": i == 0})
    return out


@contextlib.contextmanager
def quiet_optuna():
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            # The baseline may sit outside the searched range on purpose (e.g. Adadelta's lr = 1.0 is inside,
            # a user's 2.0 is not): Optuna warns about such fixed values.
            warnings.filterwarnings("ignore", message="Fixed parameter .* is out of range")
            yield
    finally:
        optuna.logging.set_verbosity(level)


# --- trial accounting ------------------------------------------------------------------------------------


def finished_states() -> tuple[Any, ...]:
    from optuna.trial import TrialState

    return (TrialState.COMPLETE, TrialState.PRUNED)


def is_surplus(trial: Any) -> bool:
    return bool(trial.user_attrs.get("surplus"))


def counts(trials: Iterable[Any]) -> dict[str, int]:
    from optuna.trial import TrialState

    out = {"complete": 0, "pruned": 0, "failed": 0, "running": 0, "waiting": 0}
    for t in trials:
        if is_surplus(t):
            continue
        key = {
            TrialState.COMPLETE: "complete",
            TrialState.PRUNED: "pruned",
            TrialState.FAIL: "failed",
            TrialState.RUNNING: "running",
            TrialState.WAITING: "waiting",
        }[t.state]
        out[key] += 1
    out["finished"] = out["complete"] + out["pruned"]
    return out


def consecutive_failures(trials: Iterable[Any]) -> tuple[int, str | None]:
    """Failed trials in a row at the end (by completion time), not counting interrupted or surplus ones."""
    from optuna.trial import TrialState

    done = sorted(
        (t for t in trials if t.state.is_finished() and not is_surplus(t) and not t.user_attrs.get("interrupted")),
        key=lambda t: t.datetime_complete or dt.datetime.min,
    )
    n, reason = 0, None
    for t in reversed(done):
        if t.state != TrialState.FAIL:
            break
        n += 1
        reason = reason or t.user_attrs.get("failure_reason")
    return n, reason


def budget_state(study: Any, cfg: StudyConfig) -> tuple[str, str]:
    """(go | wait | done | canceled | failed | timeout, why) for a worker about to start a trial."""
    attrs = study.user_attrs
    if attrs.get(CANCEL_ATTR):
        return "canceled", "the study was canceled"
    stopped = attrs.get(STOP_ATTR)
    if stopped:
        return stopped.get("state", "failed"), stopped.get("reason", "stopped")
    trials = study.get_trials(deepcopy=False)
    c = counts(trials)
    if c["finished"] >= cfg.budget:
        return "done", f"{c['finished']} of {cfg.budget} trials finished"
    timeout = cfg.settings.get("timeout_minutes")
    if timeout is not None:
        started = dt.datetime.fromisoformat(cfg.created_at)
        if (dt.datetime.now(dt.UTC) - started).total_seconds() > timeout * 60:
            return "timeout", f"the time budget of {timeout:g} minutes is used up"
    failures, reason = consecutive_failures(trials)
    if failures >= cfg.settings["max_consecutive_failures"]:
        return "failed", f"{failures} trials failed in a row; the last: {reason}"
    if c["finished"] + c["running"] >= cfg.budget:
        return "wait", "the remaining budget is taken by running trials"
    return "go", ""


def is_surplus_start(study: Any, trial_number: int, budget: int) -> bool:
    """After `ask`: trials with lower numbers already fill the budget (another worker asked at the same time)."""
    from optuna.trial import TrialState

    taken = 0
    for t in study.get_trials(deepcopy=False):
        if t.number >= trial_number or is_surplus(t):
            continue
        if t.state in finished_states() or t.state == TrialState.RUNNING:
            taken += 1
    return taken >= budget


# --- crash recovery --------------------------------------------------------------------------------------


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
    from tao_ocrnet.jobs.platforms import procs

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
    from tao_ocrnet.jobs.service import JobService

    try:
        JobService().cancel(job_id, grace=5.0)
        log.info("canceled job %s of an interrupted trial", job_id)
    except Exception as exc:  # a job of another host, or a record this host does not hold
        log.warning("could not cancel job %s of an interrupted trial: %s", job_id, exc)
