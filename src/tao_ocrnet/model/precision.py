# SPDX-License-Identifier: Apache-2.0
"""What `train.precision` and `train.channels_last` mean on the hardware a training runs on.

Mixed precision keeps fp32 weights (Lightning's autocast plugins), so checkpoints, evaluation and ONNX export are
the same whatever the precision. bf16 pays only with bf16 instructions: without them (e.g. AVX2-only CPUs) PyTorch
emulates it, several times slower than fp32, so asking for it there is refused rather than silently slow.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from typing import TypeVar

import torch
from torch import nn

from tao_ocrnet.errors import UserError

KEY = "train.precision"
# spec value -> Lightning `Trainer(precision=...)`; "auto" resolves to one of the first two.
LIGHTNING_PRECISION = {"fp32": "32-true", "bf16": "bf16-mixed", "fp16": "16-mixed"}
M = TypeVar("M", bound=nn.Module)


def in_memory_format(module: M, channels_last: bool) -> M:
    """`module` with its 4-D tensors (convolution weights) in channels_last, or back in the usual layout."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    return module.to(memory_format=layout)  # type: ignore[call-overload]  # torch's stubs omit memory_format


def lightning_precision(requested: str, accelerator: str, bf16_capable: bool, hardware: str) -> str:
    """The Lightning precision for `requested` on `accelerator` ("cpu" or "gpu"), or a UserError naming the fix.

    Pure (the capability is an argument), so every refusal is testable on any machine. `hardware` names the
    device in the message.
    """
    if requested == "auto":
        return LIGHTNING_PRECISION["bf16" if bf16_capable else "fp32"]
    if requested not in LIGHTNING_PRECISION:
        raise UserError(f"`{KEY}` = {requested!r} is not one of fp32, bf16, fp16, auto; set {KEY}=fp32")
    if requested == "fp16" and accelerator != "gpu":
        raise UserError(
            f"`{KEY}` = fp16 needs a CUDA GPU (fp16 mixed precision is not supported on a CPU); on {hardware} set "
            f"{KEY}=auto (bf16 where the CPU has bf16 instructions, else fp32) or {KEY}=fp32"
        )
    if requested == "bf16" and not bf16_capable:
        raise UserError(
            f"`{KEY}` = bf16 needs bf16 instructions, which {hardware} lacks (bf16 would be emulated, several times "
            f"slower than fp32); set {KEY}=fp32, or {KEY}=auto to use bf16 only where the hardware has it"
        )
    return LIGHTNING_PRECISION[requested]


def cpu_has_bf16() -> bool:
    """Native bf16 on this CPU: AVX512-BF16 or AMX on x86, the BF16 extension on Arm (oneDNN's own check there)."""
    if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"):
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def gpus_have_bf16(gpus: Sequence[int]) -> bool:
    """Native bf16 on every listed CUDA device (emulation does not count: it is slower than fp16 or fp32)."""
    supported = []
    for index in gpus:
        with torch.cuda.device(index):
            supported.append(torch.cuda.is_bf16_supported(including_emulation=False))
    return all(supported)


def training_precision(requested: str, accelerator: str, devices: int | Sequence[int]) -> str:
    """`lightning_precision` for this machine's devices (`devices` as pl.Trainer takes them: a count or indices)."""
    if accelerator == "gpu":
        gpus = list(range(devices)) if isinstance(devices, int) else list(devices)
        names = sorted({torch.cuda.get_device_name(i) for i in gpus})
        return lightning_precision(requested, accelerator, gpus_have_bf16(gpus), f"this GPU ({', '.join(names)})")
    return lightning_precision(requested, accelerator, cpu_has_bf16(), f"this CPU ({cpu_name()})")


def cpu_name() -> str:
    """The CPU's model name (Linux), else the platform's words."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
