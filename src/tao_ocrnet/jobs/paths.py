# SPDX-License-Identifier: Apache-2.0
"""Where jobs live: `$OCRNET_HOME` (default `~/.ocrnet`) holds records, job folders and the data cache.

$OCRNET_HOME/jobs/<id>.json     the job record (outside every results tree)
$OCRNET_HOME/jobs/<id>/         the job folder: spec.yaml, runner.py, launch.json, job.log, .runner/
$OCRNET_HOME/cache/             downloaded objects and extracted archives (shared by jobs)
<results root>/<id>/            the job's results_dir; the root is $OCRNET_RESULTS_ROOT, else
                                $OCRNET_HOME/results
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "OCRNET_HOME"
RESULTS_ENV = "OCRNET_RESULTS_ROOT"
CACHE_ENV = "OCRNET_CACHE_DIR"
DEFAULT_HOME = "~/.ocrnet"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    # absolute() rather than resolve(): keep the user's symlinks in recorded paths.
    return Path(value).expanduser().absolute() if value else None


def home() -> Path:
    return _env_path(HOME_ENV) or Path(DEFAULT_HOME).expanduser().absolute()


def jobs_dir() -> Path:
    return home() / "jobs"


def results_root() -> Path:
    return _env_path(RESULTS_ENV) or home() / "results"


def cache_dir() -> Path:
    return _env_path(CACHE_ENV) or home() / "cache"
