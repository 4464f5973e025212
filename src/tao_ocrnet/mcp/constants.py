# SPDX-License-Identifier: Apache-2.0
"""Names, files and limits shared by the tool generator, the server and its tests (import-light)."""

from __future__ import annotations

SERVER_NAME = "tao-ocrnet"
SERVER_TITLE = "TAO OCRNet"
TOOL_PREFIX = "ocrnet_"

# Generated files (relative to the skill root); the server serves tool schemas from TOOLS_FILE only.
TOOLS_FILE = "schemas/mcp/tools.json"
GUIDE_MD = "references/ocrnet-mcp.md"
JSON_SCHEMA_DIR = "schemas/json-schema"

# Environment: the HTTP bearer token, extra workspace roots and allowed Host names.
TOKEN_ENV = "OCRNET_MCP_TOKEN"
WORKSPACE_ENV = "OCRNET_MCP_WORKSPACE"  # os.pathsep-separated; used when --workspace is not given
ALLOWED_HOSTS_ENV = "OCRNET_MCP_ALLOWED_HOSTS"  # comma-separated extra Host header values (HTTP)
MAX_SESSIONS_ENV = "OCRNET_MCP_MAX_SESSIONS"  # used when --max-sessions is not given
SESSION_IDLE_ENV = "OCRNET_MCP_SESSION_IDLE_TIMEOUT"  # seconds; used when --session-idle-timeout is not given
MIN_TOKEN_CHARS = 16

# Limits. Arguments are checked before anything else; the HTTP body limit sits above them so that a
# merely large request gets an actionable isError result instead of a bare 413.
MAX_ARGUMENTS_BYTES = 64 << 10
MAX_HTTP_BODY_BYTES = 1 << 20
# HTTP sessions: the SDK's defaults (a test keeps them equal); at the cap the least recently used idle one goes.
MAX_HTTP_SESSIONS = 10_000
HTTP_SESSION_IDLE_SECONDS = 1800.0
MAX_OVERRIDES = 256
MAX_URI_CHARS = 4096
MAX_REQUEST_CHARS = 4000
WAIT_MAX_SECONDS = 50  # below the ~60 s tool timeout of common clients
LOG_DEFAULT_LINES = 100
LOG_MAX_LINES = 2000
LOG_DEFAULT_BYTES = 16 << 10
LOG_MAX_BYTES = 64 << 10
LIST_DEFAULT_LIMIT = 20
LIST_MAX_LIMIT = 100
CANCEL_MAX_GRACE = 60
RESOURCE_MAX_BYTES = 1 << 20

JOB_ID_PATTERN = r"^ocrnet-[a-z][a-z0-9_]*-[0-9a-f]{6}$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
DOTTED_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
