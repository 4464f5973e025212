# SPDX-License-Identifier: Apache-2.0
"""`experiment.yaml`: the resolved spec an action ran with, saved beside its results with secrets masked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tao_ocrnet.config.introspect import leaf_index
from tao_ocrnet.config.spec import ExperimentSpec

EXPERIMENT_NAME = "experiment.yaml"
MASK = "*****"


def redacted_dump(spec: ExperimentSpec) -> dict[str, Any]:
    """The resolved spec as plain data with secrets (e.g. encryption_key) masked."""
    data: dict[str, Any] = spec.model_dump(mode="json")
    for dotted, node in leaf_index().items():
        if node.meta.get("secret"):
            parts = dotted.split(".")
            holder = data
            for p in parts[:-1]:
                holder = holder[p]
            if holder.get(parts[-1]):
                holder[parts[-1]] = MASK
    return data


def write_experiment_yaml(results_dir: Path, spec: ExperimentSpec) -> Path:
    path = results_dir / EXPERIMENT_NAME
    path.write_text(yaml.safe_dump(redacted_dump(spec), sort_keys=False), encoding="utf-8")
    return path
