# SPDX-License-Identifier: Apache-2.0
"""Quantized model files: rebuilding them on load, and a float copy for ONNX export.

A quantized `.pth` is our usual file (`format`, `arch`, `state_dict`) plus
`quantization = {"backend", "mode", "modules": {qualified name: dtype}}`. The state_dict holds the
backend's quantized tensors (torchao's int8 weight tensors load with `weights_only=True` once
torchao is imported). Loading builds the float network (pruned widths from the shapes),
re-applies the same per-module quantization, then loads the stored tensors in place, so the
result computes exactly what `quantize` produced.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.errors import DependencyError, ModelFileError
from tao_ocrnet.model.ocrnet import OCRNet, resize_to_state_dict

TORCHAO = "torchao"
MODELOPT_PYTORCH = "modelopt.pytorch"
TORCHAO_DTYPES = ("int8", "fp8_e4m3fn", "fp8_e5m2")


def import_torchao() -> Any:
    # Only quantized files need torchao, whose import takes seconds (and warns about its optional kernels).
    try:
        import torchao  # noqa: F401  (registers its tensor types as weights-only safe)
        import torchao.quantization as tq
    except ImportError as exc:
        raise DependencyError(f"this model file needs torchao (pip install torchao): {exc}") from None
    return tq


def torchao_config(dtype: str) -> Any:
    """The torchao weight-only config for a `quantize.layers` dtype."""
    tq = import_torchao()
    if dtype == "int8":
        return tq.Int8WeightOnlyConfig()
    if dtype in ("fp8_e4m3fn", "fp8_e5m2"):
        # torchao's float8 weight-only is e4m3 (as the reference: e5m2 falls back to e4m3).
        return tq.Float8WeightOnlyConfig()
    raise ValueError(f"unsupported torchao dtype {dtype!r}; use one of {', '.join(TORCHAO_DTYPES)}")


def apply_torchao(model: nn.Module, modules: Mapping[str, str]) -> None:
    """Quantize the named modules' weights in place, one config per dtype."""
    tq = import_torchao()
    for dtype in sorted(set(modules.values())):
        names = {n for n, d in modules.items() if d == dtype}
        tq.quantize_(model, torchao_config(dtype), filter_fn=lambda _m, fqn, names=names: fqn in names)


def is_quantized_tensor(value: Any) -> bool:
    return isinstance(value, Tensor) and type(value) not in (Tensor, nn.Parameter)


def quantized_modules(model: nn.Module) -> list[str]:
    """Names of modules whose weight is a quantized tensor subclass."""
    return [n for n, m in model.named_modules() if is_quantized_tensor(getattr(m, "weight", None))]


def import_modelopt() -> Any:
    try:
        import modelopt.torch.opt as mto
        import modelopt.torch.quantization as mtq
    except ImportError:
        raise DependencyError(
            "the modelopt backends need nvidia-modelopt (pip install nvidia-modelopt), which is not installed; "
            "use quantize.backend=torchao or onnxruntime on this machine"
        ) from None
    return mto, mtq


def rebuild_quantized(arch: ModelArch, state_dict: Mapping[str, Tensor], raw: Mapping[str, Any]) -> OCRNet:
    """The quantized network described by a file's `quantization` entry (`raw` is the whole file)."""
    info = raw["quantization"]
    backend = info.get("backend") if isinstance(info, Mapping) else None
    model = OCRNet(arch, init_weights=False)
    resize_to_state_dict(model, state_dict)
    try:
        if backend == TORCHAO:
            apply_torchao(model, dict(info.get("modules") or {}))
            # assign=True: keep the stored quantized tensors rather than copying into float storage.
            model.load_state_dict(dict(state_dict), strict=True, assign=True)
        elif backend == MODELOPT_PYTORCH:
            mto, _ = import_modelopt()
            mto.restore_from_modelopt_state(model, raw["modelopt_state"])
            model.load_state_dict(dict(state_dict), strict=True)
        else:
            raise ModelFileError(f"unknown quantization backend {backend!r} in the model file")
    except (RuntimeError, KeyError, ValueError) as exc:
        raise ModelFileError(f"the quantized weights do not fit the architecture: {exc}") from exc
    return model.eval()


def dequantized_copy(model: OCRNet) -> OCRNet:
    """A float copy (weights = dequantized values) for ONNX export: same numbers, plain tensors."""
    names = quantized_modules(model)
    if not names:
        return model
    clone = copy.deepcopy(model)
    for name in names:
        module = clone.get_submodule(name)
        quantized = module.weight
        assert isinstance(quantized, Tensor)  # quantized_modules named it for its tensor weight
        module.weight = nn.Parameter(quantized.dequantize().to(torch.float32), requires_grad=False)
    return clone
