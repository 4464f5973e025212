# SPDX-License-Identifier: Apache-2.0
"""Build a TensorRT engine from an `EnginePlan` (needs the tensorrt package and a CUDA GPU).

gen_trt_engine passes in the tensorrt module once `require_tensorrt()` succeeded, so importing this
module needs no TensorRT. Device buffers for INT8 calibration are torch CUDA tensors, so no pycuda /
cuda-python dependency is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tao_ocrnet.atomic import staged, write_bytes_atomic
from tao_ocrnet.deploy.calibration import read_cache
from tao_ocrnet.deploy.trt_engine import EnginePlan
from tao_ocrnet.errors import ModelFileError
from tao_ocrnet.runtime.sidecar import INPUT_NAME

log = logging.getLogger(__name__)


def _calibrator(trt: Any, batches: Iterator[np.ndarray] | None, batch_size: int, cache: Path) -> Any:
    """An IInt8EntropyCalibrator2 reading our batches; the cache is written atomically."""

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            super().__init__()
            self.device_batch: torch.Tensor | None = None

        def get_batch_size(self) -> int:
            return batch_size

        def get_batch(self, names: list[str]) -> list[int] | None:
            batch = next(batches, None) if batches is not None else None
            if batch is None:
                return None
            self.device_batch = torch.from_numpy(batch).cuda().contiguous()
            return [int(self.device_batch.data_ptr())]

        def read_calibration_cache(self) -> bytes | None:
            return read_cache(cache)

        def write_calibration_cache(self, data: Any) -> None:
            write_bytes_atomic(cache, bytes(data))
            log.info("INT8 calibration cache written to %s", cache)

    return Calibrator()


def _set_layer_precisions(trt: Any, network: Any, config: Any, wanted: list[tuple[str, str]]) -> None:
    types = {"fp32": trt.float32, "fp16": trt.float16, "int8": trt.int8}
    layers = {network.get_layer(i).name: network.get_layer(i) for i in range(network.num_layers)}
    unknown = [name for name, _ in wanted if name not in layers]
    if unknown:
        raise ModelFileError(
            f"`gen_trt_engine.tensorrt.layers_precision` names layers not in the network: {unknown[:5]}"
        )
    for name, precision in wanted:
        layers[name].precision = types[precision]
    config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)


def build_engine(trt: Any, plan: EnginePlan, chw: tuple[int, int, int], batches: Iterator[np.ndarray] | None) -> Path:
    """Parse, configure, build and write `plan.engine_file` atomically; update the timing cache."""
    logger = trt.Logger(trt.Logger.VERBOSE if plan.verbose else trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # implicit batch is gone in TRT 10
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(plan.onnx_file.read_bytes()):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ModelFileError(f"`gen_trt_engine.onnx_file`: TensorRT cannot parse {plan.onnx_file}: {errors[:3]}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, plan.workspace_bytes)
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, *plan.profile.shapes(chw))
    config.add_optimization_profile(profile)
    if plan.data_type in ("FP16", "INT8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if plan.data_type == "INT8":
        config.set_flag(trt.BuilderFlag.INT8)
        if plan.cache_file is not None:  # implicit quantization (not a Q/DQ network)
            cal_batch = plan.calibration.batch_size if plan.calibration is not None else plan.profile.opt
            config.int8_calibrator = _calibrator(trt, batches, cal_batch, plan.cache_file)
            config.set_calibration_profile(profile)
    if plan.layers_precision:
        _set_layer_precisions(trt, network, config, plan.layers_precision)
    timing = None
    if plan.timing_cache is not None:
        timing = config.create_timing_cache(read_cache(plan.timing_cache) or b"")
        config.set_timing_cache(timing, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelFileError("TensorRT could not build the engine; rerun with gen_trt_engine.verbose=true for details")
    plan.engine_file.parent.mkdir(parents=True, exist_ok=True)
    with staged(plan.engine_file) as tmp:
        tmp.write_bytes(bytes(serialized))
    if timing is not None and plan.timing_cache is not None:
        write_bytes_atomic(plan.timing_cache, bytes(config.get_timing_cache().serialize()))
    return plan.engine_file
