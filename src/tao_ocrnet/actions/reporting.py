# SPDX-License-Identifier: Apache-2.0
"""Scoring and result files shared by every backend (PyTorch, ONNX Runtime, TensorRT).

Accuracy is the exact, case-sensitive word match (as the reference). `norm_ed` is the mean
normalised edit-distance similarity, 1 - ED(pred, gt) / max(len(pred), len(gt)) (ICDAR 2019 style;
1.0 is perfect).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torchmetrics.functional.text import edit_distance


@dataclass
class Prediction:
    path: str
    text: str
    confidence: float
    label: str | None = None

    @property
    def correct(self) -> bool:
        return self.label is not None and self.text == self.label


def norm_ed_similarity(preds: Sequence[str], labels: Sequence[str]) -> list[float]:
    if not preds:
        return []
    distances = edit_distance(list(preds), list(labels), reduction="none").tolist()
    return [
        1.0 - d / max(len(p), len(g)) if max(len(p), len(g)) else 1.0
        for d, p, g in zip(distances, preds, labels, strict=True)
    ]


@dataclass
class Score:
    num_samples: int = 0
    correct: int = 0
    norm_ed_sum: float = 0.0
    predictions: list[Prediction] = field(default_factory=list)

    def add(self, batch: Sequence[Prediction]) -> None:
        labelled = [p for p in batch if p.label is not None]
        self.predictions.extend(batch)
        self.num_samples += len(labelled)
        self.correct += sum(p.correct for p in labelled)
        self.norm_ed_sum += sum(norm_ed_similarity([p.text for p in labelled], [p.label for p in labelled]))

    @property
    def accuracy(self) -> float:
        return self.correct / self.num_samples if self.num_samples else 0.0

    @property
    def norm_ed(self) -> float:
        return self.norm_ed_sum / self.num_samples if self.num_samples else 0.0


def write_evaluation(results_dir: Path, score: Score, data_dir: str, skipped: dict[str, int]) -> dict[str, float]:
    """results.json (TensorRT-compatible `Accuracy` fraction), metrics.json, predictions.csv, log_evaluation.txt."""
    kpi = {
        "test_acc": round(100.0 * score.accuracy, 4),  # percent, as the reference's status.json
        "accuracy": score.accuracy,
        "norm_ed": score.norm_ed,
        "num_samples": score.num_samples,
    }
    (results_dir / "results.json").write_text(
        json.dumps({"Accuracy": score.accuracy, "norm_ed": score.norm_ed, "num_samples": score.num_samples}, indent=2)
        + "\n"
    )
    (results_dir / "metrics.json").write_text(
        json.dumps({**kpi, "skipped": skipped, "data_dir": data_dir}, indent=2) + "\n"
    )
    with (results_dir / "predictions.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "prediction", "confidence", "correct"])
        for p in score.predictions:
            writer.writerow([p.path, p.label, p.text, f"{p.confidence:.6f}", int(p.correct)])
    (results_dir / "log_evaluation.txt").write_text(
        f"Test dataset: {data_dir}\nNumber of samples: {score.num_samples}\n"
        f"Accuracy: {100.0 * score.accuracy:.3f}\nNormalized edit distance: {score.norm_ed:.4f}\n"
    )
    return kpi


def write_inference(results_dir: Path, predictions: Sequence[Prediction], echo: bool = True) -> dict[str, float]:
    """inference.csv and inference_results.json; optionally the reference's table on stdout."""
    with (results_dir / "inference.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "text", "confidence"])
        for p in predictions:
            writer.writerow([p.path, p.text, f"{p.confidence:.6f}"])
    (results_dir / "inference_results.json").write_text(
        json.dumps([{"path": p.path, "text": p.text, "confidence": p.confidence} for p in predictions], indent=2) + "\n"
    )
    if echo:
        width = max([len(p.path) for p in predictions] + [10])
        sys.stdout.write(f"{'image_path':<{width}} | {'predicted_labels':<25} | confidence score\n")
        for p in predictions:
            sys.stdout.write(f"{p.path:<{width}} | {p.text:<25} | {p.confidence:.4f}\n")
    return {"num_images": len(predictions)}
