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
        platform=request.platform,  # every trial's job platform (the MCP `platform` argument)
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
    request: JobRequest,
    decision: PolicyDecision | None,
    *,
    dry_run: bool,
    settings: Mapping[str, Any] | None = None,
    first_job_wait: float = FIRST_JOB_WAIT_S,
) -> dict[str, Any]:
    """Start (or, with dry_run, review) a study for a routed train request.

    `study` names the study for ocrnet_automl_status / ocrnet_automl_cancel; `job_id` is the baseline trial's
    job (watchable with the job tools) once its worker has submitted it within `first_job_wait` seconds, and
    absent otherwise: it is never a study name. A dry run returns the pre-launch review and starts nothing.
    """
    chosen = {**QUICK_START, **(settings or {})}  # the caller's settings refine the quick start
    sreq = study_request(request)
    tool = f"ocrnet_{request.action}"
    notes = [f"policy: {decision.reason}"] if decision is not None else []
    if dry_run:
        review = review_study(chosen, sreq)
        name = review["study"]
        named = bool((settings or {}).get("study_name"))
        again = "" if named else " (under a new name unless automl_settings.study_name is set)"
        return {
            "study": name,
            "action": request.action,
            "state": "NOT_STARTED",
            "dry_run": True,
            "route": f"AutoML study of up to {review['budget']['max_recommendations']} training trials (reviewed only)",
            "review": review,
            "notes": notes,
            "next": f"show the review to the user; call {tool} again without dry_run to start the study{again}; "
            f"until then ocrnet_automl_status(study='{name}') answers NOT_STARTED",
        }
    started = start_study(chosen, sreq)
    name = started["study"]
    job = first_job(name, first_job_wait)
    out: dict[str, Any] = {"study": name} | ({"job_id": job} if job else {})
    if job is None:
        notes.append(f"the baseline trial's job was not submitted within {first_job_wait:g} s; "
                     "ocrnet_automl_status lists it under `running` once it is")  # fmt: skip
    return out | {
        "action": request.action,
        "state": "RUNNING",
        "dry_run": False,
        "route": f"AutoML study of up to {started['review']['budget']['max_recommendations']} training trials",
        "workspace": started["workspace"],
        "review": started["review"],
        "notes": notes,
        "next": f"ocrnet_automl_status(study='{name}') until COMPLETE; the best checkpoint is in `best` "
        "(and best_rec.json)" + (f"; ocrnet_job_status(job_id='{job}') follows the baseline trial" if job else ""),
    }
