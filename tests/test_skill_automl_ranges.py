# SPDX-License-Identifier: Apache-2.0
"""The train schema as TAO AutoML's sampler reads it (automl-notes §3): sensible lr trials, while our own
Optuna runner keeps its per-optimizer log ranges; AutoML on actions that train nothing is refused with advice."""

from __future__ import annotations

import math
import random

import pytest

from tao_ocrnet.automl.plan import StudyRequest, plan_study
from tao_ocrnet.automl.ranges import build_space
from tao_ocrnet.config.introspect import leaf_index
from tao_ocrnet.config.templates import template_dict
from tao_ocrnet.errors import UserError
from tao_ocrnet.skill_root import find_project_root

from _skill_checks import load_strict_json, tao_validate

ROOT = find_project_root()


def bank_leaves(schema):
    """Flatten `properties` the way tao-automl does: dotted names for every non-section leaf."""
    out = {}

    def walk(props, prefix):
        for name, node in props.items():
            if not isinstance(node, dict):
                continue
            if node.get("type") in ("object", "collection", "dict") and "properties" in node:
                walk(node["properties"], f"{prefix}{name}.")
            else:
                out[f"{prefix}{name}"] = node

    walk(schema["properties"], "")
    return out


def bank_float_range(node):
    """tao-automl's float range: minimum/maximum; a missing bound -> default/10 or default*10; an infinite
    maximum -> the default. It samples uniformly (linear) in it, clamped by 1e-7."""
    default = node["default"]
    lo = node.get("minimum", default / 10)
    hi = node.get("maximum", default * 10)
    if math.isinf(hi):
        hi = default
    return lo, hi


@pytest.mark.parametrize("action", ["train", "retrain"])
def test_bank_sampler_gets_a_finite_small_log_friendly_lr_range(action):
    schema = load_strict_json(ROOT / "schemas" / f"{action}.schema.json")
    leaves = bank_leaves(schema)
    searched = [k for k, n in leaves.items() if n.get("automl_enabled") in (True, "TRUE")]
    assert "train.optim.lr" in searched
    lr = leaves["train.optim.lr"]
    lo, hi = bank_float_range(lr)
    assert math.isfinite(lo) and math.isfinite(hi)
    assert 0 < lo < hi <= 1.0  # small: never the [0, 10] the accepted bounds would give
    assert hi / lo <= 100  # at most two decades, so a linear draw still covers the range's low end
    assert lo <= lr["default"] <= hi
    draws = [max(random.Random(seed).uniform(lo, hi), 1e-7) for seed in range(200)]
    assert all(0.01 < v <= 1.0 for v in draws)
    # The values the spec accepts stay in the schema, and a valid Adam spec still validates.
    assert (lr["x-tao-accepted-minimum"], lr["x-tao-accepted-maximum"]) == (0.0, 10.0)
    assert lr["x-tao-exclusive-minimum"] is True
    assert tao_validate(schema, {"train": {"optim": {"name": "adam", "lr": 1e-3}}}) == []
    assert tao_validate(schema, {"train": {"optim": {"lr": 0.0}}}) != []
    # Other schemas keep the accepted bounds (no AutoML metadata there).
    prune = bank_leaves(load_strict_json(ROOT / "schemas" / "prune.schema.json"))["train.optim.lr"]
    assert (prune["minimum"], prune["maximum"]) == (0.0, 10.0) and "x-tao-accepted-minimum" not in prune


def test_our_runner_keeps_per_optimizer_log_ranges():
    schema = load_strict_json(ROOT / "schemas" / "train.schema.json")
    space = build_space(schema, template_dict("train"), ["train.optim.lr"])
    (lr,) = space.params
    assert lr.log and lr.per_optimizer == {"adadelta": (0.05, 1.0), "adam": (1e-5, 1e-3)}
    # The schema's bank range is the default optimizer's range of our runner.
    node = bank_leaves(schema)["train.optim.lr"]
    assert (node["minimum"], node["maximum"]) == lr.per_optimizer[leaf_index()["train.optim.name"].default]
    # Custom ranges are checked against the accepted bounds, not the search range.
    custom = build_space(schema, template_dict("train"), ["train.optim.lr"], {"train.optim.lr": {
        "valid_min": 1e-5, "valid_max": 5.0}})  # fmt: skip
    assert custom.params[0].per_optimizer["adam"] == (1e-5, 5.0)


@pytest.mark.parametrize(
    ("action", "advice"),
    [("prune", "retrain with the prune job as parent_job_id"), ("quantize", "tune the train (or retrain)")],
)
def test_automl_on_an_action_that_trains_nothing_says_what_to_do(action, advice):
    with pytest.raises(UserError) as exc:
        plan_study({"algorithm": "bayesian"}, StudyRequest(action=action))
    text = str(exc.value)
    assert f"AutoML has no searchable parameters for {action}" in text
    assert "automl_policy='off'" in text and advice in text
    assert "ocrnet " not in text  # tool arguments, not shell commands
