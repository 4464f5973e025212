# SPDX-License-Identifier: Apache-2.0
"""`ocrnet skill generate [--check]`: drift detection, writing, the registry, and finding the root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tao_ocrnet.errors import UserError
from tao_ocrnet.skill import generate
from tao_ocrnet.skill.generate import Artifact, main, owned_folders, render_all
from tao_ocrnet.skill_root import ROOT_ENV, find_project_root, skill_root

REPO_ROOT = find_project_root()


def copy_generated(dest: Path) -> None:
    for rel, text in render_all().items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def test_checked_in_files_are_current(capsys):
    # CI runs on the checkout: a hand edit or a spec change without regeneration fails here.
    assert main(check=True) == 0, capsys.readouterr().err


def test_check_fails_with_a_readable_diff_through_the_cli(tmp_path):
    copy_generated(tmp_path)
    skill_md = tmp_path / "SKILL.md"
    skill_md.write_text(skill_md.read_text().replace("**Monitoring metric:** val_acc", "**Monitoring metric:** loss"))
    (tmp_path / "schemas" / "train.schema.json").unlink()
    (tmp_path / "schemas" / "old.schema.json").write_text("{}\n")
    env = {**os.environ, ROOT_ENV: str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "tao_ocrnet.cli", "skill", "generate", "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    err = result.stderr
    assert "differs: SKILL.md" in err
    assert "-**Monitoring metric:** loss" in err and "+**Monitoring metric:** val_acc" in err
    assert "missing: schemas/train.schema.json" in err
    assert "unexpected: schemas/old.schema.json" in err
    assert "Run `ocrnet skill generate`" in err
    assert "Traceback" not in err
    # --check wrote nothing.
    assert not (tmp_path / "schemas" / "train.schema.json").exists()
    assert "loss" in skill_md.read_text()


def test_generate_repairs_then_check_passes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    assert main(check=True) == 1
    assert "missing: SKILL.md" in capsys.readouterr().err
    assert main() == 0
    (tmp_path / "evals" / "stale.json").write_text("[]\n")
    (tmp_path / "README.md").write_text("not generated, not in a generated folder\n")
    assert main(check=True) == 1
    assert main() == 0
    assert not (tmp_path / "evals" / "stale.json").exists()
    assert (tmp_path / "README.md").exists()
    assert main(check=True) == 0
    for rel, text in render_all().items():
        assert (tmp_path / rel).read_text(encoding="utf-8") == text


def test_long_diffs_are_cut(tmp_path, monkeypatch, capsys):
    copy_generated(tmp_path)
    (tmp_path / "skill_info.yaml").write_text("name: something else\n" * 50)
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    assert main(check=True) == 1
    err = capsys.readouterr().err
    assert "differs: skill_info.yaml" in err and "more diff lines" in err


def test_registry_takes_one_more_entry(monkeypatch):
    extra = Artifact("runners", lambda layout: {"runners/run_train.py": "# runner\n"}, owns=("runners",))
    monkeypatch.setattr(generate, "REGISTRY", (*generate.REGISTRY, extra))
    files = render_all()
    assert files["runners/run_train.py"] == "# runner\n"
    assert "runners" in owned_folders()


def test_registry_rejects_duplicate_paths(monkeypatch):
    dup = Artifact("dup", lambda layout: {"SKILL.md": "x"})
    monkeypatch.setattr(generate, "REGISTRY", (*generate.REGISTRY, dup))
    with pytest.raises(RuntimeError, match=r"SKILL\.md"):
        render_all()


def test_root_is_the_tao_ocrnet_project(monkeypatch, tmp_path):
    monkeypatch.delenv(ROOT_ENV, raising=False)
    assert REPO_ROOT is not None
    assert (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "src" / "tao_ocrnet").is_dir()
    assert skill_root() == REPO_ROOT
    # Another project's pyproject.toml is not ours.
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    (tmp_path / "pkg").mkdir()
    assert find_project_root(tmp_path / "pkg") is None
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "tao-ocrnet"\n')
    assert find_project_root(tmp_path / "pkg") == tmp_path


def test_root_override(monkeypatch, tmp_path):
    monkeypatch.setenv(ROOT_ENV, str(tmp_path))
    assert skill_root() == tmp_path.resolve()
    monkeypatch.setenv(ROOT_ENV, str(tmp_path / "nope"))
    with pytest.raises(UserError, match=ROOT_ENV):
        skill_root()
