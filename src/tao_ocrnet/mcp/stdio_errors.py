# SPDX-License-Identifier: Apache-2.0
"""Answer malformed stdio input with a JSON-RPC error instead of dropping it.

The SDK's stdio transport turns a line it cannot parse into an exception item on the read stream, and the
server only logs that at debug level: a client that sent broken JSON waits forever. This wrapper around the
read stream answers such a line at once with `-32700 Parse error` (invalid JSON) or `-32600 Invalid
Request` (JSON that is no JSON-RPC message), with `id: null` as JSON-RPC 2.0 asks, and passes everything
else through unchanged.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

import anyio
import mcp_types as types
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

PARSE_ERROR = -32700
INVALID_REQUEST = -32600


def error_for(exc: Exception) -> types.JSONRPCError:
    invalid_json = isinstance(exc, ValidationError | json.JSONDecodeError) and (
        not isinstance(exc, ValidationError) or any(e.get("type") == "json_invalid" for e in exc.errors())
    )
    if invalid_json:
        data = types.ErrorData(code=PARSE_ERROR, message="Parse error: the line is not valid JSON")
    else:
        data = types.ErrorData(code=INVALID_REQUEST, message="Invalid Request: the line is not a JSON-RPC 2.0 message")
    return types.JSONRPCError(jsonrpc="2.0", id=None, error=data)


class AnswerMalformed:
    """A read stream (the SDK's ReadStream protocol) that answers malformed input on `write`."""

    def __init__(self, inner: Any, write: Any) -> None:
        self._inner = inner
        self._write = write

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)  # the sender's context, as the dispatcher reads it

    async def receive(self) -> SessionMessage:
        while True:
            item = await self._inner.receive()
            if not isinstance(item, Exception):
                return item
            await self._write.send(SessionMessage(error_for(item)))

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> AnswerMalformed:
        return self

    async def __anext__(self) -> SessionMessage:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> AnswerMalformed:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
