# SPDX-License-Identifier: Apache-2.0
"""`ocrnet skill generate [--check]`: write (or check) every file rendered from the spec models.

The registry below is the one list of generated artifacts. Each entry renders one or more files for a
layout (this repo, or the skill-bank package) and may own folders, in which any file it did not render is
reported as unexpected. A later artifact (e.g. generated runners) is one more entry.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tao_ocrnet.config.actions import SCHEMA_ACTIONS
from tao_ocrnet.config.json_schema import SCHEMA_DIR, json_schema, schema_names
from tao_ocrnet.config.render import GENERATED_BY, dump_json, dump_yaml
from tao_ocrnet.config.tao_schema import schema_path, tao_schema
from tao_ocrnet.config.templates import DEPLOY_TEMPLATE, DEPLOY_TEMPLATE_NAME, REFERENCES, template_path, template_yaml
from tao_ocrnet.jobs import skill_info as md
from tao_ocrnet.jobs.runner_shim import RUNNER_DIR, runner_files
from tao_ocrnet.skill.artifacts import plugin_files, tool_files
from tao_ocrnet.skill.deploy_md import render_deploy_md
from tao_ocrnet.skill.differences_md import DIFFERENCES_MD, render_differences_md
from tao_ocrnet.skill.evals import evals_json
from tao_ocrnet.skill.jobs_md import JOBS_MD, render_jobs_md
from tao_ocrnet.skill.layout import BANK, REPO, Layout
from tao_ocrnet.skill.model_card import MODEL_CARD, render_model_card
from tao_ocrnet.skill.prompts import PROMPTS_FILE, prompts_document
from tao_ocrnet.skill.schema_manifest import manifest
from tao_ocrnet.skill.skill_md import render_skill_md
from tao_ocrnet.skill_root import skill_root

DIFF_LINES = 12  # diff lines shown per drifted file


@dataclass(frozen=True)
class Artifact:
    """One registry entry: renders files (relative path -> text) for a layout; owns whole folders."""

    name: str
    render: Callable[[Layout], dict[str, str]]
    owns: tuple[str, ...] = ()


def _skill_md(layout: Layout) -> dict[str, str]:
    return {"SKILL.md": render_skill_md(layout)}


def _metadata(layout: Layout) -> dict[str, str]:
    comments = md.image_comments()
    info = dump_yaml(md.skill_info(), header=(GENERATED_BY,), line_comments=comments)
    return {
        layout.skill_info: info,
        # tao-automl's runner reads references/skill_info.yaml from any skill_dir: the repo root is one too.
        BANK.skill_info: info,
        f"{REFERENCES}/{md.DEPLOY_NAME}.skill_info.yaml": dump_yaml(
            md.deploy_skill_info(), header=(GENERATED_BY,), line_comments=comments
        ),
        f"{REFERENCES}/{md.DEPLOY_NAME}.md": render_deploy_md(),
    }


def _templates(_: Layout) -> dict[str, str]:
    out = {template_path(action): template_yaml(action, generated=True) for action in SCHEMA_ACTIONS}
    out[DEPLOY_TEMPLATE] = template_yaml(DEPLOY_TEMPLATE_NAME, generated=True)
    return out


def _tao_schemas(_: Layout) -> dict[str, str]:
    out = {schema_path(action): dump_json(tao_schema(action)) for action in SCHEMA_ACTIONS}
    out["schemas/manifest.json"] = dump_json(manifest())
    return out


def _json_schemas(_: Layout) -> dict[str, str]:
    return {f"{SCHEMA_DIR}/{name}.json": dump_json(json_schema(name)) for name in schema_names()}


def _evals(_: Layout) -> dict[str, str]:
    return {"evals/evals.json": dump_json(evals_json())}


def _runners(_: Layout) -> dict[str, str]:
    return runner_files()


def _jobs_guide(_: Layout) -> dict[str, str]:
    return {JOBS_MD: render_jobs_md()}


def _model_card(_: Layout) -> dict[str, str]:
    return {MODEL_CARD: render_model_card()}


def _differences(_: Layout) -> dict[str, str]:
    return {DIFFERENCES_MD: render_differences_md()}


def _prompts(_: Layout) -> dict[str, str]:
    return {PROMPTS_FILE: dump_json(prompts_document())}


REGISTRY: tuple[Artifact, ...] = (
    Artifact("SKILL.md", _skill_md),
    Artifact("metadata", _metadata, owns=(REFERENCES,)),
    Artifact("spec templates", _templates, owns=(REFERENCES,)),
    Artifact("TAO schemas", _tao_schemas, owns=("schemas",)),
    Artifact("JSON Schema 2020-12", _json_schemas, owns=(SCHEMA_DIR,)),
    Artifact("evals", _evals, owns=("evals",)),
    Artifact("runners", _runners, owns=(RUNNER_DIR,)),
    Artifact("jobs guide", _jobs_guide, owns=(REFERENCES,)),
    Artifact("shipped model card", _model_card, owns=(REFERENCES,)),
    Artifact("differences from the reference", _differences, owns=(REFERENCES,)),
    Artifact("MCP tools and guide", tool_files, owns=("schemas/mcp",)),
    Artifact("MCP prompts", _prompts, owns=("schemas/mcp",)),
    Artifact("plugin manifests", plugin_files),
)


def render_all(layout: Layout = REPO) -> dict[str, str]:
    """Every generated file for a layout, path -> text (paths use "/", relative to the skill root)."""
    files: dict[str, str] = {}
    for artifact in REGISTRY:
        for path, text in artifact.render(layout).items():
            if path in files:
                raise RuntimeError(f"two artifacts render {path}")
            files[path] = text
    return files


def owned_folders() -> tuple[str, ...]:
    return tuple(sorted({folder for artifact in REGISTRY for folder in artifact.owns}))


@dataclass(frozen=True)
class Drift:
    kind: str  # missing | differs | unexpected
    path: str
    diff: tuple[str, ...] = ()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def find_drift(root: Path, files: dict[str, str], owned: tuple[str, ...]) -> list[Drift]:
    drift: list[Drift] = []
    for rel, text in sorted(files.items()):
        if not (root / rel).is_file():
            drift.append(Drift("missing", rel))
        elif (current := _read(root / rel)) != text:
            diff = difflib.unified_diff(
                (current or "").splitlines(), text.splitlines(), f"{rel} (on disk)", f"{rel} (generated)", lineterm=""
            )
            drift.append(Drift("differs", rel, tuple(diff)))
    for folder in owned:
        base = root / folder
        if base.is_dir():
            for path in sorted(p for p in base.rglob("*") if p.is_file()):
                rel = path.relative_to(root).as_posix()
                if rel not in files:
                    drift.append(Drift("unexpected", rel))
    return drift


def format_drift(drift: list[Drift]) -> str:
    lines = [f"{len(drift)} generated file(s) out of date with the spec models:"]
    for d in drift:
        note = {"unexpected": " (in a generated folder, but the generator does not write it)"}.get(d.kind, "")
        lines.append(f"  {d.kind}: {d.path}{note}")
        shown = d.diff[:DIFF_LINES]
        lines += [f"      {line}" for line in shown]
        if len(d.diff) > len(shown):
            lines.append(f"      ... {len(d.diff) - len(shown)} more diff lines")
    lines.append("Run `ocrnet skill generate` to rewrite them; never edit generated files by hand.")
    return "\n".join(lines)


def write_files(root: Path, files: dict[str, str], drift: list[Drift]) -> None:
    for d in drift:
        target = root / d.path
        if d.kind == "unexpected":
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("w", encoding="utf-8", newline="\n") as fh:
                fh.write(files[d.path])


def main(check: bool = False) -> int:
    root = skill_root()
    files = render_all(REPO)
    drift = find_drift(root, files, owned_folders())
    if check:
        if drift:
            print(f"ocrnet skill generate --check: {root}\n{format_drift(drift)}", file=sys.stderr)
            return 1
        print(f"ocrnet skill generate --check: {len(files)} generated files up to date in {root}", file=sys.stderr)
        return 0
    write_files(root, files, drift)
    counts = {kind: sum(d.kind == kind for d in drift) for kind in ("missing", "differs", "unexpected")}
    print(
        f"ocrnet skill generate: {root}: {counts['missing']} created, {counts['differs']} updated, "
        f"{counts['unexpected']} stale removed, {len(files) - counts['missing'] - counts['differs']} unchanged",
        file=sys.stderr,
    )
    return 0
