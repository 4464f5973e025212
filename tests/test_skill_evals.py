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


def test_every_entry_names_this_skill_and_runs_nothing():
    # The signer checks expected_skill == the skill's name; the eval sandbox rejects tool use.
    for entry in EVALS:
        assert entry["expected_skill"] == NAME, entry["id"]
        question = entry["question"]
        assert question.startswith('A user request: "'), entry["id"]
        assert "Do NOT run any commands, scripts, web searches, or other tools" in question, entry["id"]
        assert "Does not run commands, scripts, or web searches" in entry["expected_behavior"], entry["id"]
    first = EVALS[0]
    assert any("tao-run-automl" in b for b in first["expected_behavior"])


def test_negative_cases_say_this_skill_should_not_be_chosen():
    negative = [e for e in EVALS if f"Does not select {NAME}" in e["expected_behavior"]]
    assert len(negative) >= 3
    for entry in negative:
        assert entry["ground_truth"].startswith(f"{NAME} should NOT be chosen"), entry["id"]
        assert f"Decide whether the {NAME} skill applies" in entry["question"], entry["id"]
    assert any("OCDNet" in e["ground_truth"] for e in negative)  # text detection is not OCRNet
    positive = [e for e in EVALS if e not in negative]
    assert len(positive) >= 6
    assert all(f"Identifies {NAME} as the relevant skill" in e["expected_behavior"] for e in positive)


def test_routing_topics_covered():
    text = " ".join(e["question"] for e in EVALS).lower()
    for topic in ("ocr", "attention", "ctc", "turn off automl", "no hpo", "tensorrt", "quantize", "prune", "retrain"):
        assert topic in text, topic
    off = [e for e in EVALS if "turn off automl" in e["question"].lower() or "no hpo" in e["question"].lower()]
    assert off and all(any("automl_policy" in b or "direct" in b for b in e["expected_behavior"]) for e in off)
    deploy = next(e for e in EVALS if "tensorrt" in e["question"].lower())
    assert any("gen_trt_engine" in b for b in deploy["expected_behavior"])
