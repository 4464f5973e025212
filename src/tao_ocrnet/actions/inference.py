# SPDX-License-Identifier: Apache-2.0
"""`ocrnet inference`: read every image under a folder (recursive, sorted, batched)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sized
from typing import Any

from tao_ocrnet.actions.common import RunContext, cli_main
from tao_ocrnet.actions.evaluate import spec_for_arch
from tao_ocrnet.actions.recognize import open_section_model, recognize
from tao_ocrnet.actions.reporting import write_inference
from tao_ocrnet.atomic import write_text_atomic
from tao_ocrnet.config.fields import is_unset
from tao_ocrnet.config.shipped import DEFAULT_MODEL
from tao_ocrnet.data.loaders import build_folder_loader
from tao_ocrnet.model.codec import make_codec
from tao_ocrnet.model.metrics import Prediction
from tao_ocrnet.runtime.predictor import ONNX, PYTORCH

log = logging.getLogger(__name__)

SKIPPED_NAME = "skipped_images.txt"


def read_folder(
    ctx: RunContext, predictor: Any, arch: Any, directory: str, batch_size: int, key: str
) -> dict[str, Any]:
    """Run `predictor` over every image under `directory` and write the inference files (any backend)."""
    loader, _ = build_folder_loader(spec_for_arch(ctx.spec, arch), directory, batch_size, key=key)
    predictions: list[Prediction] = []
    skipped: list[str] = []

    def with_labels() -> Iterator[tuple[Any, list[str], list[str | None]]]:
        for images, paths, bad in loader:
            skipped.extend(bad)
            yield images, paths, [None] * len(paths)

    assert isinstance(loader.dataset, Sized)  # every dataset of ours knows its length
    for preds in recognize(predictor, with_labels(), make_codec(arch), total=len(loader.dataset)):
        predictions.extend(preds)
    result = write_inference(ctx.results_dir, predictions, echo=ctx.interactive)
    if skipped:
        write_text_atomic(ctx.results_dir / SKIPPED_NAME, "\n".join(skipped) + "\n")
    else:  # an earlier run's list would describe other results
        (ctx.results_dir / SKIPPED_NAME).unlink(missing_ok=True)
    return {**result, "num_skipped": len(skipped)}


def inference(ctx: RunContext) -> dict[str, Any]:
    cfg = ctx.spec.inference
    checkpoint = cfg.checkpoint
    if is_unset(checkpoint):
        log.info("inference.checkpoint is not set: reading with the shipped model %s", DEFAULT_MODEL)
        checkpoint = DEFAULT_MODEL
    opened = open_section_model(ctx, checkpoint, "inference.checkpoint", "inference", (PYTORCH, ONNX))
    predictor, arch = opened.predictor, opened.arch
    return read_folder(
        ctx, predictor, arch, cfg.inference_dataset_dir, cfg.batch_size, "inference.inference_dataset_dir"
    )


main = cli_main("inference", inference)
