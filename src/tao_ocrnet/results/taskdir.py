# SPDX-License-Identifier: Apache-2.0
"""Where an action writes inside a job's results_dir: TAO's rule, on a plain spec tree (no pydantic).

Mirrors `tao_ocrnet.actions.common.resolve_results_dir` (a test keeps the two in step): `<task>.results_dir`
if set, else `<results_dir>/<task>`, and dataset_convert's `<results_dir>/dataset_convert/lmdb`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

TASK_SECTION = {"retrain": "train", "trt_evaluate": "evaluate", "trt_inference": "inference"}


def get_dotted(tree: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def task_dir(tree: Mapping[str, Any], action: str) -> Path | None:
    task = TASK_SECTION.get(action, action)
    own = get_dotted(tree, f"{task}.results_dir")
    if own:
        return Path(own).expanduser()
    root = tree.get("results_dir")
    if not root:
        return None
    return Path(root).expanduser() / "dataset_convert" / "lmdb" if action == "dataset_convert" else Path(root) / task
