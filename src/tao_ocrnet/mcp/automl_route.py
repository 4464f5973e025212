# SPDX-License-Identifier: Apache-2.0
"""The AutoML study tools `ocrnet_automl_status` and `ocrnet_automl_cancel`.

A train request the policy (`tao_ocrnet.automl.policy.resolve_policy`) routes to AutoML goes to
`tao_ocrnet.automl.router.route_train` from `handlers.call_action`; the study it starts is watched and
stopped here.
"""

from __future__ import annotations

from typing import Any

import anyio

from tao_ocrnet.automl.runner import cancel_study, study_status
from tao_ocrnet.mcp.context import ToolCall


def _brief(status: dict[str, Any], history: bool) -> dict[str, Any]:
    # The per-trial history grows with the study: sent only on request, as the CLI does.
    return status if history else {k: v for k, v in status.items() if k != "history"}


async def automl_status(call: ToolCall) -> dict[str, Any]:
    status = await anyio.to_thread.run_sync(lambda: study_status(call.args["study"]))
    return _brief(status, bool(call.args.get("history", False)))


async def automl_cancel(call: ToolCall) -> dict[str, Any]:
    grace = float(call.args.get("grace_seconds", 20))
    status = await anyio.to_thread.run_sync(lambda: cancel_study(call.args["study"], grace=grace))
    return _brief(status, False)
