# SPDX-License-Identifier: Apache-2.0
"""The skills extension (SEP-2640, `io.modelcontextprotocol/skills`): this skill as `skill://` resources.

`skills/list` and `skills/get` describe the one skill this server carries: its SKILL.md URI
(`skill://<name>/SKILL.md`, the name from the frontmatter), the frontmatter itself, and every file of the
skill (SKILL.md, skill_info.yaml, references/, schemas/) with its SHA-256 digest and size; `resources/read`
serves each of those URIs. The file set is fixed at start-up; digests are computed on first use.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import mcp_types as types
import yaml
from mcp.shared.exceptions import MCPError

from tao_ocrnet.mcp.resources import ResourceNotFound, StaticResource, read_static

EXTENSION = "io.modelcontextprotocol/skills"
SKILL_MD = "SKILL.md"
LIST_TTL_MS = 60_000  # the skill changes only with a new server


class SkillGetParams(types.RequestParams):
    uri: str


def frontmatter(text: str) -> dict[str, Any]:
    """The YAML between the leading `---` lines of a SKILL.md."""
    if not text.startswith("---"):
        return {}
    head, sep, _ = text[3:].partition("\n---")
    loaded = yaml.safe_load(head) if sep else None
    return loaded if isinstance(loaded, dict) else {}


@dataclass
class SkillFiles:
    """The skill's files under `skill://<name>/<path>`, built from the static resources of the skill root."""

    skill_root: Path
    statics: dict[str, StaticResource]
    files: dict[str, StaticResource] = field(init=False)

    def __post_init__(self) -> None:
        self.files = {}
        for res in self.statics.values():
            uri = f"{self.base}/{res.name}"
            self.files[uri] = StaticResource(uri, res.path, res.name, res.mime, res.description)

    @cached_property
    def frontmatter(self) -> dict[str, Any]:
        return frontmatter((self.skill_root / SKILL_MD).read_text(encoding="utf-8"))

    @property
    def base(self) -> str:
        return f"skill://{self.frontmatter.get('name', 'tao-train-ocrnet')}"

    @property
    def uri(self) -> str:
        return f"{self.base}/{SKILL_MD}"

    @cached_property
    def entry(self) -> dict[str, Any]:
        def digest(res: StaticResource) -> dict[str, Any]:
            data = res.path.read_bytes()
            return {"uri": res.uri, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}

        return {"uri": self.uri, "frontmatter": self.frontmatter, "resources": [digest(r) for r in self.files.values()]}

    def resources(self) -> list[types.Resource]:
        """The SKILL.md resource (named and described as its frontmatter says) for resources/list."""
        fm = self.frontmatter
        return [types.Resource(uri=self.uri, name=str(fm.get("name")), description=fm.get("description"),
                               mime_type="text/markdown")]  # fmt: skip

    def read(self, uri: str) -> tuple[str, str] | None:
        """(text, mime) of a skill file, None when `uri` is not one."""
        res = self.files.get(uri)
        if res is None:
            if uri.startswith(self.base + "/"):
                raise ResourceNotFound(f"no file {uri} in this skill; skills/get lists them")
            return None
        return read_static(res, self.skill_root), res.mime

    # --- extension methods ---------------------------------------------------------------------

    async def list(self, ctx: Any, params: types.PaginatedRequestParams) -> dict[str, Any]:
        return {"skills": [self.entry], "ttlMs": LIST_TTL_MS, "cacheScope": "public"}

    async def get(self, ctx: Any, params: SkillGetParams) -> dict[str, Any]:
        if params.uri != self.uri:
            raise MCPError(types.INVALID_PARAMS, f"no skill {params.uri}; skills/list names {self.uri}",
                           data={"uri": params.uri})  # fmt: skip
        return {"skill": self.entry, "ttlMs": LIST_TTL_MS, "cacheScope": "public"}

    def register(self, server: Any) -> None:
        server.extensions[EXTENSION] = {}
        server.add_request_handler("skills/list", types.PaginatedRequestParams, self.list)
        server.add_request_handler("skills/get", SkillGetParams, self.get)
