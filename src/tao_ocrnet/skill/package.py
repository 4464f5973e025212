# SPDX-License-Identifier: Apache-2.0
"""`ocrnet skill package OUT [--overwrite]`: the skill in the skill-bank folder layout
(`references/skill_info.yaml`, schemas, runners beside SKILL.md), ready to drop in.

Rendered straight from the generator (bank layout: `references/skill_info.yaml`, top-level frontmatter
`tags`), so a package never depends on the checkout's generated files being current. A folder that already
holds files is written as a whole: the new package is built in a temporary sibling folder, with the files the
bank keeps beside a package (BENCHMARK.md, skill-card.md, skill.oms.sig, ...) copied in, and then swapped in
place, so an interrupted run leaves the old folder or the new one, never a mix.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
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


def _kept(out: Path, files: dict[str, str]) -> list[str]:
    """Files (and links) of `out` that survive a re-package: all but the rendered files and the generated folders'
    contents (files the bank adds beside a package, such as BENCHMARK.md, skill-card.md, skill.oms.sig)."""
    owned = tuple(f"{folder}/" for folder in owned_folders())
    kept = []
    for folder, dirs, names in os.walk(out):
        base = Path(folder)
        names += [d for d in dirs if (base / d).is_symlink()]  # a linked folder is copied as the link
        for name in names:
            rel = (base / name).relative_to(out).as_posix()
            if rel not in files and not rel.startswith(owned):
                kept.append(rel)
    return sorted(kept)


def _top_folders() -> list[str]:
    return sorted({f"{folder.split('/', 1)[0]}/" for folder in owned_folders()})


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)


def _build_and_swap(out: Path, files: dict[str, str]) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    old = staging.with_name(staging.name.replace(".new-", ".old-", 1))
    try:
        os.chmod(staging, out.stat().st_mode & 0o7777)
        for rel in _kept(out, files):
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(out / rel, staging / rel, follow_symlinks=False)
        _write(staging, files)
        os.rename(out, old)
        try:
            os.rename(staging, out)
        except OSError:
            os.rename(old, out)  # put the old package back
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def package(out: Path, overwrite: bool = False) -> list[str]:
    """Write the package into `out`; return the written paths.

    `out` may be new, empty or a previous package; any other folder with files only with `overwrite`, which
    replaces its generated files and folders and keeps the rest.
    """
    if out.exists() and not out.is_dir():
        raise UserError(f"`{out}` exists and is not a folder")
    has_files = out.is_dir() and any(out.iterdir())
    if has_files and not overwrite and not is_previous_package(out):
        raise UserError(
            f"`{out}` is not empty and is not a previous {SKILL_NAME} package; choose an empty or new folder, or "
            f"add --overwrite to replace SKILL.md and {', '.join(_top_folders())} and keep the other files"
        )
    files = render_all(BANK)
    if has_files:
        _build_and_swap(out, files)
    else:
        out.mkdir(parents=True, exist_ok=True)
        _write(out, files)
    return sorted(files)


def main(out: str | Path, overwrite: bool = False) -> int:
    target = Path(out)
    written = package(target, overwrite)
    print(f"ocrnet skill package: wrote {len(written)} files to {target}", file=sys.stderr)
    if target.resolve().name != SKILL_NAME:
        print(f"note: the skill bank expects this folder to be named `{SKILL_NAME}`", file=sys.stderr)
    if (target / "skill.oms.sig").exists():
        print("note: skill.oms.sig no longer matches the files; sign the package again", file=sys.stderr)
    return 0
