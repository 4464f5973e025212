# SPDX-License-Identifier: Apache-2.0
"""The rest of the protocol beside tools and resources: prompts, completions, job-state subscriptions and the
skills extension, installed on a built server in one step (`ProtocolExtras.install`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server import ServerRequestContext
from mcp.server.lowlevel import Server

from tao_ocrnet.mcp.completions import complete
from tao_ocrnet.mcp.context import Runtime
from tao_ocrnet.mcp.prompts import PromptBook
from tao_ocrnet.mcp.resources import StaticResource
from tao_ocrnet.mcp.skills import SkillFiles
from tao_ocrnet.mcp.subscriptions import JobWatch

Context = ServerRequestContext[Any]


@dataclass
class ProtocolExtras:
    runtime: Runtime
    prompts: PromptBook
    skills: SkillFiles
    watch: JobWatch

    @classmethod
    def create(cls, runtime: Runtime, statics: dict[str, StaticResource]) -> ProtocolExtras:
        return cls(
            runtime, PromptBook.load(runtime.skill_root), SkillFiles(runtime.skill_root, statics),
            JobWatch(lambda: runtime.service),
        )  # fmt: skip

    async def _list_prompts(self, ctx: Context, params: types.PaginatedRequestParams) -> types.ListPromptsResult:
        return self.prompts.listing()

    async def _get_prompt(self, ctx: Context, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        return self.prompts.get(params.name, params.arguments)

    async def _complete(self, ctx: Context, params: types.CompleteRequestParams) -> types.CompleteResult:
        return await complete(self.runtime, self.prompts, params)

    def install(self, server: Server[Any]) -> None:
        server.add_request_handler("prompts/list", types.PaginatedRequestParams, self._list_prompts)
        server.add_request_handler("prompts/get", types.GetPromptRequestParams, self._get_prompt)
        server.add_request_handler("completion/complete", types.CompleteRequestParams, self._complete)
        server.add_request_handler("resources/subscribe", types.SubscribeRequestParams, self.watch.subscribe)
        server.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, self.watch.unsubscribe)
        server.add_request_handler("subscriptions/listen", types.SubscriptionsListenRequestParams, self.watch.listen)
        server.lifespan = self.watch.running  # the job-state poller runs while the server does
        self.skills.register(server)
