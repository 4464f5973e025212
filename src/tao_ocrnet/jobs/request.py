# SPDX-License-Identifier: Apache-2.0
"""What a caller (CLI, MCP server, AutoML runner) asks a job for; `resolve.py` turns it into the job's spec.

Kept apart from `resolve.py` (which loads the spec models, pydantic) so the callers and `JobService` can
name the type at import time without slowing `ocrnet jobs list|status`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tao_ocrnet.datasources.resolver import DataRoots


@dataclass(frozen=True)
class JobRequest:
    """What a caller asks for; everything else comes from skill_info."""

    action: str
    roots: DataRoots = field(default_factory=DataRoots)
    parent_job: str | None = None
    resume_from: str | None = None
    checkpoint_epoch: int | None = None
    checkpoint_step: int | None = None
    key_env: str | None = None  # the NAME of the environment variable holding encryption_key
    overrides: Mapping[str, Any] = field(default_factory=dict)  # dotted key (or shorthand) -> value
    platform: str | None = None  # a name in jobs.platforms.base.PLATFORMS; None: OCRNET_PLATFORM, else local
