# SPDX-License-Identifier: Apache-2.0
"""Tool errors as the model reads them: the argument, the problem, the fix; in MCP terms, not CLI terms.

The jobs layer, the AutoML runner and the actions word their messages for the command line (`--parent-job ID`,
`ocrnet jobs status X`, `ocrnet deploy evaluate`); the same facts reach an MCP client with the tool's argument
and tool names instead (`mcp_text` for one message, `mcp_result` for every message in a structured result).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

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
    "--dry-run": "dry_run",
    "--wait": "wait_seconds",
}
_OPTION = re.compile("(" + "|".join(re.escape(o) for o in _OPTIONS) + r")(?: (?:ID|URI|NAME|N)\b)?(?![\w-])")
_ACTIONS = r"dataset_convert|train|retrain|evaluate|inference|export|prune|quantize|gen_trt_engine"
_ID = r"(?: (?!for\b|to\b|then\b|or\b|and\b|-)([\w.-]+))?"  # an optional id or name after a command
_JOB_TOOL = {"status": "ocrnet_job_status", "logs": "ocrnet_job_logs", "cancel": "ocrnet_job_cancel",
             "results": "ocrnet_job_results"}  # fmt: skip
_STORAGE = "the server's OCRNET_AUTOML_STORAGE environment variable"
_NO_TOOL = {"resume": "resumes a study", "worker": "adds workers", "run": "runs it; ocrnet_train starts a study"}


def _call(tool: str, arg: str, value: str | None) -> str:
    return f"{tool}({arg}='{value}')" if value else tool


def _jobs(m: re.Match[str]) -> str:
    verb, job = m.group(1), m.group(2)
    return "ocrnet_job_list" if verb == "list" else _call(_JOB_TOOL[verb], "job_id", job if job != "ID" else None)


def _automl(m: re.Match[str]) -> str:
    verb, study = m.group(1), m.group(2)
    if verb in ("status", "cancel"):
        return _call(f"ocrnet_automl_{verb}", "study", study if study != "NAME" else None)
    if verb == "list":
        return "the `study` of the ocrnet_train result"
    # resume / worker / run: no tool does these; the server's operator can (or ocrnet_train starts a new study).
    return f"the AutoML {verb} command on the server's host (no tool {_NO_TOOL[verb]})"


# (pattern, replacement), applied in order: specific sentences first, then commands, then bare options.
_RULES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"set it in the spec or as an override `([\w.]+)=\.\.\.`"),
     lambda m: f'set it in spec_overrides ({{"{m.group(1)}": ...}})'),
    (re.compile(r"give --storage URL for a study in a shared database"),
     f"a study in a shared database needs {_STORAGE}"),
    (re.compile(r"pass --storage URL \(or set [A-Z_]+\)"), f"set {_STORAGE}"),
    (re.compile(r" --storage URL"), ""),
    (re.compile(r"--storage(?: URL)?"), _STORAGE),
    (re.compile(r" \(CLI flag --allow-pickle\)"), " (a command-line option of the actions; no tool sets it)"),
    (re.compile(r"`?ocrnet jobs (status|logs|cancel|results|list)" + _ID + "`?"), _jobs),
    (re.compile(r"`?ocrnet automl (status|cancel|list|resume|worker|run)" + _ID + r"(?: --study [\w.-]+)?`?"),
     _automl),
    (re.compile(r"`?ocrnet deploy (evaluate|inference)[|/](?:evaluate|inference)`?"),
     "ocrnet_trt_evaluate / ocrnet_trt_inference"),
    (re.compile(r"`?ocrnet deploy (evaluate|inference)`?"), lambda m: f"ocrnet_trt_{m.group(1)}"),
    (re.compile(rf"`?ocrnet ({_ACTIONS})\b`?"), lambda m: f"ocrnet_{m.group(1)}"),
    (_OPTION, lambda m: f"`{_OPTIONS[m.group(1)]}`"),
)  # fmt: skip

# Result keys whose strings are content, not messages: a log, a spec, a template, a schema stay as written.
RAW_KEYS = frozenset({"text", "spec_yaml", "template_yaml", "schema"})


def mcp_text(message: str) -> str:
    """Reword a jobs-layer, AutoML or action message for a tool caller."""
    text = message
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text.replace("``", "`")


def mcp_result(data: Any) -> Any:
    """`mcp_text` applied to every message string of a tool result (content under RAW_KEYS kept as is)."""
    if isinstance(data, str):
        return mcp_text(data) if "ocrnet " in data or "--" in data else data
    if isinstance(data, dict):
        return {k: v if k in RAW_KEYS else mcp_result(v) for k, v in data.items()}
    if isinstance(data, list):
        return [mcp_result(v) for v in data]
    return data
