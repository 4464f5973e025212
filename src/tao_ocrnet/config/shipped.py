# SPDX-License-Identifier: Apache-2.0
"""Models shipped inside the package, addressed by a short name wherever a model file is expected.

`train.pretrained_model_path=ocrnet_cpu_small` (or any checkpoint key) loads the packaged weights,
so users start from a model that reads without downloading anything. A real file of the same name
in the working directory wins, so a short name never hides a user's file.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

# short name -> file under tao_ocrnet/assets (see references/pretrained_model_card.md)
SHIPPED_MODELS = {"ocrnet_cpu_small": "ocrnet_cpu_small.pth"}
DEFAULT_MODEL = "ocrnet_cpu_small"


def is_shipped_name(value: object) -> bool:
    return isinstance(value, str) and value.strip() in SHIPPED_MODELS


def shipped_model_file(name: str) -> Path:
    """The packaged file of shipped model `name` (it may be absent from a broken installation)."""
    return Path(str(resources.files("tao_ocrnet") / "assets" / SHIPPED_MODELS[name.strip()]))


def shipped_model_facts(name: str = DEFAULT_MODEL) -> dict[str, Any]:
    """The facts recorded when the model was packaged (recipes/ship_model.py): the model card's source."""
    path = shipped_model_file(name).with_suffix(".json")
    return json.loads(path.read_text(encoding="utf-8"))
