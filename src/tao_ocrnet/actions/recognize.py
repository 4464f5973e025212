# SPDX-License-Identifier: Apache-2.0
"""The recognition loop shared by PyTorch, ONNX Runtime and TensorRT evaluate/inference.

A *predictor* maps a batch of preprocessed images [B, C, H, W] to (ids, probs) numpy arrays [B, T]
(argmax class and its softmax probability per step); decoding and scoring are the same for all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from tqdm import tqdm

from tao_ocrnet.actions.common import RunContext, select_device
from tao_ocrnet.actions.reporting import Prediction

log = logging.getLogger(__name__)

Predictor = Callable[[Any], tuple[np.ndarray, np.ndarray]]


def torch_predictor(model: Any, device: str) -> Predictor:
    import torch

    from tao_ocrnet.model.codec import logits_to_ids_probs

    model = model.to(device).eval()

    @torch.inference_mode()
    def predict(images: Any) -> tuple[np.ndarray, np.ndarray]:
        return logits_to_ids_probs(model(torch.as_tensor(images).to(device)))

    return predict


def recognize(
    predictor: Predictor, batches: Iterable[tuple[Any, list[str], list[str | None]]], codec: Any, total: int
) -> Iterator[list[Prediction]]:
    """Yield one list of Predictions per batch of (images, paths, labels-or-None)."""
    with tqdm(total=total, desc="recognizing", unit="img", leave=False) as bar:
        for images, paths, labels in batches:
            if len(paths) == 0:
                continue
            ids, probs = predictor(images)
            decoded = codec.decode(ids, probs)
            bar.update(len(paths))
            yield [
                Prediction(path=p, text=t, confidence=c, label=g)
                for p, (t, c), g in zip(paths, decoded, labels, strict=True)
            ]


def load_checkpoint(ctx: RunContext, path: str, key: str):
    """The one model loader for evaluate/inference/export/prune: any of our formats, charset checked."""
    from tao_ocrnet.data.charset import load_charset
    from tao_ocrnet.model.checkpoint import load_model_file

    charset_file = ctx.spec.dataset.character_list_file
    expected = load_charset(charset_file) if charset_file else None
    model, arch, _ = load_model_file(path, allow_pickle=ctx.allow_pickle, expected_charset=expected, key=key)
    return model, arch


def load_predictor(ctx: RunContext, path: str, key: str, section: str) -> tuple[Predictor, Any]:
    """(Predictor, arch) for evaluate/inference: PyTorch model files (float, pruned or quantized), or an
    `.onnx` file (e.g. from `quantize.backend=onnxruntime`) run in ONNX Runtime with the same decoding."""
    from tao_ocrnet.model.checkpoint import resolve_model_path
    from tao_ocrnet.runtime.backends import kind_of

    path = str(resolve_model_path(path, key))
    kind = kind_of(path)
    if kind == "tensorrt":
        from tao_ocrnet.errors import ModelFileError

        raise ModelFileError(
            f"`{key}` is a TensorRT engine; run it with `ocrnet deploy {section}` ({section}.trt_engine)"
        )
    if kind == "onnx":
        from tao_ocrnet.runtime.backends import open_backend

        backend = open_backend(ctx.spec, path, key, getattr(ctx.spec, section).batch_size, section)
        log.info("%s: running %s with ONNX Runtime", key, path)
        return backend.predictor, backend.arch
    model, arch = load_checkpoint(ctx, path, key)
    return torch_predictor(model, section_device(ctx, section)), arch


def section_device(ctx: RunContext, section: str) -> str:
    cfg = getattr(ctx.spec, section)
    return select_device(cfg.num_gpus, cfg.gpu_ids, f"{section}.num_gpus")


def log_skipped(skipped: dict[str, int]) -> None:
    for reason, n in skipped.items():
        if n:
            log.warning("skipped %d sample(s): %s", n, reason)
