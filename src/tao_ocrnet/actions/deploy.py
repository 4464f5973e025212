# SPDX-License-Identifier: Apache-2.0
"""`ocrnet deploy evaluate|inference`: run a TensorRT engine, or an ONNX file with ONNX Runtime.

The backend follows the file named by `evaluate.trt_engine` / `inference.trt_engine`: `.engine` /
`.plan` -> TensorRT (GPU), `.onnx` -> ONNX Runtime (any machine). Data reading, decoding and the
result files (`results.json`, `predictions.csv`, `inference.csv`, ...) are the PyTorch actions' own.
"""

from __future__ import annotations

import logging
from typing import Any

from tao_ocrnet.actions.common import RunContext, cli_main
from tao_ocrnet.actions.evaluate import score_labelled
from tao_ocrnet.actions.inference import read_folder
from tao_ocrnet.runtime.predictor import ONNX, TENSORRT, open_predictor

DEPLOYED = (ONNX, TENSORRT)

log = logging.getLogger(__name__)


def trt_evaluate(ctx: RunContext) -> dict[str, Any]:
    e = ctx.spec.evaluate
    backend = open_predictor(ctx.spec, e.trt_engine, "evaluate.trt_engine", "evaluate", accept=DEPLOYED)
    log.info("deploy evaluate: %s on %s", e.trt_engine, backend.runtime)
    result = score_labelled(
        ctx,
        backend.predictor,
        backend.arch,
        e.test_dataset_dir,
        e.test_dataset_gt_file,
        e.batch_size,
        "evaluate.test_dataset_dir",
        "evaluate.test_dataset_gt_file",
    )
    return {**result, "backend": backend.runtime}


def trt_inference(ctx: RunContext) -> dict[str, Any]:
    cfg = ctx.spec.inference
    backend = open_predictor(ctx.spec, cfg.trt_engine, "inference.trt_engine", "inference", accept=DEPLOYED)
    log.info("deploy inference: %s on %s", cfg.trt_engine, backend.runtime)
    key = "inference.inference_dataset_dir"
    result = read_folder(ctx, backend.predictor, backend.arch, cfg.inference_dataset_dir, cfg.batch_size, key)
    return {**result, "backend": backend.runtime}


evaluate_main = cli_main("trt_evaluate", trt_evaluate)
inference_main = cli_main("trt_inference", trt_inference)
