# SPDX-License-Identifier: Apache-2.0
"""Post-training quantization backends.

* `torchao` (weight_only_ptq): int8 (or fp8 on capable GPUs) weight-only on the Linear layers;
  artifact `quantized_model_torchao.pth`, our weights-only model file with a `quantization` entry
  (see `model.quantized`), so evaluate, inference and export load it like any checkpoint.
* `onnxruntime` (static_ptq, CPU): export the float model (checked for parity), then ONNX
  Runtime's static quantizer writes a QDQ ONNX (`quantized_model.onnx` + sidecar) calibrated on
  `dataset.quant_calibration_dataset.images_dir`. Convs and MatMul/Gemm are quantized; LSTMs stay
  float. The deploy actions, evaluate/inference (an `.onnx` checkpoint runs in ONNX Runtime) and
  gen_trt_engine (a QDQ network) consume it.
* `modelopt.pytorch` / `modelopt.onnx`: NVIDIA ModelOpt, where nvidia-modelopt is installed.
"""

from __future__ import annotations

import copy
import fnmatch
import logging
import math
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from torch import nn

from tao_ocrnet.errors import SpecError
from tao_ocrnet.model.quantized import apply_torchao, import_modelopt

log = logging.getLogger(__name__)

TORCHAO_FILE = "quantized_model_torchao.pth"
ONNX_FILE = "quantized_model.onnx"
MODELOPT_PYTORCH_FILE = "quantized_model_modelopt.pytorch.pth"

MODES = {
    "torchao": "weight_only_ptq",
    "onnxruntime": "static_ptq",
    "modelopt.pytorch": "static_ptq",
    "modelopt.onnx": "static_ptq",
}
ORT_ALGORITHMS = {"minmax": "MinMax", "max": "MinMax", "entropy": "Entropy"}
ORT_KWARGS = {
    "calibration_batch_size": 16,
    "max_calibration_images": 256,
    "per_channel": True,
    "activation_type": "uint8",
    "op_types": ["Conv", "MatMul", "Gemm"],
}
CAL_KEY = "dataset.quant_calibration_dataset.images_dir"


def artifact_name(backend: str) -> str:
    if backend == "torchao":
        return TORCHAO_FILE
    if backend == "modelopt.pytorch":
        return MODELOPT_PYTORCH_FILE
    return ONNX_FILE


# ---------------------------------------------------------------------------- request checks
def request_problems(cfg: Any, calibration_dir: str, source_is_onnx: bool) -> list[str]:
    """Everything wrong with a `quantize` section for its backend, each naming the key and the fix."""
    problems: list[str] = []
    backend, mode = cfg.backend, cfg.mode
    if mode != MODES[backend]:
        problems.append(
            f"`quantize.mode` = {mode} is not what `quantize.backend` = {backend} does; set quantize.mode="
            f"{MODES[backend]} (weight-only: torchao; static with calibration: onnxruntime or modelopt.*)"
        )
    if MODES[backend] == "static_ptq" and not calibration_dir:
        problems.append(f"`{CAL_KEY}` is required for static quantization ({backend}); set it to a folder of images")
    if backend == "onnxruntime":
        if cfg.algorithm not in ORT_ALGORITHMS:
            problems.append(
                f"`quantize.algorithm` = {cfg.algorithm} is not available in ONNX Runtime; use one of "
                f"{', '.join(ORT_ALGORITHMS)}"
            )
        unknown = sorted(set(cfg.backend_kwargs) - set(ORT_KWARGS))
        if unknown:
            problems.append(f"`quantize.backend_kwargs` has unknown keys {unknown}; allowed: {', '.join(ORT_KWARGS)}")
    elif backend == "torchao" and cfg.backend_kwargs:
        problems.append("`quantize.backend_kwargs` is not used by torchao; remove it")
    if source_is_onnx and backend not in ("onnxruntime", "modelopt.onnx"):
        problems.append(
            f"`quantize.model_path` is an ONNX file, but {backend} quantizes PyTorch models; "
            "point it at the .pth checkpoint"
        )
    for i, rule in enumerate(cfg.layers):
        if not isinstance(rule, Mapping) or not rule.get("module_name"):
            problems.append(f"`quantize.layers[{i}]` needs a module_name (fnmatch pattern) and weights: {{dtype}}")
            continue
        dtype = _rule_dtype(rule)
        allowed = ("int8", "native") if backend == "onnxruntime" else ("int8", "fp8_e4m3fn", "fp8_e5m2", "native")
        if dtype not in allowed:
            problems.append(
                f"`quantize.layers[{i}].weights.dtype` = {dtype!r} is not supported by {backend}; use one of {allowed}"
            )
    return problems


def _rule_dtype(rule: Mapping[str, Any]) -> str:
    weights = rule.get("weights") or {}
    return str(weights.get("dtype", "int8")) if isinstance(weights, Mapping) else "int8"


def _matches(pattern: str, name: str, cls_name: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(cls_name, pattern)


def module_plan(
    named: Iterable[tuple[str, str]], layers: Sequence[Mapping[str, Any]], skip_names: Sequence[str]
) -> dict[str, str]:
    """{module name: dtype} for (name, class name) pairs: int8 by default, the first matching rule
    (qualified name, then class name; fnmatch) overrides, `native` and `skip_names` leave it float."""
    plan: dict[str, str] = {}
    for name, cls_name in named:
        if any(_matches(p, name, cls_name) for p in skip_names):
            continue
        dtype = next((_rule_dtype(r) for r in layers if _matches(str(r["module_name"]), name, cls_name)), "int8")
        if dtype != "native":
            plan[name] = dtype
    return plan


# ---------------------------------------------------------------------------- torchao
def quantize_torchao(model: nn.Module, cfg: Any, device: str) -> tuple[nn.Module, dict[str, Any]]:
    """Weight-only quantization of the Linear layers (in place). Returns (model, file `quantization` entry)."""
    linears = [(n, type(m).__name__) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    plan = module_plan(linears, cfg.layers, cfg.skip_names)
    if any(d.startswith("fp8") for d in plan.values()) and not device.startswith("cuda"):
        raise SpecError(
            [
                "`quantize.layers` asks for fp8 weights, which torchao computes only on CUDA GPUs with FP8 support; "
                "use dtype int8 on this machine"
            ]
        )
    if not plan:
        raise SpecError(["`quantize.layers` / `quantize.skip_names` leave no layer to quantize; relax them"])
    apply_torchao(model.to(device), plan)  # on the GPU when one is asked for and present
    log.info("torchao: %d Linear layer(s) quantized weight-only (%s)", len(plan), ", ".join(sorted(set(plan.values()))))
    return model, {"backend": "torchao", "mode": "weight_only_ptq", "modules": plan}


# ---------------------------------------------------------------------------- onnxruntime
class _Reader:
    """ONNX Runtime CalibrationDataReader over our calibration batches."""

    def __init__(self, batches: Iterator[np.ndarray]):
        self.batches = batches

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        return None if batch is None else {"input": batch}


def _node_module(node_name: str) -> str:
    """`/FeatureExtraction/ConvNet/conv0_1/Conv` -> `FeatureExtraction.ConvNet.conv0_1` (TorchScript naming)."""
    parts = [p for p in node_name.split("/") if p]
    return ".".join(parts[:-1])


def excluded_nodes(onnx_path: Path, op_types: Sequence[str], cfg: Any) -> list[str]:
    """Nodes whose module is skipped by `skip_names` or a `native` rule."""
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    named = [(n.name, _node_module(n.name), n.op_type) for n in graph.node if n.op_type in op_types]
    keep = module_plan([(module, op) for _, module, op in named], cfg.layers, cfg.skip_names)
    return [name for name, module, _ in named if module not in keep]


def quantize_onnxruntime(float_onnx: Path, out: Path, batches: Iterator[np.ndarray], cfg: Any) -> dict[str, Any]:
    """Static QDQ INT8 of `float_onnx` into `out` (a temporary path the caller publishes)."""
    kw = {**ORT_KWARGS, **cfg.backend_kwargs}
    op_types = list(kw["op_types"])
    with tempfile.TemporaryDirectory(prefix="ocrnet-quant-", dir=out.parent) as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(float_onnx), str(prepared), skip_symbolic_shape=True)
        excluded = excluded_nodes(prepared, op_types, cfg)
        quantize_static(
            str(prepared),
            str(out),
            _Reader(batches),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=op_types,
            nodes_to_exclude=excluded,
            per_channel=bool(kw["per_channel"]),
            activation_type=QuantType.QInt8 if kw["activation_type"] == "int8" else QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=getattr(CalibrationMethod, ORT_ALGORITHMS[cfg.algorithm]),
            extra_options={"ActivationSymmetric": kw["activation_type"] == "int8"},
        )
    return {
        "backend": "onnxruntime",
        "mode": "static_ptq",
        "format": "QDQ",
        "algorithm": cfg.algorithm,
        "op_types": op_types,
        "excluded_nodes": len(excluded),
    }


def calibration_counts(num_images: int, cfg: Any) -> tuple[int, int]:
    """(batch size, batches) covering min(num_images, max_calibration_images) images."""
    kw = {**ORT_KWARGS, **cfg.backend_kwargs}
    use = min(num_images, int(kw["max_calibration_images"]))
    batch = max(1, min(int(kw["calibration_batch_size"]), use))
    return batch, max(1, math.floor(use / batch))


# ---------------------------------------------------------------------------- modelopt
def quantize_modelopt_pytorch(
    model: nn.Module, cfg: Any, batches: Iterator[np.ndarray]
) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """ModelOpt INT8 PTQ (LSTMs left in float, as the reference). Returns (model, entry, extra file keys)."""
    mto, mtq = import_modelopt()
    config = copy.deepcopy(mtq.INT8_DEFAULT_CFG)
    config["quant_cfg"]["*rnn*"] = {"enable": False}
    config["algorithm"] = "max" if cfg.algorithm in ("minmax", "max") else cfg.algorithm
    arrays = list(batches)

    def forward_loop(m: nn.Module) -> None:
        with torch.no_grad():
            for batch in arrays:
                m(torch.from_numpy(batch))

    model = mtq.quantize(model.eval(), config, forward_loop)
    entry = {"backend": "modelopt.pytorch", "mode": "static_ptq", "algorithm": cfg.algorithm}
    return model, entry, {"modelopt_state": mto.modelopt_state(model)}


def quantize_modelopt_onnx(float_onnx: Path, out: Path, batches: Iterator[np.ndarray], cfg: Any) -> dict[str, Any]:
    import_modelopt()  # a clear error when it is missing
    from modelopt.onnx.quantization import quantize as modelopt_onnx_quantize  # optional: nvidia-modelopt

    data = np.concatenate(list(batches), 0)
    method = {"minmax": "max", "max": "max", "entropy": "entropy"}.get(cfg.algorithm, cfg.algorithm)
    modelopt_onnx_quantize(
        onnx_path=str(float_onnx),
        quantize_mode="int8",
        calibration_data=data,
        calibration_method=method,
        output_path=str(out),
    )
    return {"backend": "modelopt.onnx", "mode": "static_ptq", "format": "QDQ", "algorithm": cfg.algorithm}
