# SPDX-License-Identifier: Apache-2.0
"""Tool results as the wire carries them: structured content plus the same JSON as text, or an isError text."""

from __future__ import annotations

import json
from typing import Any

import mcp_types as types


def _text(data: Any) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False, default=str)


def ok_result(data: dict[str, Any]) -> types.CallToolResult:
    # structuredContent plus the same JSON as text, for clients that only read content.
    return types.CallToolResult(content=[types.TextContent(type="text", text=_text(data))], structured_content=data)


def error_result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)
