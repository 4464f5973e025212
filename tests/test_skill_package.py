# SPDX-License-Identifier: Apache-2.0
"""`ocrnet skill package OUT`: the skill-bank folder layout, and when it refuses to write."""

from __future__ import annotations

import pytest
import yaml

from tao_ocrnet.cli import main as cli_main
from tao_ocrnet.config.actions import SCHEMA_ACTIONS
from tao_ocrnet.errors import UserError
from tao_ocrnet.skill.generate import render_all
from tao_ocrnet.skill.layout import BANK
from tao_ocrnet.skill.package import package
from tao_ocrnet.skill_root import find_project_root

from _skill_checks import bank_frontmatter_errors, frontmatter

NAME = "tao-train-ocrnet"


@pytest.fixture
def out(tmp_path):
    return tmp_path / NAME


def test_layout(out):
    package(out)
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    expected = {
        "SKILL.md",
        "references/skill_info.yaml",
        "references/tao-deploy-ocrnet.skill_info.yaml",
        "references/tao-deploy-ocrnet.md",
        "references/spec_template_deploy_experiment.yaml",
        "schemas/manifest.json",
        "evals/evals.json",
        *(f"references/spec_template_{a}.yaml" for a in SCHEMA_ACTIONS),
        *(f"schemas/{a}.schema.json" for a in SCHEMA_ACTIONS),
    }
    assert expected <= files
    assert not (out / "skill_info.yaml").exists() and not (out / "deploy").exists()
    assert [p for p in out.rglob("SKILL.md")] == [out / "SKILL.md"]  # no nested SKILL.md
    for rel, text in render_all(BANK).items():
        assert (out / rel).read_text(encoding="utf-8") == text
    # Same metadata as the repo's top-level skill_info.yaml (paths are skill-root relative in both).
    root = find_project_root()
    assert (out / "references/skill_info.yaml").read_text() == (root / "skill_info.yaml").read_text()
    info = yaml.safe_load((out / "references/skill_info.yaml").read_text())
    for path in info["spec_templates"].values():
        assert (out / path).is_file()


def test_package_passes_bank_checks(out):
    package(out)
    text = (out / "SKILL.md").read_text(encoding="utf-8")
    assert bank_frontmatter_errors(frontmatter(text), out.name) == []
    assert len(text) <= 20_000
    # check 3c: a models/ skill needs a `docker run` somewhere; check 3: references/skill_info.yaml
    assert any("docker run" in p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file())
    assert "references/skill_info.yaml" in text


def test_refuses_a_foreign_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine\n")
    with pytest.raises(UserError, match="not empty"):
        package(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_refuses_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(UserError):
        package(target)


def test_repackaging_updates_and_keeps_bank_files(out):
    package(out)
    (out / "BENCHMARK.md").write_text("bank benchmark\n")
    (out / "schemas" / "old.schema.json").write_text("{}\n")
    (out / "SKILL.md").write_text((out / "SKILL.md").read_text() + "\nhand edit\n")
    package(out)
    assert (out / "BENCHMARK.md").read_text() == "bank benchmark\n"
    assert not (out / "schemas" / "old.schema.json").exists()
    assert "hand edit" not in (out / "SKILL.md").read_text()


def test_cli(tmp_path, capsys):
    assert cli_main(["skill", "package", str(tmp_path / "pkg")]) == 0
    err = capsys.readouterr().err
    assert "wrote" in err and f"named `{NAME}`" in err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    assert cli_main(["skill", "package", str(tmp_path / "busy")]) == 2
    assert "not empty" in capsys.readouterr().err


def test_overwrite_replaces_a_foreign_skill_folder_and_keeps_other_files(out):
    # e.g. the bank's own tao-train-ocrnet folder: not written by us, so a plain package refuses it.
    (out / "references").mkdir(parents=True)
    (out / "SKILL.md").write_text("---\nname: tao-train-ocrnet\n---\nthe reference skill\n")
    (out / "references" / "old_notes.md").write_text("stale\n")
    (out / "skill-card.md").write_text("card\n")
    (out / "extra").mkdir()
    (out / "extra" / "keep.txt").write_text("keep\n")
    with pytest.raises(UserError, match="--overwrite"):
        package(out)
    assert (out / "SKILL.md").read_text().endswith("the reference skill\n")
    package(out, overwrite=True)
    for rel, text in render_all(BANK).items():
        assert (out / rel).read_text(encoding="utf-8") == text
    assert not (out / "references" / "old_notes.md").exists()
    assert (out / "skill-card.md").read_text() == "card\n" and (out / "extra" / "keep.txt").read_text() == "keep\n"
    assert sorted(p.name for p in out.parent.iterdir()) == [NAME]  # no staging folder left behind


def test_cli_overwrite(tmp_path, capsys):
    target = tmp_path / NAME
    target.mkdir()
    (target / "SKILL.md").write_text("hand-written\n")
    assert cli_main(["skill", "package", str(target)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli_main(["skill", "package", str(target), "--overwrite"]) == 0
    assert (target / "SKILL.md").read_text(encoding="utf-8") == render_all(BANK)["SKILL.md"]
