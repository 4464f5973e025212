# SPDX-License-Identifier: Apache-2.0
"""Which spec sections and run-time requirements belong to each action."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from tao_ocrnet.errors import UserError

T = TypeVar("T")

NETWORK_ARCH = "ocrnet"  # the network's name in TAO (schemas, skill_info, job ids)

# Sections every action schema carries (the TAO generator keeps train and quantize everywhere).
COMMON_SECTIONS = ("model_name", "encryption_key", "results_dir", "wandb", "model", "dataset", "train", "quantize")


@dataclass(frozen=True)
class ActionInfo:
    name: str
    section: str | None  # the action's own spec section, if any
    required: tuple[str, ...]  # dotted keys that must be set (non-empty, not "???") to run
    automl: bool = False  # AutoML applies (train-like actions)
    deploy: bool = False  # runs from an ONNX file / TensorRT engine

    @property
    def sections(self) -> tuple[str, ...]:
        if self.section is None or self.section in COMMON_SECTIONS:
            return COMMON_SECTIONS
        return (*COMMON_SECTIONS, self.section)


_TRAIN_DATA = ("dataset.train_dataset_dir", "dataset.val_dataset_dir", "dataset.character_list_file")

ACTIONS: dict[str, ActionInfo] = {
    a.name: a
    for a in (
        ActionInfo("dataset_convert", "dataset_convert", ("dataset_convert.input_img_dir", "dataset_convert.gt_file")),
        ActionInfo("train", "train", _TRAIN_DATA, automl=True),
        ActionInfo("retrain", "train", (*_TRAIN_DATA, "model.pruned_graph_path"), automl=True),
        ActionInfo("evaluate", "evaluate", ("evaluate.checkpoint", "evaluate.test_dataset_dir")),
        ActionInfo("inference", "inference", ("inference.inference_dataset_dir",)),  # no checkpoint: the shipped model
        ActionInfo("export", "export", ("export.checkpoint",)),
        ActionInfo("prune", "prune", ("prune.checkpoint",)),
        ActionInfo("quantize", "quantize", ("quantize.model_path",)),
        ActionInfo("gen_trt_engine", "gen_trt_engine", ("gen_trt_engine.onnx_file",), deploy=True),
    )
}

# The skill's deploy actions share one spec; they read the engine (or ONNX) from evaluate/inference.
DEPLOY_ACTIONS: dict[str, ActionInfo] = {
    "trt_evaluate": ActionInfo(
        "trt_evaluate", "evaluate", ("evaluate.trt_engine", "evaluate.test_dataset_dir"), deploy=True
    ),
    "trt_inference": ActionInfo(
        "trt_inference", "inference", ("inference.trt_engine", "inference.inference_dataset_dir"), deploy=True
    ),
}

ALL_ACTIONS: dict[str, ActionInfo] = {**ACTIONS, **DEPLOY_ACTIONS}

SCHEMA_ACTIONS = tuple(ACTIONS)  # one TAO-dialect schema per PyTorch action (+ gen_trt_engine)


def pick_action(table: Mapping[str, T], name: str) -> T:
    """`table[name]`, or a UserError listing the actions with the closest name as a hint."""
    try:
        return table[name]
    except KeyError:
        close = difflib.get_close_matches(name, table, n=1)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        raise UserError(f"unknown action `{name}`; choose one of: {', '.join(table)}.{hint}") from None


def action_info(name: str) -> ActionInfo:
    return pick_action(ALL_ACTIONS, name)
