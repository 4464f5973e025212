# SPDX-License-Identifier: Apache-2.0
"""`open_predictor`: the one place that picks the runtime for a model file.

PyTorch model files (float, pruned or quantized, or a shipped model's short name), ONNX files (ONNX Runtime)
and TensorRT engines all come back as the same *predictor*: a callable from a batch of preprocessed images
[B, C, H, W] to (ids, probs) numpy arrays [B, T] (argmax class and its softmax probability per step), plus the
model's `ModelArch`. Decoding, scoring and result files are then the same for every runtime. Each action says
which kinds it accepts; a file of another kind is refused here, with the command that runs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.data.charset import load_charset
from tao_ocrnet.errors import ModelFileError
from tao_ocrnet.model.checkpoint import load_model_file, resolve_model_path
from tao_ocrnet.model.codec import logits_to_ids_probs
from tao_ocrnet.runtime.backends import ENGINE_SUFFIXES, kind_of, open_backend

log = logging.getLogger(__name__)

Predictor = Callable[[Any], tuple[np.ndarray, np.ndarray]]

PYTORCH, ONNX, TENSORRT = "pytorch", "onnx", "tensorrt"


@dataclass
class OpenedModel:
    runtime: str  # "pytorch" | "onnxruntime" | "tensorrt"
    predictor: Predictor
    arch: ModelArch


def torch_predictor(model: Any, device: str) -> Predictor:
    model = model.to(device).eval()

    @torch.inference_mode()
    def predict(images: Any) -> tuple[np.ndarray, np.ndarray]:
        return logits_to_ids_probs(model(torch.as_tensor(images).to(device)))

    return predict


def load_model(spec: Any, path: str | Path, key: str, allow_pickle: bool = False) -> tuple[Any, ModelArch]:
    """(model, arch) of a PyTorch model file in any of our formats, its character list checked against the
    spec's `dataset.character_list_file` when one is set."""
    charset_file = spec.dataset.character_list_file
    expected = load_charset(charset_file) if charset_file else None
    model, arch, _ = load_model_file(path, allow_pickle=allow_pickle, expected_charset=expected, key=key)
    return model, arch


def _refusal(kind: str, key: str, section: str, path: Path) -> str:
    if kind == TENSORRT:
        return f"`{key}` is a TensorRT engine; run it with `ocrnet deploy {section}` ({section}.trt_engine)"
    if kind == PYTORCH:
        return (
            f"`{key}` must be a TensorRT engine ({', '.join(ENGINE_SUFFIXES)}) or an ONNX file (.onnx), not {path}; "
            "PyTorch checkpoints run with `ocrnet evaluate` / `ocrnet inference`, or export them with `ocrnet export`"
        )
    return f"`{key}`: {path} is an ONNX file, which this action does not read"


def open_predictor(
    spec: Any,
    value: str,
    key: str,
    section: str,
    *,
    accept: Collection[str],
    device: Callable[[], str] = lambda: "cpu",
    allow_pickle: bool = False,
) -> OpenedModel:
    """The predictor for the model file `value` (spec key `key`, batch size from `<section>.batch_size`).

    `accept` names the kinds the calling action runs (pytorch, onnx, tensorrt); `device` is asked only when a
    PyTorch model is opened.
    """
    if kind_of(value) == PYTORCH:
        path = resolve_model_path(value, key) if PYTORCH in accept else Path(value).expanduser()
    else:
        path = Path(value).expanduser()
    kind = kind_of(path)
    if kind not in accept:
        raise ModelFileError(_refusal(kind, key, section, path))
    if kind == PYTORCH:
        model, arch = load_model(spec, path, key, allow_pickle)
        return OpenedModel("pytorch", torch_predictor(model, device()), arch)
    backend = open_backend(spec, str(path), key, getattr(spec, section).batch_size, section)
    log.info("%s: running %s with %s", key, path, backend.name)
    return OpenedModel(backend.name, backend.predictor, backend.arch)
