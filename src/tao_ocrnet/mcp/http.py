# SPDX-License-Identifier: Apache-2.0
"""Streamable HTTP on uvicorn: `ocrnet mcp --http HOST:PORT` (endpoint `/mcp`).

- 127.0.0.1 by default; the SDK's DNS-rebinding protection (Host and Origin allow-lists) stays on, and for
  a non-loopback bind the allow-list is the bound host, loopback and `$OCRNET_MCP_ALLOWED_HOSTS`.
- A bearer token is REQUIRED whenever the server binds beyond loopback; it is read from `$OCRNET_MCP_TOKEN`
  (never from the command line, where `ps` would show it) and checked in constant time. When the variable is
  set on loopback, it is required there too.
- Request bodies over MAX_HTTP_BODY_BYTES get 413. Sessions expire when idle, and at the cap the least
  recently used idle one is ended instead of refusing the newcomer (`sessions.py`); both limits are
  `--max-sessions` / `--session-idle-timeout` (or their environment variables), the SDK's defaults otherwise.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tao_ocrnet.errors import UserError
from tao_ocrnet.mcp import constants as C

if TYPE_CHECKING:  # the SDK and the server's runtime load only to serve (see serve_http)
    from mcp.server.lowlevel import Server
    from mcp.server.transport_security import TransportSecuritySettings

    from tao_ocrnet.mcp.context import Runtime

log = logging.getLogger("tao_ocrnet.mcp")

LOOPBACK_NAMES = ("localhost",)
ENDPOINT = "/mcp"


def parse_bind(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[v6]:PORT` or `PORT` (host 127.0.0.1)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise UserError(f"--http {text}: expected HOST:PORT, e.g. 127.0.0.1:8765") from None
    if not 0 <= number <= 65535:
        raise UserError(f"--http {text}: port {number} is out of range 0..65535")
    return host, number


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bearer_token(host: str) -> str | None:
    token = os.environ.get(C.TOKEN_ENV, "").strip()
    if not is_loopback(host) and not token:
        raise UserError(
            f"--http {host}: binding beyond loopback needs a bearer token; export {C.TOKEN_ENV} (at least "
            f"{C.MIN_TOKEN_CHARS} characters, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe())'`) "
            "and send it as `Authorization: Bearer <token>`, or bind 127.0.0.1"
        )
    if token and len(token) < C.MIN_TOKEN_CHARS:
        raise UserError(f"{C.TOKEN_ENV} is shorter than {C.MIN_TOKEN_CHARS} characters; use a longer random token")
    return token or None


class BearerAuth:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            given = headers.get(b"authorization", b"")
            scheme, _, value = given.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(value.strip(), self.token):
                body = json.dumps({"error": "unauthorized", "error_description": "missing or wrong bearer token"})
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="tao-ocrnet"'),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body.encode()})
                return
        await self.app(scope, receive, send)  # fmt: skip


@dataclass(frozen=True)
class SessionLimits:
    max_sessions: int = C.MAX_HTTP_SESSIONS
    idle_seconds: float = C.HTTP_SESSION_IDLE_SECONDS


def _number(text: str, option: str, env: str, kind: type[int] | type[float]) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if not 0 < value < float("inf"):
        raise UserError(f"{option} (or ${env}) {text!r}: expected a positive {kind.__name__}, e.g. {option} 100")
    return value


def session_limits(max_sessions: str | None, idle_seconds: str | None) -> SessionLimits:
    """The session cap and idle timeout: the option, else its environment variable, else the SDK's default."""
    cap = max_sessions or os.environ.get(C.MAX_SESSIONS_ENV, "").strip()
    idle = idle_seconds or os.environ.get(C.SESSION_IDLE_ENV, "").strip()
    limits = SessionLimits()
    return SessionLimits(
        int(_number(cap, "--max-sessions", C.MAX_SESSIONS_ENV, int)) if cap else limits.max_sessions,
        float(_number(idle, "--session-idle-timeout", C.SESSION_IDLE_ENV, float)) if idle else limits.idle_seconds,
    )


def _security(host: str) -> TransportSecuritySettings:
    """The Host/Origin allow-list: loopback names always, plus the bound host and the configured extras."""
    from mcp.server.transport_security import TransportSecuritySettings  # the SDK: see serve_http

    names = ["127.0.0.1", "localhost", "[::1]"]  # the SDK's own loopback list
    if host in ("0.0.0.0", "::"):
        names.append(socket.gethostname())
    elif host not in ("127.0.0.1", "localhost", "::1"):
        names.append(f"[{host}]" if ":" in host else host)
    names += [n.strip() for n in os.environ.get(C.ALLOWED_HOSTS_ENV, "").split(",") if n.strip()]
    hosts = [h for n in names for h in (n, f"{n}:*")]
    origins = [o for n in names for o in (f"http://{n}", f"https://{n}", f"http://{n}:*", f"https://{n}:*")]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def build_app(server: Server, host: str, token: str | None, limits: SessionLimits) -> Any:
    """The Starlette app of `Server.streamable_http_app`, with the evicting session manager in its place."""
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
    from starlette.applications import Starlette
    from starlette.routing import Route

    from tao_ocrnet.mcp.sessions import EvictingSessionManager

    manager = EvictingSessionManager(
        app=server,
        security_settings=_security(host),
        max_request_body_size=C.MAX_HTTP_BODY_BYTES,
        max_sessions=limits.max_sessions,
        session_idle_timeout=limits.idle_seconds,
    )
    app = Starlette(
        routes=[Route(ENDPOINT, endpoint=StreamableHTTPASGIApp(manager))], lifespan=lambda _app: manager.run()
    )
    return BearerAuth(app, token) if token else app


def check_http(bind: str) -> tuple[str, int, str | None]:
    """(host, port, token) for `--http`, checked before anything is loaded: a refusal is immediate."""
    host, port = parse_bind(bind)
    return host, port, bearer_token(host)


def serve_http(runtime: Runtime, host: str, port: int, token: str | None, limits: SessionLimits) -> None:
    # uvicorn and the SDK load only to serve: every `ocrnet` command imports this module (via mcp/cli.py).
    import uvicorn

    from tao_ocrnet.mcp.server import build_server

    bind = f"{host}:{port}"
    app = build_app(build_server(runtime), host, token, limits)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(f"--http {bind}: cannot bind ({exc.strerror})") from None
    # Listen before announcing the port: a client that connects while uvicorn is still starting then
    # waits in the backlog instead of being refused.
    sock.listen(socket.SOMAXCONN)
    actual = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    # One line on stderr a supervisor (or a test) can read: the real port when 0 was asked for.
    log.warning("tao-ocrnet MCP server on http://%s:%d%s (auth: %s)", shown, actual, ENDPOINT,
                "bearer token" if token else "none, loopback only")  # fmt: skip
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
