# SPDX-License-Identifier: Apache-2.0
"""Plugin manifests: Codex and Cursor find the skill where `skills` says (their default is skills/<name>/)."""

from __future__ import annotations

import json

import pytest
import yaml

from tao_ocrnet.skill_root import find_project_root

ROOT = find_project_root()


@pytest.mark.parametrize("host", [".codex-plugin", ".cursor-plugin"])
def test_manifest_names_the_skill_folder(host):
    manifest = json.loads((ROOT / host / "plugin.json").read_text(encoding="utf-8"))
    skills = manifest["skills"]
    assert skills.startswith("./")
    folder = (ROOT / skills).resolve()
    assert folder.is_relative_to(ROOT.resolve())  # inside the plugin root
    text = (folder / "SKILL.md").read_text(encoding="utf-8")
    front = yaml.safe_load(text.split("---\n", 2)[1])
    assert front["name"] == "tao-train-ocrnet"
