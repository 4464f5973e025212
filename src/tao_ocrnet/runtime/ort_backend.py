# SPDX-License-Identifier: Apache-2.0
"""ONNX Runtime: open an exported (or QDQ-quantized) file and wrap it as a Predictor.

The predictor returns the graph's `output_id` / `output_prob` unchanged; decoding is the shared
`model.codec` decoder, exactly as for PyTorch and TensorRT.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from tao_ocrnet.errors import ModelFileError
from tao_ocrnet.runtime.sidecar import INPUT_NAME, OUTPUT_NAMES

log = logging.getLogger(__name__)


def providers(use_gpu: bool = False) -> list[str]:
    available = ort.get_available_providers()
    chosen = ["CUDAExecutionProvider"] if use_gpu and "CUDAExecutionProvider" in available else []
    return [*chosen, "CPUExecutionProvider"]


def open_session(path: str | Path, key: str, threads: int = 0, use_gpu: bool = False) -> Any:
    """An InferenceSession, or ModelFileError naming `key` for a missing or non-ONNX file."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"`{key}`: {path} does not exist or is not a file")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: ORT's warnings go to stderr unasked
    if threads:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(path), options, providers=providers(use_gpu))
    except Exception as exc:  # ORT raises several private exception types for bad files
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"`{key}`: {path} is not a loadable ONNX model ({first})") from None
    inputs = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    if inputs != [INPUT_NAME] or set(OUTPUT_NAMES) - set(outputs):
        raise ModelFileError(
            f"`{key}`: {path} is not an OCRNet export (inputs {inputs}, outputs {outputs}; expected "
            f"[{INPUT_NAME!r}] -> {list(OUTPUT_NAMES)}); export it with `ocrnet export`"
        )
    return session


def ort_predictor(session: Any):
    """Predictor: images [B, C, H, W] (tensor or array) -> (ids, probs) numpy [B, T]."""

    def predict(images: Any) -> tuple[np.ndarray, np.ndarray]:
        batch = np.ascontiguousarray(np.asarray(images, dtype=np.float32))
        ids, probs = session.run(list(OUTPUT_NAMES), {INPUT_NAME: batch})
        return ids, probs

    return predict
