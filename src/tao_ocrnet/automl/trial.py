# SPDX-License-Identifier: Apache-2.0
"""One trial = one train job of the jobs layer, on the study's job platform (local processes, Slurm, ...).

The trial's spec is the user's request plus the fixed budget keys plus the sampled values, given to the job
layer as dotted overrides (so it goes through the same resolution and validation as `ocrnet jobs submit`).
While the job runs, every validation line of its status.json (`kpi.val_acc` with an `epoch`) is reported to
Optuna at step epoch+1 (epochs trained); when the pruner says so the job is canceled. The trial value is the
best val_acc seen, which is the model best_accuracy.pth holds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.record import RUNNING, last_transition, state_of
from tao_ocrnet.jobs.request import JobRequest
from tao_ocrnet.results.status import STATUS_NAME

log = logging.getLogger(__name__)

PRUNE_GRACE = 5.0  # seconds between SIGTERM and SIGKILL when a pruned or interrupted job is stopped
ATTR_POLL_S = 2.0  # how often a running trial looks for a study cancel in the storage


class StatusTail:
    """Reads the validation lines appended to a status.json since the last call (a torn last line waits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.count = 0

    def new_validations(self) -> list[tuple[int, float, int | None]]:
        """[(step, val_acc, epoch)]: step = epoch + 1 (epochs trained), or a counter without an epoch."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        out = []
        for line in data[: end + 1].splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            kpi = item.get("kpi") if isinstance(item, dict) else None
            value = kpi.get("val_acc", kpi.get("val/acc")) if isinstance(kpi, dict) else None
            # The closing "Training finished." line repeats the best val_acc without an epoch: not a validation.
            if not isinstance(value, int | float) or "epoch" not in item:
                continue
            self.count += 1
            epoch = item["epoch"] if isinstance(item["epoch"], int) else None
            out.append((epoch + 1 if epoch is not None else self.count, float(value), epoch))
        return out


@dataclass
class TrialContext:
    """What a worker gives every trial."""

    jobs: Any  # JobService
    roots: Any  # DataRoots
    parent_job: str | None
    action: str
    key_env: str | None
    fixed: dict[str, Any]
    space: Any  # SearchSpace
    prunes: bool
    poll: float
    stop: threading.Event
    canceled: Callable[[], bool]  # True once the study is canceled (read from the storage)
    heartbeat: Callable[[Any], None] = lambda trial: None
    platform: str | None = None  # the job platform every trial runs on (the study's; None: the default)


@dataclass
class Outcome:
    state: str  # COMPLETE | PRUNED | FAIL
    value: float | None = None
    reason: str | None = None
    interrupted: bool = False
    job_s: float | None = None  # the job's own lifetime (launch to exit), for the overhead figure
    timing: dict[str, float] = field(default_factory=dict)


def _stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def job_seconds(record: dict[str, Any]) -> float | None:
    """A job's lifetime from its record: the launch (RUNNING) to its last transition (the exit)."""
    stamps = {t["state"]: t["ts"] for t in record.get("transitions", [])}
    start, end = stamps.get(RUNNING), last_transition(record)["ts"]
    return (_stamp(end) - _stamp(start)).total_seconds() if start else None


def _failure_text(ctx: TrialContext, record: dict[str, Any]) -> str:
    message = last_transition(record)["message"]
    try:
        tail = "".join(ctx.jobs.logs(record["id"], tail=20)).strip().splitlines()
    except Exception:
        tail = []
    lines = [ln for ln in tail if ln.strip() and not ln.startswith("[runner")]
    return f"{message}; last log line: {lines[-1].strip()[:300]}" if lines else message


def run_trial(trial: Any, ctx: TrialContext) -> Outcome:
    """Run `trial` as a train job and follow it to the end (or until pruned or interrupted)."""
    t0 = time.perf_counter()
    baseline = bool(trial.user_attrs.get("baseline"))
    sampled = ctx.space.suggest(trial, baseline=baseline)
    trial.set_user_attr("sampled", sampled)
    overrides = {**ctx.fixed, **sampled}
    request = JobRequest(
        action=ctx.action,
        roots=ctx.roots,
        parent_job=ctx.parent_job,
        key_env=ctx.key_env,
        overrides=overrides,
        platform=ctx.platform,
    )
    t1 = time.perf_counter()
    try:
        submitted = ctx.jobs.submit(request)
    except UserError as exc:  # e.g. a sampled combination the spec rules reject
        return Outcome("FAIL", reason=f"the trial job could not be submitted: {exc}")
    t2 = time.perf_counter()
    job_id = submitted.job_id
    task_dir = Path((submitted.record.get("outputs") or {}).get("task_dir") or submitted.results_dir)
    trial.set_user_attr("job_id", job_id)
    trial.set_user_attr("task_dir", str(task_dir))
    timing = {"suggest_s": t1 - t0, "submit_s": t2 - t1}

    tail = StatusTail(task_dir / STATUS_NAME)
    curve = _Curve(trial)
    last_attr_check = 0.0
    stop_reason: str | None = None
    while True:
        for step, value, epoch in tail.new_validations():
            if not curve.add(step, value, epoch):
                continue
            if ctx.prunes and trial.should_prune():
                ctx.jobs.cancel(job_id, grace=PRUNE_GRACE)
                log.info("trial %d pruned at step %d (val_acc %.4f)", trial.number, step, value)
                return Outcome("PRUNED", curve.best, f"pruned after {step} epoch(s)", timing=timing)
        record = ctx.jobs.get(job_id)
        state = state_of(record)
        if state in ("COMPLETE", "ERROR", "CANCELED"):
            break
        ctx.heartbeat(trial)
        now = time.monotonic()
        if ctx.stop.is_set():
            stop_reason = "the worker was stopped"
        elif now - last_attr_check > ATTR_POLL_S:
            last_attr_check = now
            if ctx.canceled():
                stop_reason = "the study was canceled"
        if stop_reason:
            ctx.jobs.cancel(job_id, grace=PRUNE_GRACE)
            return Outcome("FAIL", curve.best, f"interrupted: {stop_reason}", interrupted=True, timing=timing)
        ctx.stop.wait(ctx.poll)

    for step, value, epoch in tail.new_validations():  # lines written just before the exit
        curve.add(step, value, epoch)
    best = curve.best
    job_s = job_seconds(record)
    if state == "COMPLETE":
        if best is None:
            return Outcome("FAIL", None, f"job {job_id} finished without any val_acc in {STATUS_NAME}", job_s=job_s)
        return Outcome("COMPLETE", best, job_s=job_s, timing=timing)
    if state == "CANCELED":
        return Outcome("FAIL", best, f"job {job_id} was canceled outside the study", job_s=job_s, timing=timing)
    return Outcome("FAIL", best, f"job {job_id} failed: {_failure_text(ctx, record)}", job_s=job_s, timing=timing)


class _Curve:
    """The reported val_acc per step; keeps `best_epoch` (the epoch best_accuracy.pth was saved at) current."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.points: dict[int, tuple[float, int | None]] = {}
        self.best: float | None = None

    def add(self, step: int, value: float, epoch: int | None) -> bool:
        if step in self.points:
            return False
        self.points[step] = (value, epoch)
        self.trial.report(value, step)
        if self.best is None or value > self.best:  # strict: the trainer saves on improvement only
            self.best = value
            if epoch is not None:
                self.trial.set_user_attr("best_epoch", epoch)
        return True
