# SPDX-License-Identifier: Apache-2.0
"""Recognition metrics shared by training, evaluation and every runtime (PyTorch, ONNX Runtime, TensorRT).

Accuracy is the exact, case-sensitive word match (as the reference). `norm_ed` is the mean
normalised edit-distance similarity, 1 - ED(pred, gt) / max(len(pred), len(gt)) (ICDAR 2019 style;
1.0 is perfect). `accuracy_by_length` splits the accuracy by label length (a fixed-width input squeezes long
labels the most, so one figure hides where a model fails).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


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
    # Here, not at the top: torchmetrics loads scipy.signal and matplotlib (~2 s), which inference jobs (no labels,
    # no edit distance) would otherwise pay at start-up.
    from torchmetrics.functional.text import edit_distance

    distances = edit_distance(list(preds), list(labels), reduction="none").tolist()
    return [
        1.0 - d / max(len(p), len(g)) if max(len(p), len(g)) else 1.0
        for d, p, g in zip(distances, preds, labels, strict=True)
    ]


#: Label-length buckets of `accuracy_by_length`: (shortest, longest or None for no upper end).
LENGTH_BUCKETS: tuple[tuple[int, int | None], ...] = ((1, 3), (4, 6), (7, 10), (11, None))


def bucket_name(lo: int, hi: int | None) -> str:
    return f"{lo}+" if hi is None else f"{lo}-{hi}"


def _within(length: int, lo: int, hi: int | None) -> bool:
    return lo <= length and (hi is None or length <= hi)


def accuracy_by_length(
    predictions: Sequence[Prediction], buckets: Sequence[tuple[int, int | None]] = LENGTH_BUCKETS
) -> dict[str, dict[str, int | float | None]]:
    """Word accuracy per label-length bucket of the labelled predictions: {"4-6": {"num_samples", "accuracy"}}.

    Every bucket is listed, an empty one with accuracy None, so reports of different sets line up.
    """
    out: dict[str, dict[str, int | float | None]] = {}
    for lo, hi in buckets:
        picked = [p for p in predictions if p.label is not None and _within(len(p.label), lo, hi)]
        correct = sum(p.correct for p in picked)
        out[bucket_name(lo, hi)] = {"num_samples": len(picked), "accuracy": correct / len(picked) if picked else None}
    return out


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
