# SPDX-License-Identifier: Apache-2.0
"""`ocrnet evaluate`: word accuracy and normalised edit distance of a model on a labelled test set."""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

from tao_ocrnet.actions.common import RunContext, cli_main
from tao_ocrnet.actions.recognize import log_skipped, open_section_model, recognize
from tao_ocrnet.actions.reporting import write_evaluation
from tao_ocrnet.data.loaders import build_eval_loader
from tao_ocrnet.model.codec import make_codec
from tao_ocrnet.model.metrics import Score
from tao_ocrnet.runtime.predictor import ONNX, PYTORCH


def spec_for_arch(spec: Any, arch: Any) -> Any:
    """The spec with `model` input sizes taken from the model file, which is what the weights expect."""
    spec = spec.model_copy(deep=True)
    for name in ("input_channel", "input_height", "input_width"):
        setattr(spec.model, name, getattr(arch, name))
    spec.dataset.max_label_length = arch.max_label_length
    return spec


def score_labelled(
    ctx: RunContext, predictor: Any, arch: Any, directory: str, gt_file: str, batch_size: int, key: str, gt_key: str
) -> dict[str, Any]:
    """Run `predictor` over a labelled set and write the evaluation files (any backend)."""
    loader, sample_filter = build_eval_loader(
        spec_for_arch(ctx.spec, arch),
        arch.charset,
        directory=directory,
        gt_file=gt_file,
        batch_size=batch_size,
        key=key,
        gt_key=gt_key,
        with_names=True,
    )
    score = Score()
    batches = ((images, names, labels) for images, labels, names in loader)
    assert isinstance(loader.dataset, Sized)  # every dataset of ours knows its length
    for preds in recognize(predictor, batches, make_codec(arch), total=len(loader.dataset)):
        score.add(preds)
    skipped = {k: v for k, v in sample_filter.stats().items() if v and k != "total"}
    log_skipped(skipped)
    kpi = write_evaluation(ctx.results_dir, score, directory, skipped)
    ctx.status.write("RUNNING", "Evaluation metrics generated.", kpi={"test_acc": kpi["test_acc"]}, skipped=skipped)
    return {**kpi, "skipped": skipped}


def evaluate(ctx: RunContext) -> dict[str, Any]:
    e = ctx.spec.evaluate
    opened = open_section_model(ctx, e.checkpoint, "evaluate.checkpoint", "evaluate", (PYTORCH, ONNX))
    predictor, arch = opened.predictor, opened.arch
    return score_labelled(
        ctx,
        predictor,
        arch,
        e.test_dataset_dir,
        e.test_dataset_gt_file,
        e.batch_size,
        "evaluate.test_dataset_dir",
        "evaluate.test_dataset_gt_file",
    )


main = cli_main("evaluate", evaluate)
