# SPDX-License-Identifier: Apache-2.0
"""`references/ocrnet-differences.md`: how this skill and its tools differ from the TAO reference; its text is
`text/ocrnet-differences.md.j2` (SKILL.md links to it instead of repeating it)."""

from __future__ import annotations

from tao_ocrnet.config.tao_schema import LR_KEY, search_range
from tao_ocrnet.skill.text import render_text

DIFFERENCES_MD = "references/ocrnet-differences.md"


def render_differences_md() -> str:
    return render_text("ocrnet-differences.md.j2", lr_search=search_range(LR_KEY))
