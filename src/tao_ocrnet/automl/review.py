# SPDX-License-Identifier: Apache-2.0
"""The pre-launch review the skill's AutoML policy asks for: what will be searched, how, the exact first
batch, the budget, the metric and direction, and an ETA from a baseline's time per epoch."""

from __future__ import annotations

from typing import Any

from tao_ocrnet.automl.algorithms import describe_algorithm
from tao_ocrnet.automl.plan import Plan
from tao_ocrnet.automl.storage import mask
from tao_ocrnet.automl.trial import job_seconds
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.record import COMPLETE, state_of
from tao_ocrnet.jobs.service import JobService


def baseline_epoch_seconds(job_id: str) -> tuple[float, str]:
    """Seconds per epoch of a finished train job (its whole lifetime over its epochs, start-up included)."""
    record = JobService().get(job_id)
    state = state_of(record)
    if record["action"] not in ("train", "retrain") or state != COMPLETE:
        raise UserError(f"--baseline-job {job_id}: needs a COMPLETE train job (it is a {state} {record['action']} job)")
    seconds = job_seconds(record)
    epochs = (record.get("kpis") or {}).get("epochs") or (record.get("spec") or {}).get("train", {}).get("num_epochs")
    if not seconds or not epochs:
        raise UserError(f"--baseline-job {job_id}: its record has no duration or epoch count")
    return seconds / float(epochs), f"job {job_id}: {seconds:.1f} s for {int(epochs)} epoch(s), start-up included"


def eta(plan: Plan) -> dict[str, Any]:
    s = plan.settings
    if not plan.request.baseline_job:
        return {
            "seconds_per_epoch": None,
            "source": "unknown until the baseline trial (trial 0) finishes; `ocrnet automl status` then shows it",
        }
    per_epoch, source = baseline_epoch_seconds(plan.request.baseline_job)
    per_trial = per_epoch * plan.config.epochs
    total = per_trial * s.max_recommendations / s.max_concurrent
    return {
        "seconds_per_epoch": round(per_epoch, 2),
        "seconds_per_trial": round(per_trial, 1),
        "total_s": round(total, 1),
        "source": source,
        "note": "an upper bound when trials are pruned (hyperband, asha); concurrent trials share this host's cores",
    }


def build_review(plan: Plan) -> dict[str, Any]:
    s, cfg = plan.settings, plan.config
    return {
        "study": plan.name,
        "workspace": str(plan.workspace),
        "storage": mask(plan.storage_url),
        "platform": cfg.platform,
        "algorithm": s.algorithm,
        **describe_algorithm(s.algorithm, cfg.epochs, s.reduction_factor, cfg.first_batch),
        "metric": s.metric,
        "direction": s.direction,
        "seed": cfg.seed,
        "budget": {
            "max_recommendations": s.max_recommendations,
            "max_epochs": cfg.epochs,
            "max_concurrent": s.max_concurrent,
            "reduction_factor": s.reduction_factor,
            "timeout_minutes": s.timeout_minutes,
            "epochs_upper_bound": s.max_recommendations * cfg.epochs,
            "counts": "COMPLETE and PRUNED trials; failed or interrupted trials do not use the budget",
        },
        "parameters": plan.space.describe(),
        "fixed_overrides": cfg.fixed,
        "adjustments": cfg.adjustments,
        "first_batch": [
            {"rec_id": i, "baseline": item["baseline"], "specs": item["specs"]}
            for i, item in enumerate(plan.first_batch)
        ],
        "eta": eta(plan),
        "delete_intermediate_ckpt": s.delete_intermediate_ckpt,
        "notes": plan.notes,
    }
