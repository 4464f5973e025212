# SPDX-License-Identifier: Apache-2.0
"""The result files of evaluate and inference, shared by every backend (PyTorch, ONNX Runtime, TensorRT).

Each set is written whole or not at all: every file is staged beside its target and the set is renamed into
place only once all are written, so a run that fails while writing leaves the previous run's files intact.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from tao_ocrnet.atomic import staged
from tao_ocrnet.model.metrics import Prediction, Score, accuracy_by_length


@contextlib.contextmanager
def _staged_set(results_dir: Path, *names: str) -> Iterator[list[Path]]:
    """Temporary paths for `names` in `results_dir`, renamed to them together when the block succeeds."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(staged(results_dir / name)) for name in names]


def write_evaluation(results_dir: Path, score: Score, data_dir: str, skipped: dict[str, int]) -> dict[str, float]:
    """results.json (TensorRT-compatible `Accuracy` fraction), metrics.json (with `by_length`), predictions.csv,
    log_evaluation.txt."""
    kpi = {
        "test_acc": round(100.0 * score.accuracy, 4),  # percent, as the reference's status.json
        "accuracy": score.accuracy,
        "norm_ed": score.norm_ed,
        "num_samples": score.num_samples,
    }
    names = ("results.json", "metrics.json", "predictions.csv", "log_evaluation.txt")
    with _staged_set(results_dir, *names) as (results, metrics, predictions, log_file):
        summary = {"Accuracy": score.accuracy, "norm_ed": score.norm_ed, "num_samples": score.num_samples}
        results.write_text(json.dumps(summary, indent=2) + "\n")
        by_length = accuracy_by_length(score.predictions)
        metrics.write_text(
            json.dumps({**kpi, "by_length": by_length, "skipped": skipped, "data_dir": data_dir}, indent=2) + "\n"
        )
        with predictions.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "label", "prediction", "confidence", "correct"])
            for p in score.predictions:
                writer.writerow([p.path, p.label, p.text, f"{p.confidence:.6f}", int(p.correct)])
        log_file.write_text(
            f"Test dataset: {data_dir}\nNumber of samples: {score.num_samples}\n"
            f"Accuracy: {100.0 * score.accuracy:.3f}\nNormalized edit distance: {score.norm_ed:.4f}\n"
        )
    return kpi


def write_inference(results_dir: Path, predictions: Sequence[Prediction], echo: bool = True) -> dict[str, float]:
    """inference.csv and inference_results.json; optionally the reference's table on stdout."""
    with _staged_set(results_dir, "inference.csv", "inference_results.json") as (table, listing):
        with table.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "text", "confidence"])
            for p in predictions:
                writer.writerow([p.path, p.text, f"{p.confidence:.6f}"])
        listing.write_text(
            json.dumps([{"path": p.path, "text": p.text, "confidence": p.confidence} for p in predictions], indent=2)
            + "\n"
        )
    if echo:
        width = max([len(p.path) for p in predictions] + [10])
        sys.stdout.write(f"{'image_path':<{width}} | {'predicted_labels':<25} | confidence score\n")
        for p in predictions:
            sys.stdout.write(f"{p.path:<{width}} | {p.text:<25} | {p.confidence:.4f}\n")
    return {"num_images": len(predictions)}
