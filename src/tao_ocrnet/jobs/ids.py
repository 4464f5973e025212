# SPDX-License-Identifier: Apache-2.0
"""Job ids: `ocrnet-<action>-<6 hex>` (the skill bank's `<network_arch>-<action>-<6 hex>` shape)."""

from __future__ import annotations

import re
import secrets

from tao_ocrnet.errors import UserError

# The skill's network_arch; a test checks it against skill_info (kept literal: this module must stay light).
PREFIX = "ocrnet"
_ID = re.compile(rf"^{PREFIX}-([a-z][a-z0-9_]*)-([0-9a-f]{{6}})$")


def new_job_id(action: str) -> str:
    return f"{PREFIX}-{action}-{secrets.token_hex(3)}"


def check_job_id(text: str) -> str:
    """The id itself, or a UserError; ids become file names, so nothing else may pass."""
    value = text.strip()
    if not _ID.match(value):
        raise UserError(f"`{text}` is not a job id; ids look like {PREFIX}-train-1a2b3c (see `ocrnet jobs list`)")
    return value


def action_of(job_id: str) -> str:
    m = _ID.match(job_id)
    if not m:
        raise UserError(f"`{job_id}` is not a job id")
    return m.group(1)
