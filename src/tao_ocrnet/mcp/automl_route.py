# SPDX-License-Identifier: Apache-2.0
"""AutoML over MCP: a routed `ocrnet_train` / `ocrnet_retrain` call, and the study tools `ocrnet_automl_status`
and `ocrnet_automl_cancel`.

A train request the policy (`tao_ocrnet.automl.policy.resolve_policy`) routes to AutoML comes here from
`handlers.call_action`: `routed_train` starts (or, in a dry run, reviews) the study through
`tao_ocrnet.automl.router.route_train` and waits on it when asked. A dry run records nothing on disk (the jobs
layer's promise), so the names of the studies it reviewed are kept in this server's memory: the status tools
then answer NOT_STARTED for them instead of "no study".
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import anyio

from tao_ocrnet.automl import router
from tao_ocrnet.automl.policy import PolicyDecision
from tao_ocrnet.automl.runner import TERMINAL, cancel_study, study_status
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.request import JobRequest
from tao_ocrnet.mcp.context import ToolCall
from tao_ocrnet.mcp.errors import mcp_result
from tao_ocrnet.mcp.progress import HEARTBEAT_SECONDS, Creep

POLL_SECONDS = 1.0
MAX_REVIEWED = 256  # dry-run study names remembered (oldest forgotten first)
_reviewed: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()  # study name -> (tool, dry-run review)


def _brief(status: dict[str, Any], history: bool) -> dict[str, Any]:
    # The per-trial history grows with the study: sent only on request, as the CLI does.
    return status if history else {k: v for k, v in status.items() if k != "history"}


def _remember(study: str, tool: str, review: dict[str, Any]) -> None:
    _reviewed[study] = (tool, review)
    _reviewed.move_to_end(study)
    while len(_reviewed) > MAX_REVIEWED:
        _reviewed.popitem(last=False)


def _not_started(study: str, cancel: bool) -> dict[str, Any]:
    tool, review = _reviewed[study]
    return {
        "study": study,
        "state": "NOT_STARTED",
        "reason": ("nothing to cancel: " if cancel else "")
        + f"not started: this was a dry run (it only reviewed the study); call {tool} again without dry_run "
        "to start it",
        "workspace": None,
        "progress": {"completed": 0, "total": review["budget"]["max_recommendations"], "running": 0},
        "best": None,
        "review": review,
    }


async def _study(call: ToolCall, read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`read()` (a runner call), or NOT_STARTED for a study that a dry run here only reviewed."""
    study = call.args["study"]
    try:
        return mcp_result(await anyio.to_thread.run_sync(read))
    except UserError:
        if study in _reviewed:
            return _not_started(study, cancel=call.name == "ocrnet_automl_cancel")
        raise


async def automl_status(call: ToolCall) -> dict[str, Any]:
    status = await _study(call, lambda: study_status(call.args["study"]))
    return _brief(status, bool(call.args.get("history", False)))


async def automl_cancel(call: ToolCall) -> dict[str, Any]:
    grace = float(call.args.get("grace_seconds", 20))
    status = await _study(call, lambda: cancel_study(call.args["study"], grace=grace))
    return _brief(status, False)


async def _wait_study(call: ToolCall, study: str, epochs: int, seconds: float) -> dict[str, Any]:
    """Poll until the study ends or `seconds` pass, reporting progress in trial epochs (the baseline's first)."""
    deadline = time.monotonic() + seconds
    sent, creep, emitted = -1.0, Creep(), 0.0
    while True:
        status = await anyio.to_thread.run_sync(lambda: study_status(study))
        p, running, state = status["progress"], status["running"], status["state"]
        done = [(r["rec_id"], min(int(r["epochs_done"] or 0), epochs)) for r in running]
        value = float(p["completed"] * epochs + sum(e for _, e in done))
        if value > sent or time.monotonic() - emitted >= HEARTBEAT_SECONDS:  # a heartbeat while trials run
            sent, emitted = value, time.monotonic()
            value = creep.value(value)
            trials = "; ".join(f"trial {rec} epoch {e}/{epochs}" for rec, e in done)
            text = f"{state}: {p['completed']}/{p['total']} trials finished" + (f"; {trials}" if trials else "")
            await call.progress(value, float(p["total"] * epochs), text)
        if state in TERMINAL or time.monotonic() >= deadline:
            break
        await anyio.sleep(POLL_SECONDS)
    out = {"state": state, "reason": status["reason"], "progress": p, "best": status["best"], "running": running}
    if state not in TERMINAL:
        out["waited"] = (
            f"waited {seconds:g} s; the study goes on (its trials take longer than one call may wait): "
            f"poll ocrnet_automl_status(study='{study}')"
        )
    return out


async def routed_train(
    call: ToolCall, request: JobRequest, decision: PolicyDecision, block: dict[str, Any], *, dry_run: bool
) -> dict[str, Any]:
    """Start (or review) the study for a call the policy routed to AutoML; wait on it for `wait_seconds`."""
    wait = 0.0 if call.as_task else float(call.args.get("wait_seconds", 0))
    settings = call.args.get("automl_settings")
    started = time.monotonic()
    # With wait_seconds, the wait for the baseline's job id counts against it; a task (followed with
    # tasks/get) returns the study at once.
    first = 0.0 if call.as_task else min(router.FIRST_JOB_WAIT_S, wait) if wait else router.FIRST_JOB_WAIT_S
    out = dict(
        await anyio.to_thread.run_sync(
            lambda: router.route_train(request, decision, dry_run=dry_run, settings=settings, first_job_wait=first)
        )
    )
    out["automl"] = block
    if dry_run:
        _remember(out["study"], call.name, out["review"])
        if wait:
            out["notes"].append("wait_seconds was not used: a dry run starts nothing to wait for")
    elif wait:
        left = max(0.0, wait - (time.monotonic() - started))
        out.update(await _wait_study(call, out["study"], int(out["review"]["budget"]["max_epochs"]), left))
    return mcp_result(out)
