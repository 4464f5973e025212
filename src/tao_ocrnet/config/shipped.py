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
# The spec keys whose loader takes a short name (`model.checkpoint.resolve_model_path`); the other model keys
# need a file of their own kind (a resume checkpoint, a pruned model, an ONNX file or an engine).
SHIPPED_MODEL_KEYS = frozenset({
    "train.pretrained_model_path", "evaluate.checkpoint", "inference.checkpoint", "export.checkpoint",
    "prune.checkpoint", "quantize.model_path",
})  # fmt: skip


def is_shipped_name(value: object) -> bool:
    return isinstance(value, str) and value.strip() in SHIPPED_MODELS


def names_shipped_model(value: object, folder: Path | None = None) -> bool:
    """Whether `value`, read as a relative path from `folder` (default: the working directory), means a shipped
    model: its short name, with nothing of that name there.

    The one rule, used by `model.checkpoint.resolve_model_path` and the jobs layer; it loads no torch.
    """
    if not is_shipped_name(value):
        return False
    path = Path(str(value)).expanduser()
    return not (path if folder is None else folder / path).exists()


def shipped_model_file(name: str) -> Path:
    """The packaged file of shipped model `name` (it may be absent from a broken installation)."""
    return Path(str(resources.files("tao_ocrnet") / "assets" / SHIPPED_MODELS[name.strip()]))


def shipped_model_facts(name: str = DEFAULT_MODEL) -> dict[str, Any]:
    """The facts recorded when the model was packaged (recipes/ship_model.py): the model card's source."""
    path = shipped_model_file(name).with_suffix(".json")
    return json.loads(path.read_text(encoding="utf-8"))
