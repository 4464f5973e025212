# SPDX-License-Identifier: Apache-2.0
"""`notifications/message` to the client, at the level it asked for and under its protocol era's rule.

Handshake era: nothing is sent until the client calls `logging/setLevel`; from then on that level and above,
for the rest of the connection. 2026-07-28: a request opts in with `_meta["io.modelcontextprotocol/logLevel"]`
and its lines ride that request's own stream (the SDK's `allowed_log_levels`). Lines are sent with the
typed notification rather than the SDK's deprecated `send_log_message` helper (SEP-2577 deprecates logging
in 2026-07-28; handshake-era clients such as the Inspector still use it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import mcp_types as types
from mcp.server import ServerRequestContext
from mcp.server.connection import allowed_log_levels
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from tao_ocrnet.mcp.context import LogFn

LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
LOGGER = "tao-ocrnet"
_STATE_KEY = "tao_ocrnet.log_level"

Context = ServerRequestContext[Any]


def _connection_state(ctx: Context) -> dict[str, Any]:
    # Per-connection scratch state lives on the SDK's Connection; the request context reaches it only
    # through the session (ServerRequestContext has no public handle on the connection).
    return ctx.session._connection.state


async def set_level(ctx: Context, params: types.SetLevelRequestParams) -> types.EmptyResult:
    """`logging/setLevel` (handshake era): the level this connection's log lines start at."""
    _connection_state(ctx)[_STATE_KEY] = params.level
    return types.EmptyResult()


def allowed(ctx: Context) -> frozenset[str]:
    """The levels this request may send now (empty: logging is off for it)."""
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        meta = (ctx.params or {}).get("_meta")
        return frozenset(allowed_log_levels(ctx.protocol_version, cast(Mapping[str, Any] | None, meta)))
    level = _connection_state(ctx).get(_STATE_KEY)
    return frozenset(LEVELS[LEVELS.index(level) :]) if level in LEVELS else frozenset()


def log_fn(ctx: Context) -> LogFn | None:
    """A sender of log lines for this request, or None when the client has not enabled logging."""
    if not allowed(ctx):
        return None

    async def send(level: str, data: Any) -> None:
        if level not in allowed(ctx):  # handshake era: a later logging/setLevel applies at once
            return
        params = types.LoggingMessageNotificationParams(level=cast(types.LoggingLevel, level), data=data, logger=LOGGER)
        notification = types.LoggingMessageNotification(params=params)
        await ctx.session.send_notification(notification, related_request_id=ctx.request_id)

    return send
