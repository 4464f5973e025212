# SPDX-License-Identifier: Apache-2.0
"""The recognition loop shared by PyTorch, ONNX Runtime and TensorRT evaluate/inference.

The predictor comes from `tao_ocrnet.runtime.predictor`; decoding and scoring are the same for every runtime.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from tqdm import tqdm

from tao_ocrnet.actions.common import RunContext, select_device
from tao_ocrnet.model.metrics import Prediction
from tao_ocrnet.runtime.predictor import OpenedModel, Predictor, open_predictor

log = logging.getLogger(__name__)


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


def open_section_model(ctx: RunContext, path: str, key: str, section: str, accept: Collection[str]) -> OpenedModel:
    """The model an action section runs (`runtime.predictor.open_predictor`), on the section's device."""
    return open_predictor(
        ctx.spec, path, key, section, accept=accept, device=lambda: section_device(ctx, section),
        allow_pickle=ctx.allow_pickle,
    )  # fmt: skip


def section_device(ctx: RunContext, section: str) -> str:
    cfg = getattr(ctx.spec, section)
    return select_device(cfg.num_gpus, cfg.gpu_ids, f"{section}.num_gpus")


def log_skipped(skipped: dict[str, int]) -> None:
    for reason, n in skipped.items():
        if n:
            log.warning("skipped %d sample(s): %s", n, reason)
