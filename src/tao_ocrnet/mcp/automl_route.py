# SPDX-License-Identifier: Apache-2.0
"""Where `ocrnet_train` / `ocrnet_retrain` go when the AutoML policy routes a request to the tuner.

The policy itself is `tao_ocrnet.automl.policy.resolve_policy`. The runner belongs to the AutoML layer
and plugs in through `ROUTER_MODULE` (`tao_ocrnet.automl.router`), which provides

    def route_train(request: JobRequest, decision: PolicyDecision, *, dry_run: bool) -> dict

returning the tool's structured result (at least `job_id`, `action`, `state`, `dry_run`; the server adds
`automl`); the caller's `automl_settings`, when given, arrive as a `settings=` keyword. In an installation
without that module, a request routed to AutoML trains directly and the result says so.

The study tools `ocrnet_automl_status` and `ocrnet_automl_cancel` are handled here too.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

import anyio

from tao_ocrnet.mcp.context import ToolCall

ROUTER_MODULE = "tao_ocrnet.automl.router"
NO_RUNNER = (
    "AutoML was selected ({reason}), but no AutoML runner is installed in this version, so this job trains "
    "directly with the given settings. Pass automl_policy='off' to make that explicit."
)


def find_router() -> Callable[..., dict[str, Any]] | None:
    try:
        if importlib.util.find_spec(ROUTER_MODULE) is None:
            return None
    except ModuleNotFoundError:
        return None
    return getattr(importlib.import_module(ROUTER_MODULE), "route_train", None)


def _brief(status: dict[str, Any], history: bool) -> dict[str, Any]:
    # The per-trial history grows with the study: sent only on request, as the CLI does.
    return status if history else {k: v for k, v in status.items() if k != "history"}


async def automl_status(call: ToolCall) -> dict[str, Any]:
    from tao_ocrnet.automl.runner import study_status

    status = await anyio.to_thread.run_sync(lambda: study_status(call.args["study"]))
    return _brief(status, bool(call.args.get("history", False)))


async def automl_cancel(call: ToolCall) -> dict[str, Any]:
    from tao_ocrnet.automl.runner import cancel_study

    grace = float(call.args.get("grace_seconds", 20))
    status = await anyio.to_thread.run_sync(lambda: cancel_study(call.args["study"], grace=grace))
    return _brief(status, False)
