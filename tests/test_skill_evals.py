# SPDX-License-Identifier: Apache-2.0
"""evals/evals.json: the shape the bank CI checks, and the routing cases the contract asks for."""

from __future__ import annotations

from tao_ocrnet.skill.evals import evals_json
from tao_ocrnet.skill_root import find_project_root

from _skill_checks import load_strict_json

EVALS = load_strict_json(find_project_root() / "evals" / "evals.json")
NAME = "tao-train-ocrnet"


def test_shape():
    assert evals_json() == EVALS
    assert isinstance(EVALS, list) and len(EVALS) >= 12
    for entry in EVALS:
        assert set(entry) == {"id", "question", "expected_skill", "ground_truth", "expected_behavior"}
        assert all(isinstance(entry[k], str) and entry[k] for k in ("id", "question", "expected_skill", "ground_truth"))
        assert isinstance(entry["expected_behavior"], list) and entry["expected_behavior"]
        assert all(isinstance(b, str) and b for b in entry["expected_behavior"])
    ids = [e["id"] for e in EVALS]
    assert len(ids) == len(set(ids))


def test_positive_and_negative_cases():
    skills = [e["expected_skill"] for e in EVALS]
    assert skills.count(NAME) >= 6
    assert "tao-train-ocdnet" in skills  # text detection is not OCRNet
    assert sum(s != NAME for s in skills) >= 3
    first = EVALS[0]
    assert first["expected_skill"] == NAME and any("tao-run-automl" in b for b in first["expected_behavior"])


def test_routing_topics_covered():
    text = " ".join(e["question"] for e in EVALS).lower()
    for topic in ("ocr", "attention", "ctc", "turn off automl", "no hpo", "tensorrt", "quantize", "prune", "retrain"):
        assert topic in text, topic
    off = [e for e in EVALS if "turn off automl" in e["question"].lower() or "no hpo" in e["question"].lower()]
    assert off and all(e["expected_skill"] == NAME for e in off)
    deploy = next(e for e in EVALS if "tensorrt" in e["question"].lower())
    assert any("gen_trt_engine" in b for b in deploy["expected_behavior"])
