# SPDX-License-Identifier: Apache-2.0
"""Where the generated skill lives: the project root (the folder holding tao-ocrnet's pyproject.toml).

The generator writes into the source tree, so it must find the checkout it was imported from. That works
for an editable install (CI) and a plain checkout; an installed wheel has no tree to write into, so the
`OCRNET_SKILL_ROOT` environment variable names one explicitly (tests point it at a temporary copy).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from tao_ocrnet.errors import UserError

ROOT_ENV = "OCRNET_SKILL_ROOT"
PROJECT_NAME = "tao-ocrnet"


def _is_project_root(folder: Path) -> bool:
    # Check the project name too: a virtualenv inside some other repository would otherwise find that
    # repository's pyproject.toml first.
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return False
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return data.get("project", {}).get("name") == PROJECT_NAME


def find_project_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above `start` (default: this package) holding tao-ocrnet's pyproject.toml."""
    here = (start or Path(__file__)).resolve()
    for folder in (here, *here.parents):
        if _is_project_root(folder):
            return folder
    return None


def skill_root() -> Path:
    """The folder the generated skill files belong to: `$OCRNET_SKILL_ROOT`, else the project root."""
    override = os.environ.get(ROOT_ENV, "").strip()
    if override:
        root = Path(override).expanduser()
        if not root.is_dir():
            raise UserError(f"{ROOT_ENV}={override} is not a folder")
        return root.resolve()
    project = find_project_root()
    if project is None:
        raise UserError(
            f"cannot find the tao-ocrnet source tree above {Path(__file__).parent}; run from an editable "
            f"install (pip install -e .) or set {ROOT_ENV} to the checkout"
        )
    return project
