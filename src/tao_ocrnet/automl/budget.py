# SPDX-License-Identifier: Apache-2.0
"""Trial accounting: which trials use the budget, and whether a worker may start another one.

The budget counts COMPLETE + PRUNED trials only: failed and interrupted trials do not use
it, and a "surplus" trial (asked while others already filled the budget) counts nowhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from tao_ocrnet.automl.stored_config import CANCEL_ATTR, STOP_ATTR, StudyConfig


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
