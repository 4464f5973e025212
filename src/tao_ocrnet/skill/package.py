# SPDX-License-Identifier: Apache-2.0
"""`ocrnet skill package OUT`: the skill in the skill-bank folder layout
(`references/skill_info.yaml`, schemas, runners beside SKILL.md), ready to drop in.

Rendered straight from the generator (bank layout: `references/skill_info.yaml`, top-level frontmatter
`tags`), so a package never depends on the checkout's generated files being current.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tao_ocrnet.config.render import MARKDOWN_MARKER
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.skill_info import SKILL_NAME
from tao_ocrnet.skill.generate import owned_folders, render_all
from tao_ocrnet.skill.layout import BANK


def is_previous_package(folder: Path) -> bool:
    """A folder this command wrote before: its SKILL.md carries our name and the generated marker."""
    skill_md = folder / "SKILL.md"
    if not skill_md.is_file():
        return False
    text = skill_md.read_text(encoding="utf-8", errors="replace")
    return MARKDOWN_MARKER in text and re.search(rf"^name: {re.escape(SKILL_NAME)}$", text, re.M) is not None


def _stale(out: Path, files: dict[str, str]) -> list[Path]:
    # Only generated folders are cleaned: files the bank adds beside a package (BENCHMARK.md,
    # skill-card.md, skill.oms.sig) survive a re-package.
    stale = []
    for folder in owned_folders():
        base = out / folder
        if base.is_dir():
            stale += [p for p in base.rglob("*") if p.is_file() and p.relative_to(out).as_posix() not in files]
    return sorted(stale)


def package(out: Path) -> list[str]:
    """Write the package into `out` (new, empty, or a previous package); return the written paths."""
    if out.exists() and not out.is_dir():
        raise UserError(f"`{out}` exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not is_previous_package(out):
        raise UserError(
            f"`{out}` is not empty and is not a previous {SKILL_NAME} package; choose an empty or new folder"
        )
    files = render_all(BANK)
    for path in _stale(out, files):
        path.unlink()
    for rel, text in files.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    return sorted(files)


def main(out: str | Path) -> int:
    target = Path(out)
    written = package(target)
    print(f"ocrnet skill package: wrote {len(written)} files to {target}", file=sys.stderr)
    if target.resolve().name != SKILL_NAME:
        print(f"note: the skill bank expects this folder to be named `{SKILL_NAME}`", file=sys.stderr)
    if (target / "skill.oms.sig").exists():
        print("note: skill.oms.sig no longer matches the files; sign the package again", file=sys.stderr)
    return 0
