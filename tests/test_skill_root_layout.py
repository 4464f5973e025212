# SPDX-License-Identifier: Apache-2.0
"""The repository root is usable as the bank's AutoML `skill_dir` (issue 15 item 12).

tao-automl's runner (`tao_automl.runner.SkillContext`, nvidia-tao-automl 7.2.0) reads, from any skill_dir:
`references/skill_info.yaml` (FileNotFoundError without it), the action's entry under `actions` (KeyError
without it), `network_arch`, `references/spec_template_<action>.yaml`, `schemas/<action>.schema.json` and
the container image (action-level, else top-level). The first test loads the root through the real
SkillContext when the runner is installed (it needs nvidia-tao-automl and nvidia-tao-sdk); the second
repeats those reads itself from the runner's source, so it runs everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tao_ocrnet.jobs import skill_info as md
from tao_ocrnet.skill_root import find_project_root

ROOT = find_project_root()


def _actions() -> list[str]:
    return sorted(md.skill_info()["actions"])


def test_the_real_runner_loads_every_action_from_the_repo_root():
    runner = pytest.importorskip("tao_automl.runner", reason="nvidia-tao-automl is not installed")
    for action in _actions():
        context = runner.SkillContext(ROOT, action)
        assert context.network_arch == "ocrnet"
        assert "tao-toolkit" in context.container_image
        assert context.schema is not None and context.default_specs
        assert "train.optim.lr" in context.valid_spec_keys or action != "train"


def _flatten(tree: Any, prefix: str = "") -> set[str]:
    if not isinstance(tree, dict):
        return {prefix} if prefix else set()
    return {key for k, v in tree.items() for key in _flatten(v, f"{prefix}.{k}" if prefix else k)} | (
        {prefix} if prefix else set()
    )


def test_the_runners_file_reads_succeed_from_the_repo_root():
    info_path = ROOT / "references" / "skill_info.yaml"
    assert info_path.is_file(), "tao-automl needs references/skill_info.yaml in the skill_dir"
    info = yaml.safe_load(info_path.read_text())
    assert info == yaml.safe_load((ROOT / "skill_info.yaml").read_text())  # one metadata, two places
    assert info["network_arch"] == "ocrnet" and info["automl_enabled"] is True
    for action in _actions():
        cfg = info["actions"][action]
        template = yaml.safe_load((ROOT / f"references/spec_template_{action}.yaml").read_text())
        schema = json.loads((ROOT / f"schemas/{action}.schema.json").read_text())
        assert isinstance(template, dict) and isinstance(schema, dict)
        assert _flatten(template) <= _flatten(schema["default"]) | _flatten(template)
        assert cfg.get("container_image") or info.get("container_image")
        assert "{config_path}" in cfg["command"]
    # The AutoML route's gate (SKILL.md "Train Action Policy"): both files of train parse from this skill_dir.
    assert json.loads(Path(ROOT / "schemas/train.schema.json").read_text())["properties"]
    assert yaml.safe_load((ROOT / "references/spec_template_train.yaml").read_text())["train"]
