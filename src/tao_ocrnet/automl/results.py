# SPDX-License-Identifier: Apache-2.0
"""Study results: the summary (best, progress, baseline, history: the bank runner's result shape),
best_rec.json, trials.csv and checkpoint retention.

- Best = the COMPLETE trial with the highest val_acc. Pruned trials never win: they did not train the full
  budget (best is chosen at full budget; budget keys never leak into the best spec).
- best_rec.json: the best spec nested, epoch-budget keys moved into `observed_budget`, validated against
  `best_rec_schema.BEST_REC_SCHEMA` before it is written.
- Retention (when asked): checkpoints of every finished trial except the best and the baseline are deleted;
  logs, specs and status.json stay (failed trials keep everything they wrote but checkpoints).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tao_ocrnet.automl.algorithms import describe_algorithm
from tao_ocrnet.automl.best_rec_schema import BUDGET_NAMES, validate_best_rec
from tao_ocrnet.automl.budget import counts, is_surplus
from tao_ocrnet.automl.stored_config import StudyConfig

log = logging.getLogger(__name__)

BEST_NAME = "best_accuracy.pth"  # tao_ocrnet.results.checkpoints.BEST_NAME (kept torch-free here)
CHECKPOINT_GLOBS = ("*.pth", "*.ckpt")
STATUS_WORDS = {
    "COMPLETE": "success", "PRUNED": "pruned", "FAIL": "failure", "RUNNING": "running", "WAITING": "waiting",
}  # fmt: skip


def _duration(t: Any) -> float | None:
    if t.datetime_start is None:
        return None
    end = t.datetime_complete or dt.datetime.now()
    return round((end - t.datetime_start).total_seconds(), 3)


def trial_row(t: Any, cfg: StudyConfig) -> dict[str, Any]:
    curve = sorted(t.intermediate_values.items())
    metric = max((v for _, v in curve), default=None)
    status = STATUS_WORDS[t.state.name]
    if status == "failure" and t.user_attrs.get("interrupted"):
        status = "interrupted"
    task_dir = t.user_attrs.get("task_dir")
    checkpoint = Path(task_dir) / BEST_NAME if task_dir else None
    return {
        "rec_id": t.number,
        "status": status,
        "metric": metric,
        "objective_score": metric,
        "objective_values": [] if metric is None else [metric],
        "failure_reason": t.user_attrs.get("failure_reason"),
        "adjustments": list(cfg.adjustments),
        "specs": dict(t.user_attrs.get("sampled") or {}),
        "baseline": bool(t.user_attrs.get("baseline")),
        "retry_of": t.user_attrs.get("retry_of"),
        "job_id": t.user_attrs.get("job_id"),
        "results_dir": task_dir,
        "checkpoint": str(checkpoint) if checkpoint and checkpoint.is_file() else None,
        "best_epoch": t.user_attrs.get("best_epoch"),
        "epochs": len(curve),
        "curve": [[int(s), float(v)] for s, v in curve],
        "started_at": t.datetime_start.isoformat(timespec="seconds") if t.datetime_start else None,
        "duration_s": _duration(t),
        "worker": t.user_attrs.get("worker"),
    }


def _baseline(rows: list[dict[str, Any]], best: dict[str, Any] | None) -> dict[str, Any]:
    candidates = [r for r in rows if r["baseline"]]
    done = [r for r in candidates if r["status"] == "success"]
    row = done[-1] if done else (candidates[-1] if candidates else None)
    out: dict[str, Any] = {"enabled": True, "metric_name": "val_acc", "metric_value": None, "rec_id": None}
    if row is None:
        return {**out, "status": "not_run", "comparison_to_best": None}
    status = {"success": "measured", "failure": "failure", "pruned": "measured"}.get(row["status"], "not_run")
    if row["status"] == "success" and row["metric"] is None:
        status = "metric_missing"
    out.update(rec_id=row["rec_id"], metric_value=row["metric"], status=status, job_id=row["job_id"])
    if best is not None and row["metric"] is not None:
        delta = best["metric_value"] - row["metric"]
        out["comparison_to_best"] = {
            "delta": delta,
            "relative": delta / row["metric"] if row["metric"] else None,
            "best_rec_id": best["rec_id"],
            "improved": delta > 0,
        }
    else:
        out["comparison_to_best"] = None
    return out


def build_summary(study: Any, cfg: StudyConfig) -> dict[str, Any]:
    """The bank runner's result dict of a study, from its storage (cheap: no file is read but existence checks)."""
    trials = [t for t in study.get_trials(deepcopy=False) if not is_surplus(t)]
    rows = [trial_row(t, cfg) for t in trials]
    done = [r for r in rows if r["status"] == "success" and r["metric"] is not None]
    best_row = max(done, key=lambda r: (r["metric"], -r["rec_id"])) if done else None
    best = None
    if best_row is not None:
        best = {
            "rec_id": best_row["rec_id"],
            "specs": best_row["specs"],
            "metric_value": best_row["metric"],
            "objective_score": best_row["metric"],
            "objective_values": [best_row["metric"]],
            "adjustments": best_row["adjustments"],
            "job_id": best_row["job_id"],
            "results_dir": best_row["results_dir"],
            "checkpoint": best_row["checkpoint"],
            "checkpoint_epoch": best_row["best_epoch"],
            "epochs": best_row["epochs"],
        }
    c = counts(trials)
    s = cfg.settings
    algo = describe_algorithm(s["algorithm"], cfg.epochs, s["reduction_factor"], cfg.first_batch)
    progress = {
        "completed": c["finished"],
        "total": cfg.budget,
        "succeeded": c["complete"],
        "pruned": c["pruned"],
        "failed": c["failed"],
        "running": c["running"],
        "waiting": c["waiting"],
        "best_metric": best["metric_value"] if best else None,
        "best_rec_id": best["rec_id"] if best else None,
        "algorithm": s["algorithm"],
        **algo,
    }
    return {
        "study": cfg.name,
        "metric": s["metric"],
        "direction": s["direction"],
        "model_ema": cfg.model_ema,  # true: val_acc is the EMA model's accuracy
        "best": best,
        "progress": progress,
        "baseline": _baseline(rows, best),
        "final_evaluation": {"enabled": False, "status": "not_run"},
        "history": rows,
    }


# --- best_rec.json ---------------------------------------------------------------------------------------


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = out
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def split_budget(flat: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec without epoch budgets, the budgets): `num_epochs`, `max_epochs`, `epochs` at any depth."""
    spec: dict[str, Any] = {}
    budget: dict[str, Any] = {}
    for key, value in flat.items():
        (budget if key.rsplit(".", 1)[-1] in BUDGET_NAMES else spec)[key] = value
    return spec, budget


def best_rec(summary: Mapping[str, Any], cfg: StudyConfig) -> dict[str, Any] | None:
    best = summary["best"]
    if best is None or not best.get("checkpoint"):
        return None
    spec, _ = split_budget({**cfg.user_overrides, **best["specs"]})
    out_best: dict[str, Any] = {
        "rec_id": str(best["rec_id"]),
        "score": float(best["metric_value"]),
        "specs": _nest(spec),
        # The budget the winner actually trained: its epochs, never written back into the spec.
        "observed_budget": {"train.num_epochs": int(best["epochs"])},
        "checkpoint_uri": best["checkpoint"],
    }
    if best.get("checkpoint_epoch") is not None:
        out_best["checkpoint_epoch"] = int(best["checkpoint_epoch"])
    all_recs = []
    for row in summary["history"]:
        if row["status"] in ("running", "waiting"):
            continue
        entry: dict[str, Any] = {"rec_id": str(row["rec_id"]), "score": row["metric"]}
        if row["job_id"]:
            entry["job_id"] = row["job_id"]
        all_recs.append(entry)
    data = {
        "schema_version": 1,
        "experiment_id": cfg.name,
        "metric_name": cfg.settings["metric"],
        "direction": cfg.settings["direction"],
        "best": out_best,
        "all_recs": all_recs,
    }
    validate_best_rec(data)
    return data


# --- trials.csv ------------------------------------------------------------------------------------------


def trials_csv(summary: Mapping[str, Any], keys: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    head = ["rec_id", "status", "val_acc", "epochs", "duration_s", "baseline", "job_id", "failure_reason"]
    writer.writerow(head + keys)
    for row in summary["history"]:
        writer.writerow(
            [row["rec_id"], row["status"], row["metric"], row["epochs"], row["duration_s"], row["baseline"],
             row["job_id"] or "", row["failure_reason"] or ""]
            + [row["specs"].get(k, "") for k in keys]
        )  # fmt: skip
    return buf.getvalue()


# --- retention -------------------------------------------------------------------------------------------


def apply_retention(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Delete the checkpoints of finished trials other than the best and the baseline (this host's files)."""
    keep = {summary["best"]["rec_id"]} if summary["best"] else set()
    if summary["baseline"].get("rec_id") is not None:
        keep.add(summary["baseline"]["rec_id"])
    deleted, freed = [], 0
    for row in summary["history"]:
        if row["rec_id"] in keep or row["status"] in ("running", "waiting") or not row["results_dir"]:
            continue
        folder = Path(row["results_dir"])
        if not folder.is_dir():
            continue
        for pattern in CHECKPOINT_GLOBS:
            for path in folder.glob(pattern):
                try:
                    size = path.lstat().st_size
                    path.unlink()
                except OSError as exc:
                    log.warning("could not delete %s: %s", path, exc)
                    continue
                deleted.append(str(path))
                freed += size
    if deleted:
        log.info("retention: deleted %d checkpoint file(s), %.1f MB", len(deleted), freed / 1e6)
    return {"kept_rec_ids": sorted(keep), "deleted_files": len(deleted), "freed_bytes": freed}
