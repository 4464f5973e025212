# SPDX-License-Identifier: Apache-2.0
"""Spec templates: each action's full default spec (== its TAO schema `default`) and the shared deploy spec."""

from __future__ import annotations

import copy
import difflib
from functools import cache
from typing import Any

from tao_ocrnet.config.actions import ACTIONS, DEPLOY_ACTIONS, SCHEMA_ACTIONS
from tao_ocrnet.config.fields import MISSING
from tao_ocrnet.config.render import YAML_MARKER, dump_yaml
from tao_ocrnet.config.spec import ExperimentSpec
from tao_ocrnet.errors import UserError

DEPLOY_TEMPLATE_NAME = "deploy_experiment"

# Paths in skill_info (spec_templates, manifest) are relative to the skill root, the folder holding
# SKILL.md: the same string then works beside SKILL.md in this repo and in the packaged bank layout.
REFERENCES = "references"


def template_path(name: str) -> str:
    """Where the skill keeps the template `name` (an action, or DEPLOY_TEMPLATE_NAME)."""
    return f"{REFERENCES}/spec_template_{name}.yaml"


DEPLOY_TEMPLATE = template_path(DEPLOY_TEMPLATE_NAME)

# The one spec shared by gen_trt_engine, TensorRT evaluate and TensorRT inference: section -> the keys
# kept (None = the whole section). Values always come from the spec models.
DEPLOY_LAYOUT: dict[str, tuple[str, ...] | None] = {
    "results_dir": None,
    "encryption_key": None,
    "model": None,
    "dataset": ("character_list_file", "max_label_length"),
    "evaluate": ("trt_engine", "test_dataset_dir", "test_dataset_gt_file", "batch_size", "input_width",
                 "input_height", "results_dir"),
    "inference": ("trt_engine", "inference_dataset_dir", "batch_size", "input_width", "input_height", "results_dir"),
    "gen_trt_engine": None,
}  # fmt: skip

# Keys a deploy action cannot run without: shown as ??? in the shared template.
DEPLOY_REQUIRED = tuple(
    sorted({key for info in (*DEPLOY_ACTIONS.values(), ACTIONS["gen_trt_engine"]) for key in info.required})
)


@cache
def _defaults() -> dict[str, Any]:
    return ExperimentSpec().model_dump(mode="json")


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        tree = tree[part]
    tree[last] = value


def deploy_template_dict() -> dict[str, Any]:
    defaults = _defaults()
    out: dict[str, Any] = {}
    for section, keys in DEPLOY_LAYOUT.items():
        value = defaults[section]
        out[section] = value if keys is None else {k: value[k] for k in keys}
    for key in DEPLOY_REQUIRED:
        _set(out, key, MISSING)
    return out


def template_names() -> tuple[str, ...]:
    return (*SCHEMA_ACTIONS, DEPLOY_TEMPLATE_NAME, *DEPLOY_ACTIONS)


def template_dict(action: str) -> dict[str, Any]:
    """The spec template for an action: its sections with every default; `???` = set before running."""
    if action in ACTIONS:
        defaults = _defaults()
        # A deep copy: callers edit templates, and the cached defaults must stay the defaults.
        return copy.deepcopy({section: defaults[section] for section in ACTIONS[action].sections})
    if action == DEPLOY_TEMPLATE_NAME or action in DEPLOY_ACTIONS:
        return deploy_template_dict()
    close = difflib.get_close_matches(action, template_names(), n=1)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    raise UserError(f"no spec template for `{action}`; choose one of: {', '.join(template_names())}.{hint}")


def template_yaml(action: str, *, generated: bool = False) -> str:
    """The template as YAML (what `ocrnet spec show ACTION` prints; `generated` adds the do-not-edit marker)."""
    data = template_dict(action)
    name = DEPLOY_TEMPLATE_NAME if action in DEPLOY_ACTIONS else action
    header = (
        f"OCRNet {name} spec template (`ocrnet spec show {name}`).",
        "??? marks a value to set before running; a spec may hold only the keys it changes.",
    )
    text = dump_yaml(data, header=header)
    return f"{YAML_MARKER}\n{text}" if generated else text
