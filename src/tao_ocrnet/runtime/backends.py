# SPDX-License-Identifier: Apache-2.0
"""Pick the runtime for a deployed model file: TensorRT for engines, ONNX Runtime for ONNX files.

Both come back as a backend-neutral Predictor plus the ModelArch from the sidecar (whose input
size and character list are checked against the spec first), so evaluate/inference code, result
files and decoding are the same for every runtime.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.data.charset import load_charset
from tao_ocrnet.errors import ModelFileError, SpecError
from tao_ocrnet.runtime.ort_backend import open_session, ort_predictor
from tao_ocrnet.runtime.sidecar import Sidecar, read_sidecar, spec_problems
from tao_ocrnet.runtime.trt_backend import trt_predictor

log = logging.getLogger(__name__)

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
ONNX_SUFFIXES = (".onnx", ".etlt")  # the reference's .etlt export is plain ONNX


def kind_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in ENGINE_SUFFIXES:
        return "tensorrt"
    if suffix in ONNX_SUFFIXES:
        return "onnx"
    return "pytorch"


@dataclass
class Backend:
    name: str  # "onnxruntime" | "tensorrt"
    predictor: Any
    arch: ModelArch
    sidecar: Sidecar


def spec_charset(spec: Any) -> tuple[str, ...] | None:
    path = spec.dataset.character_list_file
    return load_charset(path) if path else None


def profile_problems(sidecar: Sidecar, batch_size: int, batch_key: str) -> list[str]:
    """A batch outside the engine's optimisation profile is rejected, not silently clipped as the reference did."""
    trt = sidecar.tensorrt or {}
    lo, hi = int(trt.get("min_batch_size", 1)), int(trt.get("max_batch_size", batch_size))
    if batch_size > hi:
        return [
            f"`{batch_key}` = {batch_size} is larger than the engine's profile (max batch {hi}); lower {batch_key} "
            f"or rebuild the engine with gen_trt_engine.tensorrt.max_batch_size >= {batch_size}"
        ]
    if batch_size < lo:
        log.info("batches smaller than the profile minimum %d are padded", lo)
    return []


def open_backend(spec: Any, value: str, key: str, batch_size: int, section: str) -> Backend:
    """The ONNX Runtime or TensorRT Predictor for `value` (spec key `key`), checked against the spec. Errors name
    the keys. `runtime.predictor.open_predictor` is the entry point; it decides which kinds an action runs."""
    path = Path(value).expanduser()
    kind = kind_of(path)
    if not path.is_file():
        raise ModelFileError(f"`{key}`: {path} does not exist or is not a file")
    sidecar = read_sidecar(path, key)
    charset = spec_charset(spec)
    problems = spec_problems(sidecar, spec, charset, key, extra_size_sections=(section,))
    if kind == "tensorrt":
        problems += profile_problems(sidecar, batch_size, f"{section}.batch_size")
    if problems:
        raise SpecError(problems, header=f"the spec does not match the model in `{key}`")
    arch = sidecar.model_arch()
    if kind == "tensorrt":
        return Backend("tensorrt", trt_predictor(path, key, sidecar), arch, sidecar)
    return Backend("onnxruntime", ort_predictor(open_session(path, key)), arch, sidecar)
