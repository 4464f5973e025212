# SPDX-License-Identifier: Apache-2.0
"""`references/ocrnet-mcp.md`: how an agent (or a person) uses the MCP server, rendered from the tool list."""

from __future__ import annotations

import json

from tao_ocrnet.config.render import MARKDOWN_MARKER
from tao_ocrnet.mcp import constants as C
from tao_ocrnet.mcp.resources import JOB_VIEWS
from tao_ocrnet.skill.manifests import MCP_CONFIG
from tao_ocrnet.skill.mdtext import code, table
from tao_ocrnet.skill.tooldefs import ToolDef, tool_registry

INSPECTOR = "npx -y @modelcontextprotocol/inspector@2.12.0 --cli"


def _args(tool: ToolDef) -> str:
    props = tool.input_schema.get("properties", {})
    required = set(tool.input_schema.get("required", []))
    return ", ".join(f"`{name}`" + ("" if name in required else "?") for name in props)


def _start() -> str:
    lines = [
        "ocrnet mcp                                   # stdio; workspace = the current folder",
        "ocrnet mcp --workspace ~/data --workspace ~/runs",
        "ocrnet mcp --http 127.0.0.1:8765             # streamable HTTP at http://127.0.0.1:8765/mcp",
        f"{C.TOKEN_ENV}=$(python -c 'import secrets; print(secrets.token_urlsafe())') ocrnet mcp --http 0.0.0.0:8765",
    ]
    return (
        "## Starting the server\n\n"
        + code("bash", "\n".join(lines))
        + f"\n\nHosts start it from `{MCP_CONFIG}` (`ocrnet mcp`; Claude Code, Codex and Cursor plugin manifests "
        "point at it). Every path a call names (dataset roots, spec paths) must lie inside a workspace root after "
        f"links are resolved (`--workspace`, repeatable; else `${C.WORKSPACE_ENV}`, else the current folder); the "
        "job results root is allowed too. Binding beyond loopback requires the bearer token in "
        f"`${C.TOKEN_ENV}` (`Authorization: Bearer ...`); DNS-rebinding protection stays on. Logs go to stderr."
    )


def _tools(tools: list[ToolDef]) -> str:
    rows = [(f"`{t.name}`", t.description.split(". ")[0].rstrip(".") + ".", _args(t)) for t in tools]
    return (
        "## Tools\n\n"
        "`?` marks an optional argument. Popular spec fields are typed arguments (their spec key is in the "
        "description); every other field goes in `spec_overrides` as a dotted key and is validated against the "
        "action's JSON Schema, with a suggestion for unknown keys.\n\n" + table(("Tool", "What", "Arguments"), rows)
    )


def _workflow() -> str:
    calls = [
        ("ocrnet_dataset_convert", {"train_datasets": ["data/ocr"]}),
        ("ocrnet_dataset_convert", {"eval_dataset": "data/ocr"}),
        ("ocrnet_train", {"train_datasets": ["job:<convert train id>"], "eval_dataset": "job:<convert eval id>",
                          "num_epochs": 30, "spec_overrides": {"train.optim.lr": 0.5}, "request": "just train it"}),
        ("ocrnet_job_status", {"job_id": "<train id>"}),
        ("ocrnet_evaluate", {"eval_dataset": "job:<convert eval id>", "parent_job_id": "<train id>"}),
        ("ocrnet_export", {"parent_job_id": "<train id>", "eval_dataset": "data/ocr"}),
        ("ocrnet_trt_evaluate", {"parent_job_id": "<export id>", "eval_dataset": "data/ocr"}),
    ]  # fmt: skip
    text = "\n".join(f"{name} {json.dumps(args)}" for name, args in calls)
    return (
        "## A typical chain\n\n" + code("text", text) + "\n\nStart tools return `job_id` at once (`wait_seconds` "
        "up to " + str(C.WAIT_MAX_SECONDS) + " waits, with progress notifications). `dry_run: true` returns the "
        "resolved spec and starts nothing. `ocrnet_train` resolves `automl_policy` (explicit, else from "
        "`request`, else on) and reports the decision in `automl`."
    )


def _resources() -> str:
    views = ", ".join(f"`ocrnet://jobs/{{job_id}}/{v}`" for v in JOB_VIEWS)
    return (
        "## Resources\n\n"
        "`ocrnet://skill/SKILL.md`, `ocrnet://skill/skill_info.yaml`, `ocrnet://references/<file>` (guides and "
        "spec templates), `ocrnet://schemas/<file>` (TAO dialect), `ocrnet://schemas/json-schema/<action>.json` "
        f"and `ocrnet://schemas/mcp/tools.json`; per job: {views}. All read-only."
    )


def _errors() -> str:
    return (
        "## Errors and limits\n\n"
        "A bad call (missing or mistyped argument, unknown spec key, value out of range, path outside the "
        "workspace, malformed or unknown job id) returns an `isError` result listing every problem with its "
        "fix; nothing is started. An unknown tool is a protocol error. Limits: arguments "
        f"{C.MAX_ARGUMENTS_BYTES >> 10} KiB, HTTP bodies {C.MAX_HTTP_BODY_BYTES >> 20} MiB, logs "
        f"{C.LOG_MAX_BYTES >> 10} KiB per call. `encryption_key` is never an argument: pass `key_env`, the NAME "
        "of a server environment variable."
    )


def _inspector() -> str:
    lines = [
        f"{INSPECTOR} ocrnet mcp --method tools/list",
        f"{INSPECTOR} ocrnet mcp --method tools/call --tool-name ocrnet_describe_action --tool-arg action=train",
        f"{INSPECTOR} ocrnet mcp --method resources/read --uri ocrnet://skill/SKILL.md",
        f"{INSPECTOR} --config {MCP_CONFIG} --server {C.SERVER_NAME} --method tools/list",
        f"{INSPECTOR} http://127.0.0.1:8765/mcp --method tools/list",
    ]
    return "## Checking with the MCP Inspector CLI\n\n" + code("bash", "\n".join(lines))


def render_guide_md() -> str:
    tools = tool_registry()
    sections = [
        "# OCRNet MCP server\n\nEvery OCRNet action is an MCP tool whose arguments come from the action's schema "
        "and `skill_info.yaml`; jobs run detached and outlive the server.",
        _start(),
        _tools(tools),
        _workflow(),
        _resources(),
        _errors(),
        _inspector(),
    ]
    return f"{MARKDOWN_MARKER}\n\n" + "\n\n".join(sections) + "\n"
