# SPDX-License-Identifier: Apache-2.0
"""Runner shims: `runners/<action>.py` in the skill, and the `runner.py` copy in every job folder.

A shim holds one action's skill_info constants and calls `tao_ocrnet.jobs.runner.run`, which holds the logic.
The skill generator writes one shim per job action; `JobService` writes the action's shim into each job folder
and records the digests of the shim and of the runner module, so a job record says exactly what code ran.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tao_ocrnet.config.render import GENERATED_BY
from tao_ocrnet.config.templates import REFERENCES
from tao_ocrnet.jobs import runner, skill_info
from tao_ocrnet.jobs.catalog import DEPLOY_JOB_NAMES, JobAction, job_actions

RUNNER_DIR = "runners"

# The NVIDIA skill bank's pre-commit hook requires both SPDX lines in every script it ships.
_SHIM = '''#!/usr/bin/env python3
# SPDX-FileCopyrightText: Copyright (c) 2026 NVIDIA CORPORATION & AFFILIATES. All rights reserved.
# SPDX-License-Identifier: Apache-2.0
# {generated}
"""Runner for tao-ocrnet `{action}` jobs ({skill} {version}): python {action}.py JOB_DIR

Generated from {source} `actions.{entry}`.
Runs `{command}` on JOB_DIR/spec.yaml with `{module}`, which streams
the output into JOB_DIR/job.log, writes JOB_DIR/.runner/exit.json and records the exit in the job record.
"""

import sys

from {module} import run

{constants}
if __name__ == "__main__":
    sys.exit(run(sys.argv, action=ACTION, command=COMMAND, config_format=CONFIG_FORMAT, mode=MODE, metric=METRIC))
'''


def _literal(value: object) -> str:
    # JSON strings are Python string literals in the double-quoted style `ruff format` keeps.
    return "None" if value is None else json.dumps(value)


def _constants(action: JobAction) -> str:
    entry = action.entry
    values = {
        "ACTION": action.name,
        "COMMAND": entry["command"],
        "CONFIG_FORMAT": entry.get("config_format"),
        "MODE": entry.get("mode"),
        "METRIC": entry.get("metric"),
    }
    return "".join(f"{name} = {_literal(value)}\n" for name, value in values.items())


def render_runner(action: JobAction) -> str:
    deploy = action.skill_file == "deploy_skill_info"
    entry = next((name for name, job_name in DEPLOY_JOB_NAMES.items() if job_name == action.name), action.name)
    return _SHIM.format(
        generated=GENERATED_BY,
        action=action.name,
        skill=skill_info.DEPLOY_NAME if deploy else skill_info.SKILL_NAME,
        version=skill_info.SKILL_VERSION,
        source=f"{REFERENCES}/{skill_info.DEPLOY_NAME}.skill_info.yaml" if deploy else "skill_info.yaml",
        entry=entry,
        command=action.command,
        module=runner.__name__,
        constants=_constants(action),
    )


def runner_files() -> dict[str, str]:
    """The generator's `runners/<action>.py`, one per job action."""
    return {f"{RUNNER_DIR}/{name}.py": render_runner(action) for name, action in job_actions().items()}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def runner_record(action: JobAction, path: Path, text: str) -> dict[str, str]:
    """The job record's `runner` entry for the shim `text` written at `path`."""
    return {
        "path": str(path),
        "sha256": _sha256(text.encode()),
        "from": f"{action.skill_file} actions.{action.name}",
        "module": runner.__name__,
        "module_sha256": _sha256(Path(runner.__file__).read_bytes()),
    }
