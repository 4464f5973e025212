# SPDX-License-Identifier: Apache-2.0
"""Shorthand override names (`learning_rate=0.1`) that skill_info declares as spec_shorthand_keys."""

from __future__ import annotations

TRAIN_SHORTHAND: dict[str, str] = {
    "num_epochs": "train.num_epochs",
    "batch_size": "dataset.batch_size",
    "learning_rate": "train.optim.lr",
    "workers": "dataset.workers",
    "resume_checkpoint": "train.resume_training_checkpoint_path",
    "pretrained_model": "train.pretrained_model_path",
    "character_list": "dataset.character_list_file",
    "input_width": "model.input_width",
    "input_height": "model.input_height",
    "input_channel": "model.input_channel",
    "pruned_graph_path": "model.pruned_graph_path",
    "pruned_file": "prune.pruned_file",
    "quant_backend": "quantize.backend",
    "quant_model_path": "quantize.model_path",
    "calibration_images": "dataset.quant_calibration_dataset.images_dir",
}

DEPLOY_SHORTHAND: dict[str, str] = {
    "trt_data_type": "gen_trt_engine.tensorrt.data_type",
    "trt_engine": "gen_trt_engine.trt_engine",
    "batch_size": "evaluate.batch_size",
    "character_list": "dataset.character_list_file",
    "input_width": "model.input_width",
    "input_height": "model.input_height",
    "input_channel": "model.input_channel",
    "cal_batch_size": "gen_trt_engine.tensorrt.calibration.cal_batch_size",
    "cal_batches": "gen_trt_engine.tensorrt.calibration.cal_batches",
    "trt_min_batch_size": "gen_trt_engine.tensorrt.min_batch_size",
    "trt_opt_batch_size": "gen_trt_engine.tensorrt.opt_batch_size",
    "trt_max_batch_size": "gen_trt_engine.tensorrt.max_batch_size",
}


def shorthand_for(deploy: bool) -> dict[str, str]:
    return DEPLOY_SHORTHAND if deploy else TRAIN_SHORTHAND
