# SPDX-License-Identifier: Apache-2.0
"""`ocrnet inference`: read every image under a folder (recursive, sorted, batched)."""

from __future__ import annotations

import logging
from typing import Any

from tao_ocrnet.actions.common import RunContext, cli_main
from tao_ocrnet.actions.evaluate import spec_for_arch
from tao_ocrnet.actions.recognize import load_predictor, recognize
from tao_ocrnet.actions.reporting import Prediction, write_inference

log = logging.getLogger(__name__)


def read_folder(
    ctx: RunContext, predictor: Any, arch: Any, directory: str, batch_size: int, key: str
) -> dict[str, Any]:
    """Run `predictor` over every image under `directory` and write the inference files (any backend)."""
    from tao_ocrnet.data.datamodule import build_folder_loader
    from tao_ocrnet.model.codec import make_codec

    loader, _ = build_folder_loader(spec_for_arch(ctx.spec, arch), directory, batch_size, key=key)
    predictions: list[Prediction] = []
    skipped: list[str] = []

    def with_labels():
        for images, paths, bad in loader:
            skipped.extend(bad)
            yield images, paths, [None] * len(paths)

    for preds in recognize(predictor, with_labels(), make_codec(arch), total=len(loader.dataset)):
        predictions.extend(preds)
    result = write_inference(ctx.results_dir, predictions, echo=ctx.interactive)
    if skipped:
        (ctx.results_dir / "skipped_images.txt").write_text("\n".join(skipped) + "\n", encoding="utf-8")
    return {**result, "num_skipped": len(skipped)}


def inference(ctx: RunContext) -> dict[str, Any]:
    from tao_ocrnet.config.fields import is_unset
    from tao_ocrnet.config.shipped import DEFAULT_MODEL

    cfg = ctx.spec.inference
    checkpoint = cfg.checkpoint
    if is_unset(checkpoint):
        log.info("inference.checkpoint is not set: reading with the shipped model %s", DEFAULT_MODEL)
        checkpoint = DEFAULT_MODEL
    predictor, arch = load_predictor(ctx, checkpoint, "inference.checkpoint", "inference")
    return read_folder(
        ctx, predictor, arch, cfg.inference_dataset_dir, cfg.batch_size, "inference.inference_dataset_dir"
    )


main = cli_main("inference", inference)
