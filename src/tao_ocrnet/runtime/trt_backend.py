# SPDX-License-Identifier: Apache-2.0
"""TensorRT runtime: a serialized engine as a Predictor (needs tensorrt and a CUDA GPU).

Every image is used (the reference dropped a short last batch): a last batch smaller than the profile minimum is padded
with copies of its last image and the padding rows are dropped from the outputs. Buffers are torch
CUDA tensors, so no pycuda is needed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tao_ocrnet.errors import DependencyError, ModelFileError
from tao_ocrnet.runtime.sidecar import INPUT_NAME, OUTPUT_NAMES, Sidecar

log = logging.getLogger(__name__)


def require_tensorrt() -> Any:
    """The tensorrt module, or DependencyError saying what is missing (package and/or GPU)."""
    try:
        import tensorrt as trt  # optional: pip install 'tao-ocrnet[tensorrt]'
    except ImportError:
        trt = None
    gpu = torch.cuda.is_available()
    if trt is None or not gpu:
        missing = [what for what, ok in (("the `tensorrt` package", trt is not None), ("an NVIDIA GPU", gpu)) if not ok]
        raise DependencyError(
            f"TensorRT needs {' and '.join(missing)}, which this machine does not have; build and run engines on "
            "a GPU machine (pip install 'tao-ocrnet[tensorrt]'), or run the .onnx file with ONNX Runtime "
            "(ocrnet deploy evaluate/inference with evaluate.trt_engine / inference.trt_engine = the .onnx)"
        )
    return trt


def _torch_dtype(trt: Any, dtype: Any) -> Any:
    return {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32}[dtype]


def trt_predictor(path: Path, key: str, sidecar: Sidecar):
    trt = require_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    engine = trt.Runtime(logger).deserialize_cuda_engine(path.read_bytes())
    if engine is None:
        raise ModelFileError(
            f"`{key}`: {path} is not a TensorRT engine for this TensorRT version and GPU; "
            "rebuild it with gen_trt_engine"
        )
    context = engine.create_execution_context()
    min_shape, _, max_shape = engine.get_tensor_profile_shape(INPUT_NAME, 0)
    lo, hi = int(min_shape[0]), int(max_shape[0])
    device = torch.device("cuda")
    stream = torch.cuda.Stream()

    def predict(images: Any) -> tuple[np.ndarray, np.ndarray]:
        batch = torch.as_tensor(np.asarray(images, dtype=np.float32))
        n = batch.shape[0]
        if n > hi:
            raise ModelFileError(f"`{key}`: a batch of {n} exceeds the engine profile (max {hi})")
        if n < lo:  # pad to the profile minimum with copies of the last image
            batch = torch.cat([batch, batch[-1:].expand(lo - n, *batch.shape[1:])], 0)
        feed = batch.to(device).contiguous()
        context.set_input_shape(INPUT_NAME, tuple(feed.shape))
        context.set_tensor_address(INPUT_NAME, feed.data_ptr())
        outputs = {}
        for name in OUTPUT_NAMES:
            shape = tuple(context.get_tensor_shape(name))
            outputs[name] = torch.empty(shape, dtype=_torch_dtype(trt, engine.get_tensor_dtype(name)), device=device)
            context.set_tensor_address(name, outputs[name].data_ptr())
        context.execute_async_v3(stream.cuda_stream)
        stream.synchronize()
        ids = outputs["output_id"][:n].cpu().numpy()
        probs = outputs["output_prob"][:n].float().cpu().numpy()
        return ids, probs

    log.info("TensorRT engine %s: profile batch %d..%d", path, lo, hi)
    return predict
