# SPDX-License-Identifier: Apache-2.0
"""`ocrnet_train` -> AutoML: `route_train`, which the MCP handlers call for a request routed to AutoML.

A train (or retrain) request the policy routed to AutoML becomes a study with the quick-start settings
(the skill's policy: bayesian, 10 recommendations, the default space) unless the caller passes settings. The user's
data roots, parent job, key env and overrides carry over unchanged; the policy itself never reaches a spec.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from tao_ocrnet.automl.plan import StudyRequest
from tao_ocrnet.automl.policy import PolicyDecision
from tao_ocrnet.automl.runner import review_study, start_study, study_status
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.request import JobRequest

QUICK_START: dict[str, Any] = {"algorithm": "bayesian", "max_recommendations": 10}
FIRST_JOB_WAIT_S = 30.0


def study_request(request: JobRequest, **extra: Any) -> StudyRequest:
    """A StudyRequest from a jobs-layer JobRequest (rejecting what a study cannot do)."""
    if request.resume_from or request.checkpoint_epoch is not None or request.checkpoint_step is not None:
        raise UserError(
            "resume_from_job_id / checkpoint_epoch / checkpoint_step continue one job and cannot seed an AutoML "
            "study; pass automl_policy='off' to resume that job directly"
        )
    return StudyRequest(
        roots=request.roots,
        overrides=dict(request.overrides),
        parent_job=request.parent_job,
        action=request.action,
        key_env=request.key_env,
        **extra,
    )


def first_job(study: str, timeout: float = FIRST_JOB_WAIT_S) -> str | None:
    """The baseline trial's job id once its worker has submitted it (None after `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in study_status(study)["history"]:
            if row["baseline"] and row["job_id"]:
                return row["job_id"]
        time.sleep(0.5)
    return None


def route_train(
    request: JobRequest, decision: PolicyDecision | None, *, dry_run: bool, settings: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Start (or, with dry_run, review) a study for a routed train request.

    `job_id` is the baseline trial's job (watchable with the job tools); `study` names the study for
    ocrnet_automl_status / ocrnet_automl_cancel. A dry run returns the pre-launch review and starts nothing.
    """
    chosen = {**QUICK_START, **(settings or {})}  # the caller's settings refine the quick start
    sreq = study_request(request)
    if dry_run:
        review = review_study(chosen, sreq)
        return {
            "job_id": review["study"],
            "study": review["study"],
            "action": request.action,
            "state": "NOT_STARTED",
            "dry_run": True,
            "review": review,
            "next": "show the review to the user; call again without dry_run to start the study",
        }
    started = start_study(chosen, sreq)
    name = started["study"]
    job = first_job(name)
    return {
        "job_id": job or name,
        "study": name,
        "action": request.action,
        "state": "RUNNING",
        "dry_run": False,
        "workspace": started["workspace"],
        "review": started["review"],
        "notes": [f"policy: {decision.reason}"] if decision is not None else [],
        "next": f"ocrnet_automl_status(study='{name}') until COMPLETE; the best checkpoint is in best_rec.json",
    }
