# SPDX-License-Identifier: Apache-2.0
"""The generated schemas, manifest and templates: strict, consistent with each other and with the spec models."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from tao_ocrnet.config.actions import ACTIONS, SCHEMA_ACTIONS
from tao_ocrnet.config.fields import MISSING
from tao_ocrnet.config.introspect import leaf_index
from tao_ocrnet.config.json_schema import json_schema, schema_names, validate
from tao_ocrnet.config.loader import load_spec, validate_tree
from tao_ocrnet.config.tao_schema import tao_schema
from tao_ocrnet.config.templates import DEPLOY_TEMPLATE_NAME, template_dict, template_yaml
from tao_ocrnet.skill.generate import render_all
from tao_ocrnet.skill_root import find_project_root

from _skill_checks import (
    TAO_COLLECTION_KEYS,
    TAO_LEAF_KEYS,
    TAO_LEAF_TYPES,
    load_strict_json,
    strict_json,
    tao_validate,
    walk_schema,
)

ROOT = find_project_root()
AUTOML_KEYS = ("automl_default_parameters", "automl_disabled_parameters")


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    return render_all()


def schema_file(action: str) -> dict:
    return load_strict_json(ROOT / "schemas" / f"{action}.schema.json")


def test_every_json_file_is_strict(files):
    json_files = [p for p in files if p.endswith(".json")]
    assert len(json_files) >= len(SCHEMA_ACTIONS) * 2 + 2
    for path in json_files:
        strict_json(files[path])  # raises on NaN / Infinity
        assert files[path].endswith("}\n") or files[path].endswith("]\n")


def test_strict_loader_rejects_infinity():
    with pytest.raises(ValueError):
        strict_json('{"maximum": Infinity}')


def test_rendering_is_byte_reproducible(files):
    assert render_all() == files


@pytest.mark.parametrize("action", SCHEMA_ACTIONS)
def test_template_equals_schema_default(action):
    template = yaml.safe_load((ROOT / "references" / f"spec_template_{action}.yaml").read_text(encoding="utf-8"))
    assert template == schema_file(action)["default"]
    assert template == template_dict(action)


@pytest.mark.parametrize("action", SCHEMA_ACTIONS)
def test_tao_dialect_shape(action):
    schema = schema_file(action)
    assert schema["type"] == "object"
    assert schema["x_tao_schema"]["action"] == action
    assert schema["x_tao_schema"]["network_arch"] == "ocrnet"
    assert set(schema["properties"]) == set(ACTIONS[action].sections)
    for dotted, node in walk_schema(schema):
        assert isinstance(node, dict), f"{action}: {dotted} is a {type(node).__name__} inside properties"
        if node["type"] == "collection":
            assert set(node) <= TAO_COLLECTION_KEYS, dotted
            for key in ("popular", *AUTOML_KEYS, "required"):
                assert all(isinstance(name, str) and name in node["properties"] for name in node.get(key, []))
        else:
            assert node["type"] in TAO_LEAF_TYPES, dotted
            assert set(node) <= TAO_LEAF_KEYS, f"{dotted}: {set(node) - TAO_LEAF_KEYS}"
            assert ("enum" in node) == (node["type"] == "categorical"), dotted
            for bound in ("minimum", "maximum"):
                if bound in node:
                    assert math.isfinite(node[bound]), dotted
            assert node["default"] == leaf_index()[dotted].default


@pytest.mark.parametrize("action", SCHEMA_ACTIONS)
def test_automl_metadata_only_for_train_and_retrain(action):
    schema = schema_file(action)
    automl = action in ("train", "retrain")
    assert ACTIONS[action].automl is automl
    found = [d for d, n in walk_schema(schema) if "automl_enabled" in n or any(k in n for k in AUTOML_KEYS)]
    if not automl:
        assert not found and not any(k in schema for k in AUTOML_KEYS)
        return
    defaults = schema["automl_default_parameters"]
    assert defaults == sorted(defaults)
    assert defaults == [
        "dataset.augmentation.aug_prob",
        "dataset.augmentation.blur_prob",
        "dataset.augmentation.reverse_color_prob",
        "dataset.augmentation.rotate_prob",
        "train.optim.lr",
    ]
    flagged = sorted(d for d, n in walk_schema(schema) if n.get("automl_enabled") is True)
    assert flagged == defaults
    # Every default parameter has a finite search range in the schema.
    nodes = dict(walk_schema(schema))
    for key in defaults:
        assert math.isfinite(nodes[key]["minimum"]) and math.isfinite(nodes[key]["maximum"])
    assert "encryption_key" in schema["automl_disabled_parameters"]
    assert nodes["encryption_key"]["automl_enabled"] is False


@pytest.mark.parametrize("action", SCHEMA_ACTIONS)
def test_required_lists_the_values_the_action_needs(action):
    schema = schema_file(action)
    needed = set(ACTIONS[action].required)
    template = schema["default"]
    # Every ??? in the template is required where it sits.
    for dotted, node in walk_schema(schema):
        if node["type"] != "collection" and _get(template, dotted) == MISSING:
            needed.add(dotted)
    for key in needed:
        *parents, leaf = key.split(".")
        holder = schema
        for part in parents:
            assert part in holder.get("required", []), f"{action}: {part} not required on the way to {key}"
            holder = holder["properties"][part]
        assert leaf in holder.get("required", []), f"{action}: {key} not required"


def _get(tree, dotted):
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def test_evaluate_required_are_the_missing_fields():
    schema = schema_file("evaluate")
    assert schema["required"] == ["evaluate"]
    assert schema["properties"]["evaluate"]["required"] == ["checkpoint", "test_dataset_dir"]
    assert "required" not in schema["properties"]["quantize"]


def test_num_fiducial_is_20_everywhere(files):
    assert leaf_index()["model.num_fiducial"].default == 20
    for action in SCHEMA_ACTIONS:
        schema = schema_file(action)
        assert schema["properties"]["model"]["properties"]["num_fiducial"]["default"] == 20
        assert schema["default"]["model"]["num_fiducial"] == 20
        assert schema["properties"]["model"]["default"]["num_fiducial"] == 20
    for name in schema_names():
        assert json_schema(name)["properties"]["model"]["properties"]["num_fiducial"]["default"] == 20
    deploy = yaml.safe_load((ROOT / "references" / "spec_template_deploy_experiment.yaml").read_text())
    assert deploy["model"]["num_fiducial"] == 20


def test_manifest_matches_the_schemas():
    manifest = load_strict_json(ROOT / "schemas" / "manifest.json")
    assert manifest["model"] == "tao-train-ocrnet"
    assert manifest["network_arch"] == "ocrnet"
    assert manifest["automl_enabled"] is True
    assert manifest["failures"] == {}
    assert set(manifest["actions"]) == set(SCHEMA_ACTIONS)
    for action, entry in manifest["actions"].items():
        schema = load_strict_json(ROOT / entry["path"])
        assert (ROOT / entry["spec_template"]).is_file()
        assert (ROOT / entry["json_schema"]).is_file()
        assert entry["schema_action"] == schema["x_tao_schema"]["schema_action"]
        assert entry["core_module"] == schema["x_tao_schema"]["core_module"]
        assert entry["automl_enabled"] is ACTIONS[action].automl
        for key in AUTOML_KEYS:
            assert entry[key] == schema.get(key, [])
            assert entry[key] == sorted(entry[key])
        assert entry["popular"] == schema.get("popular", {})
    schema_files = sorted(p.name for p in (ROOT / "schemas").glob("*.schema.json"))
    assert schema_files == sorted(f"{a}.schema.json" for a in SCHEMA_ACTIONS)


def test_popular_is_action_aware():
    assert set(schema_file("train")["popular"]) == {"train"}
    assert set(schema_file("evaluate")["popular"]) == {"evaluate"}
    assert "popular" not in schema_file("export")
    assert schema_file("train")["properties"]["train"]["popular"] == sorted(schema_file("train")["popular"]["train"])


def test_shared_sections_have_identical_defaults():
    base = schema_file("train")
    for action in SCHEMA_ACTIONS:
        schema = schema_file(action)
        for section in ("model", "dataset", "wandb", "quantize"):
            assert schema["properties"][section]["default"] == base["properties"][section]["default"]


@pytest.mark.parametrize("action", SCHEMA_ACTIONS)
def test_templates_validate_against_both_schemas(action):
    template = template_dict(action)
    assert tao_validate(schema_file(action), template) == []
    Draft202012Validator(load_strict_json(ROOT / "schemas" / "json-schema" / f"{action}.json")).validate(template)
    validate_tree(template, action, check_required=False)  # and the loader accepts it


def test_deploy_template_validates():
    template = template_dict(DEPLOY_TEMPLATE_NAME)
    assert validate(DEPLOY_TEMPLATE_NAME, template) == []
    validate_tree(template, "gen_trt_engine", check_required=False)
    assert template["gen_trt_engine"]["onnx_file"] == MISSING
    assert set(template["dataset"]) == {"character_list_file", "max_label_length"}
    assert set(template) == {"results_dir", "encryption_key", "model", "dataset", "evaluate", "inference",
                             "gen_trt_engine"}  # fmt: skip


def test_tao_validator_catches_bad_values():
    schema = schema_file("gen_trt_engine")
    bad = {
        "gen_trt_engine": {"tensorrt": {"data_type": "FP8", "min_batch_size": 0}, "bogus": 1},
        "train": {"optim": {"lr": 0.0}},
        "quantize": {"device": "tpu"},
        "model": {"TPS": "yes"},
    }
    problems = "\n".join(tao_validate(schema, bad))
    for needle in ("data_type", "min_batch_size", "bogus", "lr", "device", "TPS"):
        assert needle in problems


@pytest.mark.parametrize("name", schema_names())
def test_json_schema_2020_12(name):
    schema = load_strict_json(ROOT / "schemas" / "json-schema" / f"{name}.json")
    assert schema == json_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    stack = [schema]
    while stack:
        node = stack.pop()
        if "properties" in node:
            assert node["additionalProperties"] is False
            stack += node["properties"].values()
        assert node.get("type") not in ("int", "float", "bool", "categorical", "collection", "list")
    Draft202012Validator(schema).validate(template_dict(name))


def test_json_schema_validate_reports_every_problem():
    problems = validate(
        "train",
        {"train": {"optim": {"lr": 0}, "num_epoch": 3}, "model": {"prediction": "ctc", "num_fiducial": "x"}},
    )
    text = "\n".join(problems)
    assert len(problems) == 3
    assert "train.optim.lr" in text and "num_epoch" in text and "model.num_fiducial" in text
    assert validate("gen_trt_engine", {"gen_trt_engine": {"tensorrt": {"data_type": "fp16"}}}) == []


def test_enums_are_case_insensitive():
    overrides = ["gen_trt_engine.tensorrt.data_type=fp16", "model.backbone=resnet"]
    spec = load_spec("gen_trt_engine", None, overrides, check_required=False)
    assert spec.gen_trt_engine.tensorrt.data_type == "FP16"
    assert spec.model.backbone == "ResNet"
    assert validate("train", {"model": {"prediction": "attn"}}) == []


def test_template_yaml_round_trips():
    for action in (*SCHEMA_ACTIONS, DEPLOY_TEMPLATE_NAME):
        assert yaml.safe_load(template_yaml(action)) == template_dict(action)
        text = (ROOT / "references" / f"spec_template_{action}.yaml").read_text(encoding="utf-8")
        assert text == template_yaml(action, generated=True)
        assert text.startswith("# generated by `ocrnet skill generate`; do not edit\n")


def test_schema_action_of_retrain_is_train():
    assert tao_schema("retrain")["x_tao_schema"]["schema_action"] == "train"
    assert tao_schema("retrain")["properties"]["model"]["required"] == ["pruned_graph_path"]


def test_project_root_found():
    assert ROOT is not None and isinstance(ROOT, Path)
