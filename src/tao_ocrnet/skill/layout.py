# SPDX-License-Identifier: Apache-2.0
"""The two places the skill is written: this repository's root and the skill-bank folder layout.

They differ only where the bank and the Agent Skills validator disagree or where files sit:
- `skill_info.yaml` is at the repo root here and in `references/` in the bank;
- the bank's CI needs a top-level `tags` list in the SKILL.md frontmatter, which `agentskills validate`
  rejects; the repo-root skill (the plugin's own) keeps the tags under `metadata` instead.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    name: str
    skill_info: str  # path of the main metadata file, relative to the skill root
    top_level_tags: bool  # bank CI wants `tags:` at the top of the frontmatter


REPO = Layout("repo", "skill_info.yaml", top_level_tags=False)
BANK = Layout("bank", "references/skill_info.yaml", top_level_tags=True)
