# SPDX-License-Identifier: Apache-2.0
"""AutoML policy routing: the wording table, explicit values, and the skill-file conditions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tao_ocrnet.automl.policy import NOT_RUNNABLE, normalise_policy, policy_from_request, resolve_policy
from tao_ocrnet.skill_root import skill_root as repo_root

OFF = [
    "Train OCRNet on my crops, but turn off AutoML",
    "disable AutoML for this one",
    "no HPO please",
    "train it without hyperparameter search",
    "Plain training on the LMDB, 10 epochs",
    "just train it",
    "Just train the model with lr 0.1",
    "skip the sweep and train",
    "train without AutoML",
    "no automl, I only want a baseline",
    "don't use AutoML",
    "Do not run hyperparameter tuning",
    "no need to tune anything, train directly",
    "I want a single run with the default spec",
    "w/o hpo",
    "AutoML off",
    "Train with tuning disabled... actually, just train it",
    "train OCRNet, skip automl",
    "without any hyper-parameter optimization",
    "disabling the hyperparameter search is fine",
]
ON = [
    "tune the learning rate for OCRNet",
    "use AutoML to train OCRNet",
    "run HPO on the training",
    "find the best hyperparameters",
    "turn on AutoML",
    "enable automl",
    "don't disable AutoML",
    "do not turn off AutoML",
    "I don't want plain training, tune it",
    "hyperparameter search over the augmentation",
    'What does "turn off AutoML" mean? Train with AutoML anyway',
    "optimize the learning rate",
    "AutoML on",
    "just train it... no wait, tune it",
]
SILENT = [
    "train OCRNet on my dataset",
    "evaluate the best checkpoint",
    "",
    "what does 'plain training' mean?",
]


@pytest.mark.parametrize("text", OFF)
def test_off_phrasings(text):
    assert policy_from_request(text) == "off"


@pytest.mark.parametrize("text", ON)
def test_on_phrasings(text):
    assert policy_from_request(text) == "on"


@pytest.mark.parametrize("text", SILENT)
def test_requests_that_say_nothing(text):
    assert policy_from_request(text) is None


def test_the_table_is_large_enough():
    assert len(OFF) + len(ON) + len(SILENT) >= 30


@pytest.mark.parametrize(
    ("value", "expected"), [("on", "on"), ("OFF", "off"), ("auto", "on"), (None, None), (True, "on"), (False, "off")]
)
def test_explicit_values(value, expected):
    assert normalise_policy(value) == expected


def test_unknown_explicit_value_is_an_error():
    with pytest.raises(ValueError, match="on or off"):
        normalise_policy("maybe")


def test_explicit_value_beats_the_wording():
    d = resolve_policy("train", "on", "turn off AutoML", True, repo_root())
    assert (d.policy, d.route, d.source) == ("on", "automl", "explicit")
    d = resolve_policy("train", "off", "tune it", True, repo_root())
    assert (d.policy, d.route) == ("off", "direct")


def test_routing_conditions(tmp_path: Path):
    root = repo_root()
    assert resolve_policy("train", None, "train OCRNet", True, root).route == "automl"  # default on
    assert resolve_policy("train", None, "plain training", True, root).route == "direct"
    assert resolve_policy("evaluate", "on", "tune", True, root).route == "direct"  # never routed
    assert resolve_policy("train", "on", None, False, root).route == "direct"  # automl_enabled false
    # A skill whose train schema is missing: trains directly and says why.
    (tmp_path / "references").mkdir()
    shutil.copy(root / "references" / "spec_template_train.yaml", tmp_path / "references")
    d = resolve_policy("train", "on", None, True, tmp_path)
    assert d.route == "direct" and NOT_RUNNABLE in d.reason
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "train.schema.json").write_text("{not json")
    assert resolve_policy("train", "on", None, True, tmp_path).route == "direct"
    shutil.copy(root / "schemas" / "train.schema.json", tmp_path / "schemas")
    assert resolve_policy("train", "on", None, True, tmp_path).route == "automl"


def test_policy_never_touches_the_skill_files():
    root = repo_root()
    before = {p: p.read_bytes() for p in (root / "skill_info.yaml", root / "schemas" / "train.schema.json")}
    resolve_policy("train", None, "turn off AutoML", True, root)
    assert {p: p.read_bytes() for p in before} == before
