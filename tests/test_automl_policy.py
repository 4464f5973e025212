# SPDX-License-Identifier: Apache-2.0
"""AutoML policy routing: the wording table, explicit values, and the skill-file conditions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tao_ocrnet.automl.policy import NOT_RUNNABLE, normalise_policy, policy_from_request, resolve_policy
from tao_ocrnet.skill_root import skill_root as repo_root

# The wording table: how people say "train once, no AutoML" and "tune it", and requests that say neither.
OFF = [
    # turning it off by name
    "Train OCRNet on my crops, but turn off AutoML",
    "disable AutoML for this one",
    "switch off AutoML",
    "switch AutoML off for now",
    "AutoML off",
    "automl_policy=off",
    "AutoML: off",
    "Train with tuning disabled... actually, just train it",
    "disabling the hyperparameter search is fine",
    # no / skip / without ...
    "no HPO please",
    "w/o hpo",
    "train without AutoML",
    "no automl, I only want a baseline",
    "train OCRNet, skip automl",
    "skip the sweep and train",
    "no search",
    "no sweep",
    "no sweeps, please",
    "skip tuning",
    "skip the tuning step",
    "without hyperparameter search",
    "train it without hyperparameter search",
    "without any hyper-parameter optimization",
    "no hyper parameter tuning",
    "no hyperparameter optimisation",
    "no parameter sweep",
    "without a sweep",
    "without sweeping the learning rate",
    "no grid search",
    "no study, just the training job",
    "bypass AutoML",
    "avoid AutoML this time",
    "forget about tuning",
    "opt out of AutoML",
    "hold off on HPO",
    # negated requests to tune
    "don't use AutoML",
    "don't tune",
    "don't tune it",
    "Do not run hyperparameter tuning",
    "do not tune the hyperparameters",
    "don't search hyperparameters",
    "don't optimize the hyperparameters",
    "don't do HPO",
    "don't run a study",
    "I don't need AutoML",
    "I don't want AutoML",
    "I don't want any tuning",
    "no need to tune anything, train directly",
    "no need for AutoML",
    "I'd rather not use AutoML",
    "let's not tune",
    "never use automl",
    "don't bother tuning",
    "AutoML isn't needed",
    "tuning is not necessary",
    "a sweep is overkill here",
    # one run / directly / once
    "one run",
    "just one run please",
    "one run only, 3 epochs",
    "I want a single run with the default spec",
    "a single training run",
    "only one training job",
    "a quick single run",
    "just train it",
    "just train it once",
    "Just train the model with lr 0.1",
    "train it once",
    "train once with the defaults",
    "only train once",
    "run it once",
    "train directly",
    "run the training directly",
    "Plain training on the LMDB, 10 epochs",
    "a plain run",
    "just a regular training run",
    "a normal training run",
    "keep the hyperparameters fixed",
    "train for 3 epochs, one run, no search",
]
ON = [
    "tune the learning rate for OCRNet",
    "use AutoML to train OCRNet",
    "run HPO on the training",
    "find the best hyperparameters",
    "search for the best learning rate",
    "sweep the learning rate",
    "try several learning rates",
    "run a hyperparameter search",
    "hyperparameter search over the augmentation",
    "optimize the learning rate",
    "turn on AutoML",
    "switch on tuning",
    "enable automl",
    "AutoML on",
    "automl_policy=on",
    "automl_policy: auto",
    "keep AutoML on",
    "with HPO",
    "AutoML is fine",
    "I do want tuning",
    "please don't disable AutoML",
    "don't disable AutoML",
    "do not turn off AutoML",
    "do not turn AutoML off",
    "never skip tuning",
    "don't skip the sweep",
    "I don't want plain training, tune it",
    "I don't want just one run",
    "not a single run: search",
    "don't train it directly, tune it",
    'What does "turn off AutoML" mean? Train with AutoML anyway',
    "just train it... no wait, tune it",
]
SILENT = [
    "train OCRNet on my dataset",
    "a model trained for 3 epochs",
    "train for one epoch",
    "train once the data is converted",
    "evaluate the best checkpoint",
    "",
    "what does 'plain training' mean?",
    'is "no search" the default?',
    "search the folder for images and train on them",
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
    assert len(OFF) >= 50 and len(ON) >= 25 and len(SILENT) >= 5


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
