# SPDX-License-Identifier: Apache-2.0
"""The tiny CPU model that tests and benchmarks train: the one place its settings are written.

The smallest widths the network accepts, no loader processes and Adam, so that a training job finishes in
seconds on two cores. Benchmarks import this file too (`benchmarks/_common.py` puts `tests/` on the path).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

TINY_MODEL = {"feature_channel": 16, "hidden_size": 16}

# Dotted spec keys -> values: MCP `spec_overrides`, `JobRequest.overrides`, AutoML study overrides.
TINY_TRAIN: dict[str, Any] = {
    **{f"model.{key}": value for key, value in TINY_MODEL.items()},
    "dataset.batch_size": 16,
    "dataset.workers": 0,
    "train.num_gpus": 0,
    "train.optim.name": "adam",
    "train.optim.lr": 0.001,
    "wandb.enable": False,
}


def cli_words(values: Mapping[str, Any]) -> tuple[str, ...]:
    """The same values as `dotted.key=value` command-line words (JSON is valid YAML)."""
    return tuple(f"{key}={json.dumps(value)}" for key, value in values.items())
