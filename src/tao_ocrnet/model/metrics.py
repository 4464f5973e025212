# SPDX-License-Identifier: Apache-2.0
"""Recognition metrics shared by training, evaluation and every runtime (PyTorch, ONNX Runtime, TensorRT).

Accuracy is the exact, case-sensitive word match (as the reference). `norm_ed` is the mean
normalised edit-distance similarity, 1 - ED(pred, gt) / max(len(pred), len(gt)) (ICDAR 2019 style;
1.0 is perfect).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

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
        labelled = [(p.text, p.label) for p in batch if p.label is not None]
        self.predictions.extend(batch)
        self.num_samples += len(labelled)
        self.correct += sum(text == label for text, label in labelled)
        self.norm_ed_sum += sum(norm_ed_similarity([text for text, _ in labelled], [label for _, label in labelled]))

    @property
    def accuracy(self) -> float:
        return self.correct / self.num_samples if self.num_samples else 0.0

    @property
    def norm_ed(self) -> float:
        return self.norm_ed_sum / self.num_samples if self.num_samples else 0.0
