# SPDX-License-Identifier: Apache-2.0
"""HTTP sessions that are never a scarce resource: at the cap, the least recently used idle session goes.

The SDK's session manager refuses a new session with a bare 503 once `max_sessions` are open, so clients that
never close theirs (the Inspector CLI, curl, a crashed agent) lock everyone else out until the idle timeout.
This manager instead ends the session that has waited longest with no request in flight (its id then answers
404 and its client simply initializes again); only when every open session is busy is a new one refused, and
that refusal says what to do.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types import INTERNAL_ERROR, ErrorData, JSONRPCError
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tao_ocrnet.mcp import constants as C

log = logging.getLogger("tao_ocrnet.mcp")


class EvictingSessionManager(StreamableHTTPSessionManager):
    """StreamableHTTPSessionManager with least-recently-used eviction of idle sessions at the cap."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_used: dict[str, float] = {}  # session id -> monotonic time its last request ended
        self._busy: dict[str, int] = {}  # session id -> requests in flight (an open GET stream counts)
        self.evicted = 0

    async def _handle_stateful_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        sid = Headers(scope=scope).get(MCP_SESSION_ID_HEADER)
        if sid is None:
            if self._full() and self._idle_victim() is None:
                await self._refuse(scope, receive, send)
                return
            await super()._handle_stateful_request(scope, receive, send)
            return
        known = sid in self._server_instances
        if known:
            self._busy[sid] = self._busy.get(sid, 0) + 1
        try:
            await super()._handle_stateful_request(scope, receive, send)
        finally:
            if known:
                self._busy[sid] -= 1
                if not self._busy[sid]:
                    del self._busy[sid]
                if sid in self._server_instances:
                    self._last_used[sid] = time.monotonic()
                else:
                    self._last_used.pop(sid, None)

    def _admit_session(self, requestor: Any) -> StreamableHTTPServerTransport | None:
        # Runs under the SDK's session-creation lock, so eviction and admission are one step.
        if self._full():
            victim = self._idle_victim()
            if victim is not None:
                self._evict(victim)
        transport = super()._admit_session(requestor)
        if transport is not None and transport.mcp_session_id is not None:
            self._last_used[transport.mcp_session_id] = time.monotonic()
        return transport

    async def _discard_session(self, session_id: str, transport: StreamableHTTPServerTransport) -> None:
        self._last_used.pop(session_id, None)
        await super()._discard_session(session_id, transport)

    def _full(self) -> bool:
        return self.max_sessions is not None and len(self._server_instances) >= self.max_sessions

    def _idle_victim(self) -> str | None:
        idle = [sid for sid in self._server_instances if not self._busy.get(sid)]
        return min(idle, key=lambda sid: self._last_used.get(sid, 0.0), default=None)

    def _evict(self, sid: str) -> None:
        # Forget it at once (its id answers 404 from now on); its server task ends when the transport does.
        transport = self._server_instances.pop(sid)
        self._session_owners.pop(sid, None)
        self._last_used.pop(sid, None)
        self.evicted += 1
        log.info("session %s evicted (least recently used of %s idle sessions)", sid[:12], self.max_sessions)
        assert self._task_group is not None  # admission happens only while run() is active
        self._task_group.start_soon(transport.terminate)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = (
            f"all {self.max_sessions} MCP sessions of this server are busy with requests; retry in a few seconds, "
            "end sessions you no longer use (HTTP DELETE /mcp with their mcp-session-id header), or restart the "
            f"server with a larger --max-sessions (or ${C.MAX_SESSIONS_ENV})"
        )
        log.warning("refused a new session: %s", message)
        body = JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=INTERNAL_ERROR, message=message))
        response = Response(
            body.model_dump_json(by_alias=True, exclude_unset=True),
            status_code=503,
            media_type="application/json",
            headers={"Retry-After": "5"},
        )
        await response(scope, receive, send)
