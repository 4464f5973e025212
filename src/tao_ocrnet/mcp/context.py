# SPDX-License-Identifier: Apache-2.0
"""What a running server holds: the generated tool file, validators, spec schemas, workspace, job service.

Loaded once at start-up from the skill root's generated files (never from the spec models: importing
those is slower and would let the server drift from what `ocrnet skill generate --check` verified).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs import paths
from tao_ocrnet.jobs.service import JobService
from tao_ocrnet.mcp import constants as C
from tao_ocrnet.mcp.validation import ArgumentValidator, SpecSchema, spec_names
from tao_ocrnet.mcp.workspace import Workspace

ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]
LogFn = Callable[[str, Any], Awaitable[None]]  # (level, data) -> one `notifications/message`


@dataclass
class ToolCall:
    """One validated call, as a handler sees it."""

    name: str
    args: dict[str, Any]
    binding: dict[str, Any]
    runtime: Runtime
    progress: ProgressFn
    log: LogFn | None = None  # set only when the client enabled logging for this call
    as_task: bool = False  # a task-augmented call: start the work and return at once (no wait)


Handler = Callable[[ToolCall], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class CheckedHandler:
    """A handler that can also list a call's spec and path problems: when the arguments fail their schema,
    the server reports those too, so one reply names everything to fix."""

    run: Handler
    precheck: Callable[[ToolCall], list[str]]

    def __call__(self, call: ToolCall) -> Awaitable[dict[str, Any]]:
        return self.run(call)


def load_tools_file(skill_root: Path) -> dict[str, Any]:
    path = skill_root / C.TOOLS_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} is missing; run `ocrnet skill generate` in the tao-ocrnet checkout") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} cannot be read ({exc}); run `ocrnet skill generate`") from None


@dataclass
class Runtime:
    skill_root: Path
    workspace: Workspace
    document: dict[str, Any]
    validator: ArgumentValidator
    specs: dict[str, SpecSchema]
    _handlers: dict[str, Handler] = field(default_factory=dict)

    @classmethod
    def load(cls, skill_root: Path, workspace_dirs: list[str]) -> Runtime:
        document = load_tools_file(skill_root)
        workspace = Workspace.create(workspace_dirs, managed=[paths.results_root()])
        schemas = sorted({b["schema"] for b in document["bindings"].values() if "schema" in b})
        specs = {name: SpecSchema.load(skill_root / C.JSON_SCHEMA_DIR / f"{name}.json") for name in schemas}
        names = {
            tool: spec_names(specs[b["schema"]].leaves, b.get("aliases", {}))
            for tool, b in document["bindings"].items()
            if "schema" in b
        }
        return cls(skill_root, workspace, document, ArgumentValidator(document["tools"], names), specs)

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self.document["tools"]

    def binding(self, name: str) -> dict[str, Any] | None:
        return self.document["bindings"].get(name)

    @cached_property
    def service(self) -> JobService:
        return JobService()

    def handler(self, name: str) -> Handler:
        if name not in self._handlers:
            module, _, func = self.document["bindings"][name]["handler"].partition(":")
            self._handlers[name] = getattr(importlib.import_module(module), func)
        return self._handlers[name]
