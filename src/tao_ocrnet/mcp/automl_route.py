# SPDX-License-Identifier: Apache-2.0
"""Where `ocrnet_train` / `ocrnet_retrain` go when the AutoML policy routes a request to the tuner.

The policy itself is `tao_ocrnet.automl.policy.resolve_policy`. The runner belongs to the AutoML layer
(issue 7): it plugs in by providing `ROUTER_MODULE` with

    def route_train(request: JobRequest, decision: PolicyDecision, *, dry_run: bool) -> dict

returning the tool's structured result (at least `job_id`, `action`, `state`, `dry_run`; the server adds
`automl`). Until that module exists, a request routed to AutoML trains directly and the result says so.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

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
