# SPDX-License-Identifier: Apache-2.0
"""Tool errors as the model reads them: the argument, the problem, the fix; in MCP terms, not CLI terms.

The jobs layer words its errors for `ocrnet jobs submit` (`--parent-job ID`, `ocrnet jobs status X`); the
same facts reach an MCP client with the tool's argument and tool names instead.
"""

from __future__ import annotations

import re

from tao_ocrnet.errors import UserError


class ToolError(UserError):
    """A user-fixable problem with a tool call: becomes an isError result, never a protocol error."""


# CLI option -> tool argument (longest first so prefixes do not clash).
_OPTIONS = {
    "--calibration-dataset": "calibration_dataset",
    "--inference-dataset": "inference_dataset",
    "--checkpoint-epoch": "checkpoint_epoch",
    "--checkpoint-step": "checkpoint_step",
    "--train-dataset": "train_datasets",
    "--eval-dataset": "eval_dataset",
    "--resume-from": "resume_from_job_id",
    "--parent-job": "parent_job_id",
    "--key-env": "key_env",
}
_OPTION = re.compile("(" + "|".join(re.escape(o) for o in _OPTIONS) + r")(?: (?:ID|URI|NAME|N)\b)?(?![\w-])")
_JOBS_CMD = re.compile(r"`?ocrnet jobs (status|logs|cancel|results|list)(?: [\w-]+)?`?")
_OVERRIDE_HINT = re.compile(r"set it in the spec or as an override `([\w.]+)=\.\.\.`")


def mcp_text(message: str) -> str:
    """Reword a jobs-layer message for a tool caller."""
    text = _OVERRIDE_HINT.sub(lambda m: f'set it in spec_overrides ({{"{m.group(1)}": ...}})', message)
    text = _OPTION.sub(lambda m: f"`{_OPTIONS[m.group(1)]}`", text)
    text = _JOBS_CMD.sub(lambda m: f"ocrnet_job_{m.group(1)}", text)
    return text.replace("``", "`")
