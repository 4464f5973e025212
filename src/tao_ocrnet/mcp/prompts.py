# SPDX-License-Identifier: Apache-2.0
"""prompts/list and prompts/get: the workflow prompts of the generated `schemas/mcp/prompts.json`.

The server serves what `ocrnet skill generate` wrote (like tools.json); it only fills in the arguments.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError

from tao_ocrnet.errors import UserError

PROMPTS_FILE = "schemas/mcp/prompts.json"  # written by tao_ocrnet.skill.prompts (a test keeps them equal)


@dataclass(frozen=True)
class PromptBook:
    prompts: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, skill_root: Path) -> PromptBook:
        path = skill_root / PROMPTS_FILE
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"{path} is missing; run `ocrnet skill generate` in the tao-ocrnet checkout") from None
        except (OSError, ValueError) as exc:
            raise UserError(f"{path} cannot be read ({exc}); run `ocrnet skill generate`") from None
        return cls({p["name"]: p for p in document["prompts"]})

    def listing(self) -> types.ListPromptsResult:
        return types.ListPromptsResult(
            prompts=[
                types.Prompt(
                    name=p["name"],
                    title=p["title"],
                    description=p["description"],
                    arguments=[
                        types.PromptArgument(name=a["name"], description=a["description"], required=a["required"])
                        for a in p["arguments"]
                    ],
                )
                for p in self.prompts.values()
            ]
        )

    def get(self, name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        prompt = self.prompts.get(name)
        if prompt is None:
            raise MCPError(types.INVALID_PARAMS, f"no prompt {name!r}; prompts/list names {', '.join(self.prompts)}")
        given = dict(arguments or {})
        declared = {a["name"]: a for a in prompt["arguments"]}
        unknown = sorted(set(given) - set(declared))
        missing = [n for n, a in declared.items() if a["required"] and not str(given.get(n, "")).strip()]
        if unknown or missing:
            parts = [f"missing required argument(s) {', '.join(missing)}"] if missing else []
            parts += [f"unknown argument(s) {', '.join(unknown)} (it takes {', '.join(declared)})"] if unknown else []
            raise MCPError(types.INVALID_PARAMS, f"prompt {name}: " + "; ".join(parts))
        values = {n: str(given.get(n) or a.get("default", "")) for n, a in declared.items()}
        text = string.Template(prompt["text"]).safe_substitute(values)
        return types.GetPromptResult(
            description=prompt["description"],
            messages=[types.PromptMessage(role="user", content=types.TextContent(type="text", text=text))],
        )

    def completes(self, prompt: str, argument: str) -> str | None:
        """What kind of value a prompt argument takes (job_id, study, action), if the server can complete it."""
        for a in self.prompts.get(prompt, {}).get("arguments", []):
            if a["name"] == argument:
                return a.get("complete")
        return None
