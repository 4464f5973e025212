# SPDX-License-Identifier: Apache-2.0
"""A worker: one process that runs one trial at a time from a study, until the budget is used up.

Any number of workers, on any number of machines, can work on one study: they share nothing but the storage
(`ocrnet automl worker --study NAME --storage URL`). Per trial: `ask` (a queued trial first: the baseline,
the first batch, retries), run it as a job of the study's platform, `tell`, rewrite the reports. While a trial
runs, the worker keeps it alive (RDB: heartbeats; journal: a lease in the trial's user attrs). Between trials
it recovers trials whose worker died (same host: the process is gone; another host: heartbeats or lease
expired) and stops when the budget is reached, the study is canceled, or too many trials failed in a row.

The budget counts COMPLETE + PRUNED trials only: failed and interrupted trials do not use
it. Two workers asking at the same moment could overshoot it; the later trial then ends at once as a
"surplus" FAIL (no job is started) and is left out of every report.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import logging
import os
import signal
import socket
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.storages._heartbeat import is_heartbeat_enabled
from optuna.trial import TrialState

from tao_ocrnet.atomic import write_bytes_atomic
from tao_ocrnet.automl import workspace as wsp
from tao_ocrnet.automl.algorithms import gp_available, make_pruner, make_sampler
from tao_ocrnet.automl.budget import budget_state, counts, is_surplus_start
from tao_ocrnet.automl.plot import render_plots
from tao_ocrnet.automl.recovery import LEASE_ATTR, recover_stale
from tao_ocrnet.automl.results import apply_retention, best_rec, build_summary, trials_csv
from tao_ocrnet.automl.storage import mask, open_storage, timing
from tao_ocrnet.automl.stored_config import CANCEL_ATTR, STOP_ATTR, StudyConfig
from tao_ocrnet.automl.trial import Outcome, TrialContext, run_trial
from tao_ocrnet.datasources.resolver import DataRoots
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.platforms import procs
from tao_ocrnet.jobs.queue import LIMIT_ENV, job_limit
from tao_ocrnet.jobs.service import JobService

log = logging.getLogger(__name__)

WAIT_S = 0.5  # while other workers' trials hold the rest of the budget (a short wait: the study's end is seen soon)


def load_study(name: str, storage: Any) -> Any:
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise UserError(f"no study `{name}` in this storage (see `ocrnet automl list`)") from None


def write_reports(study: Any, cfg: StudyConfig, ws: Path) -> dict[str, Any]:
    """summary.json, best_rec.json, trials.csv and the plots in the local workspace; returns the summary."""
    summary = build_summary(study, cfg)
    wsp.write_json(ws / wsp.SUMMARY_FILE, summary)
    rec = best_rec(summary, cfg)
    if rec is not None:
        wsp.write_json(ws / wsp.BEST_REC_FILE, rec)
    write_bytes_atomic(ws / wsp.TRIALS_CSV, trials_csv(summary, cfg.search_space.keys).encode())
    render_plots(study, ws)
    return summary


class Worker:
    def __init__(self, study: Any, cfg: StudyConfig, ws: Path, index: int) -> None:
        self.study, self.cfg, self.ws, self.index = study, cfg, ws, index
        self.stop = threading.Event()
        self.me = {"host": socket.gethostname(), "pid": os.getpid(), "start_time": procs.start_time(os.getpid())}
        self._last_beat = 0.0
        self.beat_interval = timing()[0]
        roots = DataRoots.from_dict(cfg.roots)
        self.ctx = TrialContext(
            jobs=JobService(),
            roots=roots,
            parent_job=cfg.parent_job,
            action=cfg.action,
            key_env=cfg.key_env,
            fixed=dict(cfg.fixed),
            space=cfg.search_space,
            prunes=cfg.settings["algorithm"] in ("hyperband", "asha"),
            poll=float(cfg.settings["poll_interval"]),
            stop=self.stop,
            canceled=self._canceled,
            heartbeat=self._heartbeat,
            platform=cfg.platform,
        )

    def _canceled(self) -> bool:
        attrs = self.study._storage.get_study_user_attrs(self.study._study_id)
        return bool(attrs.get(CANCEL_ATTR))

    def _heartbeat(self, trial: Any) -> None:
        storage = self.study._storage
        now = time.monotonic()
        if now - self._last_beat < self.beat_interval / 2:
            return
        if is_heartbeat_enabled(storage):  # True only for a heartbeat-capable storage with heartbeats on
            storage.record_heartbeat(trial._trial_id)
        else:  # a journal: a lease that workers on other hosts read (recovery.stale_reason)
            trial.set_user_attr(LEASE_ATTR, round(time.time(), 1))
        self._last_beat = now

    def run(self) -> str:
        """Run trials until there is nothing left to do; returns why the worker stopped."""
        while not self.stop.is_set():
            state, why = budget_state(self.study, self.cfg)
            if state in ("failed", "timeout"):
                if not self.study.user_attrs.get(STOP_ATTR):
                    self.study.set_user_attr(STOP_ATTR, {"state": state, "reason": why})
                log.warning("study stopped: %s", why)
                return state
            if state in ("done", "canceled"):
                log.info("worker done: %s", why)
                return state
            if state == "wait":
                self.stop.wait(WAIT_S)
                recover_stale(self.study)
                continue
            self._one_trial()
        return "stopped"

    def _one_trial(self) -> None:
        t0 = time.perf_counter()
        trial = self.study.ask()
        trial.set_user_attr("worker", {**self.me, "index": self.index})
        self._last_beat = 0.0
        self._heartbeat(trial)
        if is_surplus_start(self.study, trial.number, self.cfg.budget):
            trial.set_user_attr("surplus", True)
            self.study.tell(trial, state=TrialState.FAIL)
            return
        log.info("trial %d started%s", trial.number, " (baseline)" if trial.user_attrs.get("baseline") else "")
        try:
            outcome = run_trial(trial, self.ctx)
        except Exception as exc:  # a bug or an infrastructure error: fail this trial, keep the study going
            log.exception("trial %d raised", trial.number)
            outcome = Outcome("FAIL", reason=f"the runner raised {type(exc).__name__}: {exc}")
        t_run = time.perf_counter()
        if outcome.reason:
            trial.set_user_attr("failure_reason", outcome.reason)
        if outcome.interrupted:
            trial.set_user_attr("interrupted", True)
        try:
            if outcome.state == "COMPLETE":
                self.study.tell(trial, outcome.value)
            else:
                self.study.tell(trial, state=TrialState[outcome.state])
        except optuna.exceptions.UpdateFinishedTrialError:
            log.warning("trial %d was finished by another process (judged stale); result dropped", trial.number)
        log.info("trial %d %s: val_acc %s%s", trial.number, outcome.state, outcome.value,
                 f" ({outcome.reason})" if outcome.reason else "")  # fmt: skip
        t_tell = time.perf_counter()
        self.reports()
        t_end = time.perf_counter()
        self._record_timing(trial.number, outcome, t0, t_run, t_tell, t_end)

    def _record_timing(self, number: int, outcome: Outcome, t0: float, t_run: float, t_tell: float, t_end: float):
        total = t_end - t0
        row = {
            "rec_id": number,
            "state": outcome.state,
            "total_s": round(total, 4),
            "job_s": outcome.job_s,
            # Everything but the job's own lifetime: sampling, spec resolution and launch, noticing the end
            # (poll interval), tell, reports.
            "overhead_s": round(total - outcome.job_s, 4) if outcome.job_s is not None else None,
            **{k: round(v, 4) for k, v in outcome.timing.items()},
            "tell_s": round(t_tell - t_run, 4),
            "reports_s": round(t_end - t_tell, 4),
            "worker": self.index,
        }
        with open(self.ws / wsp.TIMINGS_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")

    def reports(self) -> dict[str, Any] | None:
        try:
            return write_reports(self.study, self.cfg, self.ws)
        except Exception as exc:  # reports must never stop the study
            log.warning("could not write the reports: %s", exc)
            return None

    def finish(self, reason: str) -> None:
        summary = self.reports()
        trials = self.study.get_trials(deepcopy=False)
        done = counts(trials)
        if (
            summary is not None
            and reason == "done"
            and done["running"] == 0
            and self.cfg.settings.get("delete_intermediate_ckpt")
        ):
            wsp.write_json(self.ws / "retention.json", apply_retention(summary))
            self.reports()  # checkpoint paths changed


def _warm_up_torch() -> None:
    import torch  # only here: a worker of another algorithm never loads it

    torch.set_num_threads(1)  # the GP is tiny; the cores belong to the trial jobs
    for module in ("optuna._gp.gp", "optuna._gp.acqf", "optuna._gp.optim_mixed", "optuna._gp.search_space"):
        with contextlib.suppress(ImportError):  # Optuna's lazy GP modules: loaded here, not while sampling
            importlib.import_module(module)


def _pin(cpus: str | None, gpus: str | None) -> None:
    """CPU affinity and visible GPUs for this worker; its trial jobs inherit both."""
    if cpus:
        wanted = {int(c) for part in cpus.split(",") for c in _expand(part)}
        os.sched_setaffinity(0, wanted)
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus


def _expand(part: str) -> range:
    lo, _, hi = part.partition("-")
    return range(int(lo), int(hi or lo) + 1)


def run_worker(
    study_name: str,
    storage_url: str,
    *,
    index: int | None = None,
    workspace_root: Path | None = None,
    cpus: str | None = None,
    gpus: str | None = None,
) -> int:
    """Work on a study in the foreground until it is done; 0 unless the study stopped on failures."""
    warnings.filterwarnings("ignore", message="Fixed parameter .* is out of range")
    warnings.filterwarnings("ignore", message=".*greenlet.*")
    # This runner records heartbeats itself (ask/tell, not Study.optimize), which Optuna warns about.
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    warnings.filterwarnings("ignore", message=".*warn_independent_sampling.*")
    _pin(cpus, gpus)
    storage = open_storage(storage_url)
    study = load_study(study_name, storage)
    cfg = StudyConfig.from_study(study)
    index = os.getpid() if index is None else index
    study.sampler = make_sampler(cfg, index)
    study.pruner = make_pruner(cfg)
    if cfg.settings["algorithm"] == "bayesian" and gp_available():
        # The GP needs torch only after the first batch: import it meanwhile, off the trial path.
        threading.Thread(target=_warm_up_torch, daemon=True).start()
    ws = wsp.workspace_for(study_name, workspace_root)
    ws.mkdir(parents=True, exist_ok=True)
    if not (ws / wsp.STUDY_FILE).exists():  # a worker on another machine: a local workspace for reports
        wsp.write_json(ws / wsp.STUDY_FILE, wsp.remote_study_file(study_name, storage_url))
    now = lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")  # noqa: E731
    wsp.register_worker(ws, os.getpid(), index=index, state="running", started_at=now(), cpus=cpus, gpus=gpus)
    # Optuna's own lines (independent-sampling notes per trial) would drown ours; errors still show.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    worker = Worker(study, cfg, ws, index)
    handler = lambda signum, frame: worker.stop.set()  # noqa: E731
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
    recovered = recover_stale(study)
    if recovered:
        log.info("recovered interrupted trial(s) %s", recovered)
    log.info("worker %d on study %s (%s)", index, study_name, mask(storage_url))
    # Trials are jobs: beyond the jobs the platform runs at once they wait PENDING in its queue, in order.
    log.info("at most %d job(s) run at once here (%s); more trials wait in the jobs queue", job_limit(), LIMIT_ENV)
    reason = "error"
    try:
        reason = worker.run()
    finally:
        worker.finish(reason)
        wsp.register_worker(ws, os.getpid(), state="ended", reason=reason, ended_at=now())
    return 1 if reason == "failed" else 0
