# SPDX-License-Identifier: Apache-2.0
"""The files a job folder holds and the runner writes (the runner script writes them with the stdlib only).

<job dir>/spec.yaml            the resolved spec (no secrets)
<job dir>/runner.py            the copy of the generated runner this job runs
<job dir>/launch.json          what the runner needs: job id, action, config path, key env name, task dir
<job dir>/job.log              the runner's lines and the command's output, streamed
<job dir>/.runner/exit.json    written once by the runner when the command ends (the durable exit record)
<job dir>/.runner/cancel       present once a cancel was requested
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SPEC_NAME = "spec.yaml"
RUNNER_NAME = "runner.py"
LAUNCH_NAME = "launch.json"
LOG_NAME = "job.log"
STATE_DIR = ".runner"
EXIT_NAME = "exit.json"
CANCEL_NAME = "cancel"


def state_dir(job_dir: Path) -> Path:
    return job_dir / STATE_DIR


def read_exit(job_dir: Path) -> dict[str, Any] | None:
    """The runner's exit record, or None while the command runs (or if the runner died before writing it)."""
    try:
        return json.loads((state_dir(job_dir) / EXIT_NAME).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def cancel_requested(job_dir: Path) -> bool:
    return (state_dir(job_dir) / CANCEL_NAME).exists()


def request_cancel(job_dir: Path) -> None:
    folder = state_dir(job_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CANCEL_NAME).touch()


def write_launch(job_dir: Path, launch: dict[str, Any]) -> Path:
    path = job_dir / LAUNCH_NAME
    path.write_text(json.dumps(launch, indent=1) + "\n", encoding="utf-8")
    return path
