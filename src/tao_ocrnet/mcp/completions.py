# SPDX-License-Identifier: Apache-2.0
"""completion/complete: job ids, AutoML study names and action names for prompt arguments and for the
variables of the job resource templates (`ocrnet://jobs/{job_id}/...`).

An argument completes by what it holds: a prompt argument by the kind its generated definition names
(`complete`), a template variable by its name. Anything else completes to nothing (an empty list, as the
spec allows), never to an error.
"""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types

from tao_ocrnet.automl import workspace as wsp
from tao_ocrnet.mcp.context import Runtime
from tao_ocrnet.mcp.prompts import PromptBook

MAX_VALUES = 100  # the spec's cap per response
VARIABLE_KINDS = {"job_id": "job_id", "study": "study", "action": "action"}


def _job_ids(runtime: Runtime) -> list[str]:
    records = sorted(runtime.service.store.list(), key=lambda r: r.get("submitted_at", ""), reverse=True)
    return [r["id"] for r in records]


def _studies(_: Runtime) -> list[str]:
    root = wsp.automl_root()
    names = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        info = wsp.read_json(folder / wsp.STUDY_FILE)
        if isinstance(info, dict):
            names.append(str(info.get("name", folder.name)))
    return names


def _actions(runtime: Runtime) -> list[str]:
    return sorted({b["action"] for b in runtime.document["bindings"].values() if "action" in b})


SOURCES = {"job_id": _job_ids, "study": _studies, "action": _actions}


def _kind(prompts: PromptBook, ref: Any, argument: str) -> str | None:
    if isinstance(ref, types.PromptReference):
        return prompts.completes(ref.name, argument)
    if isinstance(ref, types.ResourceTemplateReference) and ref.uri.startswith("ocrnet://jobs/"):
        return VARIABLE_KINDS.get(argument)
    return None


async def complete(runtime: Runtime, prompts: PromptBook, params: types.CompleteRequestParams) -> types.CompleteResult:
    kind = _kind(prompts, params.ref, params.argument.name)
    values: list[str] = []
    if kind is not None:
        prefix = params.argument.value or ""
        every = await anyio.to_thread.run_sync(SOURCES[kind], runtime)
        values = [v for v in every if v.startswith(prefix)]
    return types.CompleteResult(
        completion=types.Completion(values=values[:MAX_VALUES], total=len(values), has_more=len(values) > MAX_VALUES)
    )
