# SPDX-License-Identifier: Apache-2.0
"""Trial execution and study bookkeeping without training: a fake job layer writes status.json lines, so
pruning, failures, budget accounting and crash recovery are checked in well under a second each."""

from __future__ import annotations

import copy
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage
from optuna.trial import TrialState

from tao_ocrnet.automl.algorithms import make_pruner, make_sampler
from tao_ocrnet.automl.budget import budget_state, is_surplus_start
from tao_ocrnet.automl.ranges import build_space
from tao_ocrnet.automl.recovery import recover_stale
from tao_ocrnet.automl.stored_config import StudyConfig
from tao_ocrnet.automl.trial import TrialContext, run_trial
from tao_ocrnet.config.tao_schema import tao_schema
from tao_ocrnet.config.templates import template_dict
from tao_ocrnet.jobs.platforms import procs


@dataclass
class _Submitted:
    job_id: str
    record: dict[str, Any]
    results_dir: Path


class FakeJobs:
    """Jobs that 'train' by appending validation lines: val_acc per epoch from `curves[lr]`."""

    def __init__(self, root: Path, curves: dict[float, list[float]], end: str = "COMPLETE") -> None:
        self.root, self.curves, self.end = root, curves, end
        self.states: dict[str, str] = {}
        self.canceled: list[str] = []

    def submit(self, request: Any) -> _Submitted:
        lr = float(request.overrides["train.optim.lr"])
        job_id = f"ocrnet-train-{len(self.states):06x}"
        task = self.root / job_id / "train"
        task.mkdir(parents=True)
        self.states[job_id] = "RUNNING"
        threading.Thread(target=self._train, args=(job_id, task, self.curves[lr]), daemon=True).start()
        return _Submitted(job_id, {"outputs": {"task_dir": str(task)}}, self.root / job_id)

    def _train(self, job_id: str, task: Path, curve: list[float]) -> None:
        import json

        for epoch, value in enumerate(curve):
            time.sleep(0.15)
            if self.states[job_id] != "RUNNING":
                return
            with open(task / "status.json", "a") as fh:
                fh.write(json.dumps({"message": "Eval metrics generated.", "kpi": {"val_acc": value}, "epoch": epoch}))
                fh.write("\n")
        time.sleep(0.05)
        if self.states[job_id] == "RUNNING":
            self.states[job_id] = self.end

    def get(self, job_id: str) -> dict[str, Any]:
        ts = "2026-01-01T00:00:00.000Z"
        transitions = [{"state": "RUNNING", "ts": ts}, {"state": self.states[job_id], "ts": ts, "message": "m"}]
        return {"id": job_id, "transitions": transitions}

    def cancel(self, job_id: str, grace: float = 10.0) -> dict[str, Any]:
        self.canceled.append(job_id)
        self.states[job_id] = "CANCELED"
        return self.get(job_id)

    def logs(self, job_id: str, tail: int | None = None):
        yield "Traceback (most recent call last):\nRuntimeError: boom\n"


def _context(jobs: FakeJobs, prunes: bool) -> TrialContext:
    base = copy.deepcopy(template_dict("train"))  # the template's sections are shared (cached): never mutate
    base["train"]["optim"] = {"name": "adam", "lr": 1e-3}
    space = build_space(tao_schema("train"), base, ["train.optim.lr"])
    return TrialContext(
        jobs=jobs, roots=None, parent_job=None, action="train", key_env=None, fixed={}, space=space,
        prunes=prunes, poll=0.02, stop=threading.Event(), canceled=lambda: False,
    )  # fmt: skip


def _run(study: optuna.Study, ctx: TrialContext, lr: float):
    study.enqueue_trial({"train.optim.lr": lr})
    trial = study.ask()
    outcome = run_trial(trial, ctx)
    return trial, outcome


def test_a_trial_reports_each_validation_and_its_value_is_the_best(tmp_path):
    jobs = FakeJobs(tmp_path, {1e-3: [0.2, 0.6, 0.4]})
    study = optuna.create_study(direction="maximize")
    trial, outcome = _run(study, _context(jobs, prunes=False), 1e-3)
    assert (outcome.state, outcome.value) == ("COMPLETE", 0.6)  # the max, as best_accuracy.pth keeps
    study.tell(trial, outcome.value)
    frozen = study.trials[0]
    assert frozen.intermediate_values == {1: 0.2, 2: 0.6, 3: 0.4}  # step = epochs trained
    assert frozen.user_attrs["best_epoch"] == 1 and frozen.user_attrs["job_id"] == "ocrnet-train-000000"


def test_asha_prunes_a_weak_trial_and_cancels_its_job(tmp_path):
    jobs = FakeJobs(tmp_path, {1e-3: [0.5, 0.6, 0.7], 1e-4: [0.1, 0.1, 0.1]})
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3, min_early_stopping_rate=0)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    ctx = _context(jobs, prunes=True)
    trial, outcome = _run(study, ctx, 1e-3)
    study.tell(trial, outcome.value)
    trial, outcome = _run(study, ctx, 1e-4)
    assert outcome.state == "PRUNED" and outcome.value == 0.1 and "pruned after 1 epoch" in outcome.reason
    assert jobs.canceled == [trial.user_attrs["job_id"]]


def test_failures_carry_the_reason(tmp_path):
    study = optuna.create_study(direction="maximize")
    _, outcome = _run(study, _context(FakeJobs(tmp_path / "a", {1e-3: [0.3]}, end="ERROR"), False), 1e-3)
    assert outcome.state == "FAIL" and "failed: m; last log line: RuntimeError: boom" in outcome.reason
    _, outcome = _run(study, _context(FakeJobs(tmp_path / "b", {1e-3: []}), False), 1e-3)
    assert outcome.state == "FAIL" and "without any val_acc" in outcome.reason


def test_a_stopped_worker_interrupts_its_trial(tmp_path):
    jobs = FakeJobs(tmp_path, {1e-3: [0.1] * 50})
    ctx = _context(jobs, prunes=False)
    threading.Timer(0.3, ctx.stop.set).start()
    _, outcome = _run(optuna.create_study(direction="maximize"), ctx, 1e-3)
    assert outcome.state == "FAIL" and outcome.interrupted and jobs.canceled


# --- budget and recovery ---------------------------------------------------------------------------------


@dataclass
class _Cfg:
    budget: int
    settings: dict[str, Any]
    created_at: str = "2026-01-01T00:00:00+00:00"


def test_budget_counts_complete_and_pruned_only():
    study = optuna.create_study(direction="maximize")
    cfg = _Cfg(3, {"timeout_minutes": None, "max_consecutive_failures": 2})
    for state in (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED):
        t = study.ask()
        t.suggest_float("x", 0, 1)
        t.report(0.1, 1)
        study.tell(t, 0.5 if state == TrialState.COMPLETE else None, state=state)
    assert budget_state(study, cfg)[0] == "go"  # 2 of 3 finished: the failure did not use the budget
    running = study.ask()
    assert budget_state(study, cfg)[0] == "wait"
    extra = study.ask()  # another worker asked at the same moment
    assert not is_surplus_start(study, running.number, 3) and is_surplus_start(study, extra.number, 3)
    study.tell(running, 0.7)
    assert budget_state(study, cfg)[0] == "done"


def test_consecutive_failures_stop_the_study():
    study = optuna.create_study(direction="maximize")
    cfg = _Cfg(10, {"timeout_minutes": None, "max_consecutive_failures": 2})
    for _ in range(2):
        t = study.ask()
        t.set_user_attr("failure_reason", "data missing")
        study.tell(t, state=TrialState.FAIL)
    state, why = budget_state(study, cfg)
    assert state == "failed" and "2 trials failed in a row; the last: data missing" in why


def test_a_dead_workers_trial_is_failed_and_queued_again(tmp_path):
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "journal.log")))
    study = optuna.create_study(direction="maximize", storage=storage)
    done = subprocess.Popen(["true"])
    started = procs.start_time(done.pid)
    done.wait()
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": done.pid, "start_time": started})
    alive = study.ask()
    alive.set_user_attr("worker", {"host": socket.gethostname(), "pid": 1, "start_time": procs.start_time(1)})
    assert recover_stale(study) == [trial.number]
    assert recover_stale(study) == []  # recovered once only
    trials = study.get_trials()
    assert trials[trial.number].state == TrialState.FAIL and trials[trial.number].user_attrs["interrupted"]
    assert trials[alive.number].state == TrialState.RUNNING  # its worker lives: left alone
    retry = trials[-1]
    assert retry.state == TrialState.WAITING and retry.user_attrs["retry_of"] == trial.number
    assert retry.system_attrs["fixed_params"] == trials[trial.number].params  # the same configuration


@pytest.mark.parametrize("algorithm", ["bayesian", "random", "hyperband", "asha"])
def test_samplers_and_pruners_by_algorithm(algorithm):
    cfg = StudyConfig(
        name="s", settings={"algorithm": algorithm, "reduction_factor": 3}, space={"params": [], "base": {}},
        fixed={}, user_overrides={}, adjustments=[], roots={}, parent_job=None, epochs=9, seed=1, first_batch=3,
        model_ema=False,
    )  # fmt: skip
    sampler, pruner = type(make_sampler(cfg, 0)).__name__, type(make_pruner(cfg)).__name__
    assert (sampler, pruner) == {
        "bayesian": ("GPSampler", "NopPruner"),
        "random": ("RandomSampler", "NopPruner"),
        "hyperband": ("TPESampler", "HyperbandPruner"),
        "asha": ("TPESampler", "SuccessiveHalvingPruner"),
    }[algorithm]
