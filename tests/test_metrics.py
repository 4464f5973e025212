# SPDX-License-Identifier: Apache-2.0
"""Accuracy by label length, called directly."""

from __future__ import annotations

from tao_ocrnet.model.metrics import Prediction, accuracy_by_length


def pred(text: str, label: str | None) -> Prediction:
    return Prediction(path="x.png", text=text, confidence=1.0, label=label)


def test_accuracy_by_length_buckets_labelled_predictions_by_label_length():
    preds = [
        pred("ab", "ab"),  # 1-3, right
        pred("abc", "abd"),  # 1-3, wrong
        pred("word", "word"),  # 4-6
        pred("abcdefghij", "abcdefghij"),  # 7-10 (10 is its upper end)
        pred("abcdefghijk", "abcdefghijkl"),  # 11+, wrong although the prediction has 11 characters
        pred("unlabelled", None),  # inference-style: not counted anywhere
    ]
    assert accuracy_by_length(preds) == {
        "1-3": {"num_samples": 2, "accuracy": 0.5},
        "4-6": {"num_samples": 1, "accuracy": 1.0},
        "7-10": {"num_samples": 1, "accuracy": 1.0},
        "11+": {"num_samples": 1, "accuracy": 0.0},
    }


def test_accuracy_by_length_lists_empty_buckets_and_takes_other_buckets():
    assert accuracy_by_length([]) == {b: {"num_samples": 0, "accuracy": None} for b in ("1-3", "4-6", "7-10", "11+")}
    assert accuracy_by_length([pred("a", "a")], buckets=((1, 1), (2, None))) == {
        "1-1": {"num_samples": 1, "accuracy": 1.0},
        "2+": {"num_samples": 0, "accuracy": None},
    }
