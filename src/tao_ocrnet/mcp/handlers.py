# SPDX-License-Identifier: Apache-2.0
"""Tool handlers: each takes a validated `ToolCall` and returns the structured result (a JSON object).

User-fixable problems raise `UserError` (a `ToolError` or the jobs layer's own); the server turns them into
isError results. Blocking work (spec resolution, file reads, cancel grace periods) runs in a worker thread
so one slow call never stalls the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, TypeVarTuple

import anyio

from tao_ocrnet.automl.policy import PolicyDecision, resolve_policy
from tao_ocrnet.config.secrets import redact
from tao_ocrnet.config.shipped import names_shipped_model
from tao_ocrnet.datasources.resolver import DataRoots
from tao_ocrnet.jobs.ids import check_job_id
from tao_ocrnet.jobs.record import TERMINAL, state_of
from tao_ocrnet.jobs.request import JobRequest
from tao_ocrnet.mcp import constants as C
from tao_ocrnet.mcp.context import CheckedHandler, ToolCall
from tao_ocrnet.mcp.errors import ToolError, mcp_result
from tao_ocrnet.mcp.progress import JobWatch
from tao_ocrnet.mcp.resources import WORKSPACE_URI, file_uri, job_view, list_job_files
from tao_ocrnet.mcp.validation import problem_text
from tao_ocrnet.mcp.workspace import WorkspaceError

POLL_SECONDS = 0.5

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


def _mask(text: str) -> str:
    return "\n".join(redact(line)[0] for line in text.split("\n"))


async def _run(fn: Callable[[*Ts], T], *args: *Ts) -> T:
    return await anyio.to_thread.run_sync(fn, *args)


# --- action tools ------------------------------------------------------------------------------


def _confine_values(call: ToolCall, values: dict[str, Any], problems: list[str]) -> None:
    """Replace every path-valued spec value by its confined, resolved path (in place)."""
    ws = call.runtime.workspace
    for dotted in call.binding["path_keys"]:
        if dotted not in values:
            continue
        value = values[dotted]
        items = value if isinstance(value, list) else [value]
        out = []
        for i, item in enumerate(items):
            where = f"spec_overrides.{dotted}" + (f"[{i}]" if isinstance(value, list) else "")
            if not isinstance(item, str) or item in ("", "???") or names_shipped_model(item, ws.roots[0]):
                out.append(item)  # unset, or a shipped model's short name (a workspace file of that name wins)
                continue
            try:
                out.append(ws.confine(item, where))
            except WorkspaceError as exc:
                problems.append(str(exc))
        values[dotted] = out if isinstance(value, list) else (out[0] if out else value)


def _roots(call: ToolCall, problems: list[str]) -> dict[str, Any]:
    ws = call.runtime.workspace
    roots: dict[str, Any] = {}
    for source in call.binding["sources"]:
        value = call.args.get(source)
        items = value if isinstance(value, list) else [value]
        confined = []
        for i, uri in enumerate(items):
            if not isinstance(uri, str):
                continue  # absent or mistyped: the argument schema reports it
            try:
                confined.append(ws.confine_uri(uri, f"{source}[{i}]" if isinstance(value, list) else source))
            except WorkspaceError as exc:
                problems.append(str(exc))
        if confined:
            roots[source] = tuple(confined) if isinstance(value, list) else confined[0]
    return roots


def _collect(call: ToolCall) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(spec values by dotted key, confined dataset roots, problems) of an action call.

    Tolerant of mistyped arguments (the argument schema reports those), so that one reply can name every
    problem of a call at once.
    """
    args, binding = call.args, call.binding
    fixed = {dotted: (arg, args[arg]) for arg, dotted in binding["popular"].items() if arg in args}
    overrides = args.get("spec_overrides")
    spec = call.runtime.specs[binding["schema"]]
    flat, problems = spec.check(overrides if isinstance(overrides, dict) else {}, binding["aliases"], fixed)
    values = {dotted: value for dotted, (_, value) in fixed.items()}
    values.update(flat)
    _confine_values(call, values, problems)
    roots = _roots(call, problems)
    return values, roots, problems


def precheck(call: ToolCall) -> list[str]:
    """The spec and path problems of a call whose arguments already failed the schema (reported together)."""
    return _collect(call)[2]


def build_request(call: ToolCall) -> JobRequest:
    """The JobRequest for an action call; every problem (spec keys, values, paths) reported at once."""
    values, roots, problems = _collect(call)
    if problems:
        raise ToolError(problem_text(call.name, problems, "ocrnet_describe_action lists every field."))
    args = call.args
    return JobRequest(
        action=call.binding["action"],
        roots=DataRoots(
            train_datasets=tuple(roots.get("train_datasets", ())),
            eval_dataset=roots.get("eval_dataset"),
            calibration_dataset=roots.get("calibration_dataset"),
            inference_dataset=roots.get("inference_dataset"),
        ),
        parent_job=args.get("parent_job_id"),
        resume_from=args.get("resume_from_job_id"),
        checkpoint_epoch=args.get("checkpoint_epoch"),
        checkpoint_step=args.get("checkpoint_step"),
        key_env=args.get("key_env"),
        overrides=values,
        platform=args.get("platform"),
    )


def _automl(call: ToolCall) -> tuple[dict[str, Any] | None, PolicyDecision | None]:
    """(the `automl` result block, the decision when the request goes to AutoML) for train-like actions."""
    if not call.binding.get("automl"):
        return None, None
    rt = call.runtime
    enabled = bool(rt.document["server"].get("automl_enabled"))
    decision = resolve_policy(
        call.binding["action"], call.args.get("automl_policy"), call.args.get("request"), enabled, rt.skill_root
    )
    block = {**decision.to_dict(), "applied": "direct"}
    if decision.route != "automl":
        return block, None
    block["applied"] = "automl"
    return block, decision


async def _wait(call: ToolCall, job_id: str, seconds: float) -> dict[str, Any]:
    """Poll until the job ends or `seconds` pass; progress on each change and as a heartbeat (`JobWatch`)."""
    watch = JobWatch(call.runtime.service, job_id, call.progress, call.log)
    deadline = time.monotonic() + seconds
    while True:
        _, view = await watch.poll()
        state = view["state"]
        if state in TERMINAL or time.monotonic() >= deadline:
            out = {"state": state, "message": view["message"], "kpis": view["kpis"], "exit_code": view["exit_code"]}
            if state not in TERMINAL:
                out["message"] = f"still {state} after {seconds:g} s; poll ocrnet_job_status"
            return out
        await anyio.sleep(POLL_SECONDS)


async def _call_action(call: ToolCall) -> dict[str, Any]:
    action = call.binding["action"]
    request = build_request(call)
    dry_run = bool(call.args.get("dry_run", False))
    automl, routed = _automl(call)
    settings = call.args.get("automl_settings")
    if routed is not None:
        from tao_ocrnet.mcp.automl_route import routed_train  # the AutoML runner loads only for a routed request

        assert automl is not None  # a routed call has its decision block
        return await routed_train(call, request, routed, automl, dry_run=dry_run)
    service = call.runtime.service
    submitted = await _run(service.submit, request, dry_run)
    out: dict[str, Any] = {"job_id": submitted.job_id, "action": action, "dry_run": dry_run}
    if automl is not None:
        out["route"] = "one training job (no AutoML)"
    if dry_run:
        out.update(state="NOT_STARTED", spec_yaml=_mask(submitted.spec_yaml), results_dir=str(submitted.results_dir))
    else:
        record = submitted.record
        assert record is not None  # only a dry run has no record
        out.update(
            state=state_of(record),
            results_dir=record["results_dir"],
            next=f"ocrnet_job_status(job_id='{submitted.job_id}') until it ends, then ocrnet_job_results",
        )
    out["notes"] = list(submitted.notes)
    if automl is not None:
        out["automl"] = automl
        if settings is not None:
            out["notes"].append("automl_settings were ignored: this run trains directly, without AutoML")
    wait = 0 if call.as_task else int(call.args.get("wait_seconds", 0))  # a task is followed with tasks/get
    if wait and not dry_run:
        out.update(await _wait(call, submitted.job_id, wait))
    return mcp_result(out)


call_action = CheckedHandler(_call_action, precheck)


# --- job tools ---------------------------------------------------------------------------------


def _job_id(call: ToolCall) -> str:
    return check_job_id(call.args["job_id"])


async def job_status(call: ToolCall) -> dict[str, Any]:
    service = call.runtime.service
    return mcp_result(await _run(lambda: job_view(service, service.get(_job_id(call)))))


def _results(call: ToolCall) -> dict[str, Any]:
    """The service's results with a resources/read URI for every file of the results folder (and output)."""
    service, job_id = call.runtime.service, _job_id(call)
    out = service.results(job_id)
    out.update({k: v for k, v in job_view(service, service.get(job_id)).items() if k in ("cause", "next", "platform")})
    base = Path(out["results_dir"]).resolve()
    for entry in out["outputs"].values():
        path = Path(entry["path"]).resolve()
        if entry["exists"] and path.is_file() and path.is_relative_to(base):
            entry["uri"] = file_uri(job_id, path.relative_to(base).as_posix())
    out["files"], out["files_truncated"] = list_job_files(job_id, base)
    return out


async def job_results(call: ToolCall) -> dict[str, Any]:
    return mcp_result(await _run(_results, call))


async def job_cancel(call: ToolCall) -> dict[str, Any]:
    service = call.runtime.service
    grace = float(call.args.get("grace_seconds", 10))
    return mcp_result(await _run(lambda: job_view(service, service.cancel(_job_id(call), grace))))


def tail_text(text: str, lines: int, max_bytes: int) -> tuple[str, bool]:
    """The last `lines` lines of `text`, cut to at most `max_bytes` (on a line boundary when possible)."""
    kept = text.splitlines(keepends=True)[-lines:]
    out = "".join(kept)
    data = out.encode()
    if len(data) <= max_bytes:
        return out, False
    cut = data[-max_bytes:].decode("utf-8", errors="ignore")
    newline = cut.find("\n")
    return (cut[newline + 1 :] if 0 <= newline < len(cut) - 1 else cut), True


async def job_logs(call: ToolCall) -> dict[str, Any]:
    service = call.runtime.service
    job_id = _job_id(call)
    lines = int(call.args.get("tail_lines", C.LOG_DEFAULT_LINES))
    max_bytes = int(call.args.get("max_bytes", C.LOG_DEFAULT_BYTES))

    def read() -> tuple[str, str]:
        record = service.get(job_id)
        return "".join(service.logs(job_id, tail=lines)), state_of(record)

    text, state = await _run(read)
    text, truncated = tail_text(_mask(text), lines, max_bytes)
    return {
        "job_id": job_id,
        "state": state,
        "text": text,
        "lines": text.count("\n"),
        "bytes": len(text.encode()),
        "truncated": truncated,
    }


async def job_list(call: ToolCall) -> dict[str, Any]:
    service = call.runtime.service
    args = call.args
    records = await _run(lambda: service.list(action=args.get("action"), state=args.get("state")))
    start = int(args.get("cursor", "0"))
    limit = int(args.get("limit", C.LIST_DEFAULT_LIMIT))
    page = records[start : start + limit]
    more = start + limit < len(records)
    return {
        "jobs": [mcp_result(service.view(r)) for r in page],
        "next_cursor": str(start + limit) if more else None,
        "total": len(records),
    }


# --- discovery ---------------------------------------------------------------------------------


def _field_line(leaf: dict[str, Any]) -> str:
    kind = leaf.get("type", "any")
    kind = "|".join(kind) if isinstance(kind, list) else kind
    if kind == "array":
        kind = f"list of {leaf.get('items', {}).get('type', 'any')}"
    parts = [kind, f"default {leaf.get('default')!r}" if "default" in leaf else ""]
    if "enum" in leaf:
        parts.append("one of " + "/".join(str(v) for v in leaf["enum"]))
    lo = leaf.get("minimum", leaf.get("exclusiveMinimum"))
    hi = leaf.get("maximum", leaf.get("exclusiveMaximum"))
    if lo is not None or hi is not None:
        parts.append(f"range {lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}")
    if leaf.get("writeOnly"):
        parts.append("secret: use key_env")
    return "; ".join(p for p in parts if p)


async def describe_action(call: ToolCall) -> dict[str, Any]:
    rt = call.runtime
    action = call.args["action"]
    tool = f"{C.TOOL_PREFIX}{action}"
    binding = rt.binding(tool)
    if binding is None:
        raise ToolError(f"`action`: no tool for {action}")
    wire = next(t for t in rt.tools if t["name"] == tool)
    props = wire["inputSchema"]["properties"]
    spec = rt.specs[binding["schema"]]
    roots = rt.document.get("data_roots", {})
    parents = ", ".join(binding.get("parents", []))
    out: dict[str, Any] = {
        "action": action,
        "tool": tool,
        "description": wire["description"],
        "required_args": wire["inputSchema"].get("required", []),
        "popular": {arg: {"key": key, **props[arg]} for arg, key in binding["popular"].items()},
        "data_sources": {src: {"description": props[src]["description"], "sets": binding["source_keys"][src]}
                         for src in binding["sources"]},
        "parent": {k: props[k].get("description", f"the parent's checkpoint of this {k.split('_')[1]}")
                   for k in ("parent_job_id", "checkpoint_epoch", "checkpoint_step", "resume_from_job_id")
                   if k in props} | ({"parents": parents, "sets": binding["parent_keys"]} if parents else {}),
        "required": binding.get("required", []),
        "workspace": {"roots": [str(r) for r in rt.workspace.roots], "data_root_kinds": roots.get("kinds"),
                      "gt_file": roots.get("gt_file"), "more": WORKSPACE_URI},
        "spec_overrides_example": binding.get("example") or None,
        "resources": {
            "schema": f"ocrnet://schemas/{C.JSON_SCHEMA_DIR.removeprefix('schemas/')}/{binding['schema']}.json",
            "template": f"ocrnet://{binding['template']}",
        },
    }  # fmt: skip
    if call.args.get("fields", True) or call.args.get("all_fields", False):
        # The fields the action reads (its sections); all_fields lists the whole schema (every action's schema
        # carries the shared sections, most of which this action ignores).
        reads = None if call.args.get("all_fields", False) else tuple(binding.get("reads", ()))
        out["fields"] = {
            k: f"{_field_line(leaf)} - {leaf.get('description', '')}"
            for k, leaf in spec.leaves.items()
            if reads is None or k.split(".", 1)[0] in reads
        }
        out["fields_scope"] = "all" if reads is None else f"read by {action}: {', '.join(reads)}"
    if call.args.get("template", False):
        out["template_yaml"] = await _run((rt.skill_root / binding["template"]).read_text, "utf-8")
    if call.args.get("full_schema", False):
        out["schema"] = spec.schema
    return out
