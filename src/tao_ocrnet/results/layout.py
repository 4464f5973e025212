# SPDX-License-Identifier: Apache-2.0
"""Where an action writes: TAO's results_dir rule, for a validated spec and for a plain spec tree (jobs).

`<section>.results_dir` if set, else `<results_dir>/<section>`, where the section is the action's own in the
action table (retrain writes under train/, the deploy evaluate/inference under evaluate/ and inference/).
dataset_convert writes its LMDB into `dataset_convert.results_dir`, else `<results_dir>/dataset_convert/lmdb`,
as the reference does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tao_ocrnet.config.actions import ALL_ACTIONS
from tao_ocrnet.errors import SpecError

if TYPE_CHECKING:  # the spec models load pydantic; the plain-tree rule here needs none
    from tao_ocrnet.config.spec import ExperimentSpec


def task_section(action: str) -> str:
    """The spec section whose results_dir the action uses."""
    info = ALL_ACTIONS.get(action)
    return info.section if info is not None and info.section else action


def get_dotted(tree: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def _task_dir(action: str, own: Any, root: Any) -> Path | None:
    if own:
        return Path(own).expanduser()
    if not root:
        return None
    root_dir = Path(root).expanduser()
    return root_dir / "dataset_convert" / "lmdb" if action == "dataset_convert" else root_dir / task_section(action)


def task_dir(tree: Mapping[str, Any], action: str) -> Path | None:
    """The action's results folder in a plain spec tree, or None when the tree sets no results_dir."""
    return _task_dir(action, get_dotted(tree, f"{task_section(action)}.results_dir"), tree.get("results_dir"))


def resolve_results_dir(spec: ExperimentSpec, action: str) -> Path:
    """The action's results folder for a validated spec; a clear error when unset."""
    section = task_section(action)
    found = _task_dir(action, getattr(getattr(spec, section, None), "results_dir", ""), spec.results_dir)
    if found is None:
        raise SpecError(
            [f"`results_dir` (or `{section}.results_dir`) is required for {action}; set results_dir=/path/to/results"]
        )
    return found
