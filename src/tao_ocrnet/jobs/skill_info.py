# SPDX-License-Identifier: Apache-2.0
"""The skill's machine metadata as code: the single source of `skill_info.yaml` and the deploy file.

Everything here is data a consumer acts on (commands, inputs, data sources, parent-model mappings);
spec facts (keys, defaults, enums) come from `tao_ocrnet.config`, never from this module.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tao_ocrnet.config.actions import ACTIONS, NETWORK_ARCH, SCHEMA_ACTIONS
from tao_ocrnet.config.introspect import leaf_index
from tao_ocrnet.config.shorthand import DEPLOY_SHORTHAND, TRAIN_SHORTHAND
from tao_ocrnet.config.templates import DEPLOY_TEMPLATE, template_path
from tao_ocrnet.datasources.rules import EXTRACTION, SOURCE_FALLBACKS, Rule, rules_to_yaml
from tao_ocrnet.results.status import STATUS_NAME

SKILL_NAME = "tao-train-ocrnet"
DEPLOY_NAME = "tao-deploy-ocrnet"
SKILL_VERSION = "0.1.0"
AUTHOR = "NVIDIA Corporation"
TAGS = ("text", "recognition")
DESCRIPTION = (
    "OCRNet scene text recognition: reads the text in cropped word images with a ResNet or FAN backbone, "
    "a BiLSTM and a CTC or attention decoder."
)


@dataclass(frozen=True)
class Image:
    """A pinned container image and the versions.yaml key `stamp_versions.py` checks it against."""

    literal: str
    versions_key: str

    @property
    def comment(self) -> str:
        return f"versions-key: {self.versions_key}"


PYT_IMAGE = Image("nvcr.io/nvidia/tao/tao-toolkit:7.1.0-pyt", "images.tao_toolkit.pyt")
DEPLOY_IMAGE = Image("nvcr.io/nvidia/tao/tao-toolkit:7.1.0-deploy", "images.tao_toolkit.deploy")
IMAGES = (PYT_IMAGE, DEPLOY_IMAGE)

# --- data sources -----------------------------------------------------------------------------

CHARS = Rule("eval_dataset", "character_list")
TRAIN_ARCHIVE = Rule("train_datasets", "train.tar.gz", extract=True)
EVAL_ARCHIVE = Rule("eval_dataset", "test.tar.gz", extract=True)

# dataset_convert runs once per split; `job:dataset_convert.<split>` in other rules names these.
CONVERT_SPLITS: dict[str, dict[str, Rule]] = {
    "train": {
        "dataset_convert.input_img_dir": TRAIN_ARCHIVE,
        "dataset_convert.gt_file": Rule("train_datasets", "train/gt_new.txt"),
    },
    "eval": {
        "dataset_convert.input_img_dir": EVAL_ARCHIVE,
        "dataset_convert.gt_file": Rule("eval_dataset", "test/gt_new.txt"),
    },
}

_TRAIN_DATA: dict[str, Rule] = {
    "dataset.train_dataset_dir": replace(TRAIN_ARCHIVE, is_list=True, lmdb_from="job:dataset_convert.train"),
    "dataset.train_gt_file": Rule("train_datasets", "train/gt_new.txt", raw_only=True),
    "dataset.val_dataset_dir": replace(EVAL_ARCHIVE, lmdb_from="job:dataset_convert.eval"),
    "dataset.val_gt_file": Rule("eval_dataset", "test/gt_new.txt", raw_only=True),
    "dataset.character_list_file": CHARS,
}

DATA_SOURCES: dict[str, dict[str, Rule]] = {
    "dataset_convert": CONVERT_SPLITS["train"],
    "train": dict(_TRAIN_DATA),
    "retrain": dict(_TRAIN_DATA),
    "evaluate": {
        "dataset.character_list_file": CHARS,
        "evaluate.test_dataset_dir": replace(EVAL_ARCHIVE, lmdb_from="job:dataset_convert.eval"),
        "evaluate.test_dataset_gt_file": Rule("eval_dataset", "test/gt_new.txt", raw_only=True),
    },
    "inference": {
        "dataset.character_list_file": CHARS,
        # A plain folder of word crops is an inference root too (the tool reads every image in a folder).
        "inference.inference_dataset_dir": Rule("inference_dataset", "test.tar.gz", extract=True, image_folder=True),
    },
    "export": {"dataset.character_list_file": CHARS},
    "prune": {"dataset.character_list_file": CHARS},
    "quantize": {
        **_TRAIN_DATA,
        "dataset.quant_calibration_dataset.images_dir": Rule("calibration_dataset", "train.tar.gz", extract=True),
    },
    "gen_trt_engine": {
        "dataset.character_list_file": CHARS,
        "gen_trt_engine.tensorrt.calibration.cal_image_dir": Rule(
            "calibration_dataset", "train.tar.gz", extract=True, is_list=True
        ),
    },
}

# TensorRT evaluate/inference read raw images only (no LMDB), so their rules carry no lmdb_from.
DEPLOY_DATA_SOURCES: dict[str, dict[str, Rule]] = {
    "gen_trt_engine": DATA_SOURCES["gen_trt_engine"],
    "evaluate": {
        "dataset.character_list_file": CHARS,
        "evaluate.test_dataset_dir": EVAL_ARCHIVE,
        "evaluate.test_dataset_gt_file": Rule("eval_dataset", "test/gt_new.txt"),
    },
    "inference": DATA_SOURCES["inference"],
}

DATA_SOURCE_LAYOUT: dict[str, Any] = {
    "roots": {
        "train_datasets": ["train.tar.gz", "train/gt_new.txt"],
        "eval_dataset": ["test.tar.gz", "test/gt_new.txt", "character_list"],
        "calibration_dataset": ["train.tar.gz"],
        "inference_dataset": ["test.tar.gz"],
    },
    "fallbacks": {k: list(v) for k, v in SOURCE_FALLBACKS.items() if v},
    "extraction": EXTRACTION,
}

# --- spec_params (parent-model and output inference) -------------------------------------------

SPEC_PARAM_FUNCTIONS: dict[str, str] = {
    "output_dir": "this job's results folder",
    "key": "the encryption key (a secret: never log it)",
    "parent_model": "from the parent's results: `best_accuracy.pth`, or the exact epoch file when one was "
    "asked for, else an error (never the newest); the `.onnx` after export; the engine after gen_trt_engine",
    "pruned_model": "the pruned `.pth` of the parent prune job",
    "ptm_if_no_resume_model": "the pretrained model, only when there is nothing to resume",
    "resume_model": "the latest checkpoint in this job's own results (resume only)",
    "create_onnx_file": "a new output path in this job's results",
    "create_pth_file": "a new output path in this job's results",
    "create_engine_file": "a new output path in this job's results",
    "create_cal_cache": "a new output path in this job's results",
}

_COMMON_PARAMS = {"encryption_key": "key", "results_dir": "output_dir"}

SPEC_PARAMS: dict[str, dict[str, str]] = {
    "dataset_convert": {**_COMMON_PARAMS, "dataset_convert.results_dir": "output_dir"},
    "train": {
        **_COMMON_PARAMS,
        "train.pretrained_model_path": "ptm_if_no_resume_model",
        "train.resume_training_checkpoint_path": "resume_model",
    },
    "retrain": {
        **_COMMON_PARAMS,
        "model.pruned_graph_path": "pruned_model",
        "train.resume_training_checkpoint_path": "resume_model",
    },
    "evaluate": {**_COMMON_PARAMS, "evaluate.checkpoint": "parent_model"},
    "inference": {**_COMMON_PARAMS, "inference.checkpoint": "parent_model"},
    "export": {**_COMMON_PARAMS, "export.checkpoint": "parent_model", "export.onnx_file": "create_onnx_file"},
    "prune": {**_COMMON_PARAMS, "prune.checkpoint": "parent_model", "prune.pruned_file": "create_pth_file"},
    "quantize": {**_COMMON_PARAMS, "quantize.model_path": "parent_model"},
    "gen_trt_engine": {
        **_COMMON_PARAMS,
        "gen_trt_engine.results_dir": "output_dir",
        "gen_trt_engine.onnx_file": "parent_model",
        "gen_trt_engine.trt_engine": "create_engine_file",
        "gen_trt_engine.tensorrt.calibration.cal_cache_file": "create_cal_cache",
    },
}

DEPLOY_SPEC_PARAMS: dict[str, dict[str, str]] = {
    "gen_trt_engine": SPEC_PARAMS["gen_trt_engine"],
    "evaluate": {**_COMMON_PARAMS, "evaluate.trt_engine": "parent_model"},
    "inference": {**_COMMON_PARAMS, "inference.trt_engine": "parent_model"},
}

# The parent job each parent-model mapping reads from (SKILL.md wording).
PARENT_JOB: dict[str, str] = {
    "evaluate.checkpoint": "train/AutoML job",
    "inference.checkpoint": "train/AutoML job",
    "export.checkpoint": "train/AutoML job",
    "prune.checkpoint": "train/AutoML job",
    "quantize.model_path": "train/AutoML job",
    "model.pruned_graph_path": "prune job",
    "gen_trt_engine.onnx_file": "export job",
    "evaluate.trt_engine": "gen_trt_engine job",
    "inference.trt_engine": "gen_trt_engine job",
}

# --- actions ----------------------------------------------------------------------------------


def _io(kind: str, optional: bool = False) -> dict[str, Any]:
    return {"type": kind, "optional": True} if optional else {"type": kind}


_CHAR = {"dataset.character_list_file": _io("file")}
_TRAIN_INPUTS = {
    "dataset.train_dataset_dir": _io("folder"),
    "dataset.train_gt_file": _io("file", True),
    "dataset.val_dataset_dir": _io("folder"),
    "dataset.val_gt_file": _io("file", True),
    **_CHAR,
}

TRAIN_METRICS: dict[str, Any] = {
    "metric": "val_acc",
    "metric_direction": "maximize",
    "metric_file": STATUS_NAME,
    "metric_scale": "fraction",
    "eval_metric": "test_acc",
    "eval_metric_scale": "percent",
    "progress_alias": "val_acc_1",
}
EVAL_METRICS: dict[str, Any] = {
    "metric": "test_acc",
    "metric_direction": "maximize",
    "metric_file": STATUS_NAME,
    "metric_scale": "percent",
}

ACTION_INPUTS: dict[str, dict[str, dict[str, Any]]] = {
    "dataset_convert": {"dataset_convert.input_img_dir": _io("folder"), "dataset_convert.gt_file": _io("file")},
    "train": {
        **_TRAIN_INPUTS,
        "train.pretrained_model_path": _io("file", True),
        "train.resume_training_checkpoint_path": _io("file", True),
    },
    "retrain": {
        **_TRAIN_INPUTS,
        "model.pruned_graph_path": _io("file"),
        "train.resume_training_checkpoint_path": _io("file", True),
    },
    "evaluate": {
        **_CHAR,
        "evaluate.test_dataset_dir": _io("folder"),
        "evaluate.test_dataset_gt_file": _io("file", True),
        "evaluate.checkpoint": _io("file"),
    },
    "inference": {**_CHAR, "inference.inference_dataset_dir": _io("folder"), "inference.checkpoint": _io("file")},
    "export": {**_CHAR, "export.checkpoint": _io("file")},
    "prune": {**_CHAR, "prune.checkpoint": _io("file")},
    # Our quantize reads the charset from the checkpoint and calibrates only for static PTQ, so the data
    # inputs are optional here (the reference required them).
    "quantize": {
        **{key: {**value, "optional": True} for key, value in _TRAIN_INPUTS.items()},
        "dataset.quant_calibration_dataset.images_dir": _io("folder", True),
        "quantize.model_path": _io("file"),
    },
    "gen_trt_engine": {
        "gen_trt_engine.onnx_file": _io("file"),
        **_CHAR,
        "gen_trt_engine.tensorrt.calibration.cal_image_dir": _io("folder", True),
    },
}

DEPLOY_INPUTS: dict[str, dict[str, dict[str, Any]]] = {
    "gen_trt_engine": ACTION_INPUTS["gen_trt_engine"],
    "evaluate": {
        "evaluate.trt_engine": _io("file"),
        "evaluate.test_dataset_dir": _io("folder"),
        "evaluate.test_dataset_gt_file": _io("file", True),
        **_CHAR,
    },
    "inference": {"inference.trt_engine": _io("file"), "inference.inference_dataset_dir": _io("folder"), **_CHAR},
}

_EXTRA_OUTPUTS: dict[str, dict[str, dict[str, Any]]] = {
    "export": {"export.onnx_file": _io("file")},
    "prune": {"prune.pruned_file": _io("file")},
    "gen_trt_engine": {
        "gen_trt_engine.trt_engine": _io("file"),
        "gen_trt_engine.tensorrt.calibration.cal_cache_file": _io("file"),
    },
}

# The TensorRT results.json keeps the reference's key name and 0-1 scale: skill-bank consumers read them.
DEPLOY_EVAL_METRICS: dict[str, Any] = {
    "metric": "Accuracy",
    "metric_direction": "maximize",
    "metric_file": "results.json",
    "metric_scale": "fraction",
}

DEPLOY_COMMANDS = {
    "gen_trt_engine": "ocrnet gen_trt_engine -e {config_path}",
    "evaluate": "ocrnet deploy evaluate -e {config_path}",
    "inference": "ocrnet deploy inference -e {config_path}",
}

GEN_TRT_BLOCKED = "TensorRT engine build on the deploy image; nothing to tune"


def command(action: str) -> str:
    # There is no retrain CLI: retrain is train with model.pruned_graph_path set.
    return f"ocrnet {'train' if action == 'retrain' else action} -e {{config_path}}"


def _action_entry(
    cmd: str, inputs: dict[str, Any], outputs: dict[str, Any], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "command": cmd,
        "config_format": "yaml",
        "mode": "config",
        "inputs": inputs,
        "outputs": {"results_dir": _io("folder"), **outputs},
        "upload_excludes": ["inputs/"],
    }
    entry.update(extra or {})
    return entry


def action_entries() -> dict[str, dict[str, Any]]:
    """skill_info `actions`: every schema'd action once (gen_trt_engine too, on the deploy image)."""
    out: dict[str, dict[str, Any]] = {}
    for action in SCHEMA_ACTIONS:
        extra: dict[str, Any] = {}
        if action in ("train", "retrain"):
            extra = dict(TRAIN_METRICS)
        elif action == "evaluate":
            extra = dict(EVAL_METRICS)
        elif action == "gen_trt_engine":
            extra = {"container_image": DEPLOY_IMAGE.literal, "automl_blocked_reason": GEN_TRT_BLOCKED}
        out[action] = _action_entry(command(action), ACTION_INPUTS[action], _EXTRA_OUTPUTS.get(action, {}), extra)
    return out


def deploy_action_entries() -> dict[str, dict[str, Any]]:
    return {
        action: _action_entry(
            DEPLOY_COMMANDS[action],
            DEPLOY_INPUTS[action],
            _EXTRA_OUTPUTS.get(action, {}),
            DEPLOY_EVAL_METRICS if action == "evaluate" else None,
        )
        for action in DEPLOY_COMMANDS
    }


def skill_info() -> dict[str, Any]:
    """The content of `skill_info.yaml` (references/skill_info.yaml in the bank layout)."""
    return {
        "name": SKILL_NAME,
        "network_arch": NETWORK_ARCH,
        "automl_enabled": any(info.automl for info in ACTIONS.values()),
        "container_image": PYT_IMAGE.literal,
        "data_format": "default",
        "gpu_spec_key": "train.num_gpus",
        "actions": action_entries(),
        "data_sources": rules_to_yaml(DATA_SOURCES),
        "dataset_convert_splits": rules_to_yaml(CONVERT_SPLITS),
        "data_source_layout": DATA_SOURCE_LAYOUT,
        "spec_params": SPEC_PARAMS,
        "key_defaults": {},
        "spec_shorthand_keys": dict(TRAIN_SHORTHAND),
        "spec_templates": {action: template_path(action) for action in SCHEMA_ACTIONS},
        "description": DESCRIPTION,
    }


DEPLOY_DESCRIPTION = "OCRNet on TensorRT: build an engine from the exported ONNX file, then evaluate or run it."


def deploy_notes() -> list[str]:
    idx = leaf_index()
    cal = idx["gen_trt_engine.tensorrt.calibration"]
    return [
        "One spec (references/spec_template_deploy_experiment.yaml) serves gen_trt_engine, evaluate and inference.",
        "Use FP16 for the starter engine (gen_trt_engine.tensorrt.data_type: FP16; any case is accepted).",
        "Keep model.input_width, model.input_height, model.input_channel and dataset.character_list_file "
        "the same as in train and export.",
        f"gen_trt_engine.tensorrt.calibration.cal_image_dir is always a list of folders "
        f"(default {cal.default['cal_image_dir']!r}).",
        "TensorRT evaluate and inference read raw images with a gt file, not the LMDB from dataset_convert.",
        "Without a GPU, point evaluate.trt_engine / inference.trt_engine at the exported .onnx (with its .json "
        "sidecar): `ocrnet deploy evaluate|inference` then run it on ONNX Runtime with the same outputs.",
    ]


def deploy_skill_info() -> dict[str, Any]:
    """The content of `references/tao-deploy-ocrnet.skill_info.yaml`."""
    return {
        "name": DEPLOY_NAME,
        "type": "model",
        "network_arch": NETWORK_ARCH,
        "container_image": DEPLOY_IMAGE.literal,
        "data_format": "default",
        "actions": deploy_action_entries(),
        "data_sources": rules_to_yaml(DEPLOY_DATA_SOURCES),
        "data_source_layout": DATA_SOURCE_LAYOUT,
        "spec_params": DEPLOY_SPEC_PARAMS,
        "spec_shorthand_keys": dict(DEPLOY_SHORTHAND),
        "spec_templates": dict.fromkeys(DEPLOY_COMMANDS, DEPLOY_TEMPLATE),
        "notes": deploy_notes(),
        "description": DEPLOY_DESCRIPTION,
    }


def image_comments() -> dict[str, str]:
    """Image literal -> its `versions-key` comment, for the YAML renderer."""
    return {image.literal: image.comment for image in IMAGES}
