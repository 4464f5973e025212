# SPDX-License-Identifier: Apache-2.0
"""The study workspace on this host: `$OCRNET_HOME/automl/<study>/`.

<ws>/study.json          name, storage URL (password masked), created_at, settings: how to find the study again
<ws>/review.json         the pre-launch review of the study as started
<ws>/journal.log         the default storage (or study.db for `storage: sqlite`)
<ws>/summary.json        best / progress / baseline / history (the bank runner's shape), rewritten after every trial
<ws>/best_rec.json       the best recommendation (tao-artifacts shape, jsonschema-validated)
<ws>/trials.csv          one row per trial
<ws>/plot.png            Optuna's optimization history (val_acc per trial and the best so far), matplotlib PNG
<ws>/plot_intermediate.png  val_acc per trial over epochs; plot_parallel.png: parameters against val_acc
<ws>/timings.jsonl       per-trial runner overhead (outside the training job)
<ws>/workers/<host>-<pid>.json, worker-<n>-<pid>.log   local worker processes and their logs

Trial jobs keep their own folders in the jobs layer (records under $OCRNET_HOME/jobs, results under the
results root); the summary names each trial's job id and results folder.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from tao_ocrnet.atomic import write_text_atomic
from tao_ocrnet.automl.storage import has_password, mask
from tao_ocrnet.jobs import paths
from tao_ocrnet.jobs.platforms import procs

STUDY_FILE = "study.json"
REVIEW_FILE = "review.json"
SUMMARY_FILE = "summary.json"
BEST_REC_FILE = "best_rec.json"
TRIALS_CSV = "trials.csv"
PLOT_FILE = "plot.png"
PLOT_INTERMEDIATE_FILE = "plot_intermediate.png"
PLOT_PARALLEL_FILE = "plot_parallel.png"
TIMINGS_FILE = "timings.jsonl"
WORKERS_DIR = "workers"
AUTOML_DIR = "automl"


def automl_root(root: Path | None = None) -> Path:
    return Path(root).absolute() if root else paths.home() / AUTOML_DIR


def workspace_for(name: str, root: Path | None = None) -> Path:
    return automl_root(root) / name


def find_workspace(study: str, root: Path | None = None) -> Path | None:
    """A workspace by study name (under the AutoML root) or by its path; None when there is none here."""
    as_path = Path(study).expanduser()
    if (as_path / STUDY_FILE).is_file() and (os.sep in study or study.startswith(".")):
        return as_path.absolute()
    candidate = workspace_for(study, root)
    return candidate if (candidate / STUDY_FILE).is_file() else None


def write_json(path: Path, data: Any) -> None:
    """Atomic write (temp file + rename): readers never see half a file, even with two writers."""
    write_text_atomic(path, json.dumps(data, indent=1, default=str, allow_nan=False) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def remote_study_file(name: str, url: str) -> dict[str, Any]:
    """study.json for a study created elsewhere (a worker or resume on another host): reports go here."""
    return {"name": name, "storage": mask(url), "storage_has_password": has_password(url), "remote": True}


# --- local worker processes ------------------------------------------------------------------------------


def worker_file(ws: Path, pid: int, host: str | None = None) -> Path:
    return ws / WORKERS_DIR / f"{host or socket.gethostname()}-{pid}.json"


def register_worker(ws: Path, pid: int, **fields: Any) -> dict[str, Any]:
    (ws / WORKERS_DIR).mkdir(parents=True, exist_ok=True)
    path = worker_file(ws, pid)
    info = {**(read_json(path) or {}), "host": socket.gethostname(), "pid": pid, **fields}
    info.setdefault("start_time", procs.start_time(pid))
    write_json(path, info)
    return info


def workers(ws: Path) -> list[dict[str, Any]]:
    """The workers started from this host, each with `alive` (None for another host: cannot tell)."""
    folder = ws / WORKERS_DIR
    out = []
    host = socket.gethostname()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        info = read_json(path)
        if not isinstance(info, dict) or "pid" not in info:
            continue
        if info.get("host") == host:
            info["alive"] = procs.is_running(info["pid"], info.get("start_time"))
        else:
            info["alive"] = None
        out.append(info)
    return out


def live_workers(ws: Path) -> list[dict[str, Any]]:
    return [w for w in workers(ws) if w["alive"]]
