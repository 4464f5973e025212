# SPDX-License-Identifier: Apache-2.0
"""`ocrnet mcp [--http HOST:PORT [--max-sessions N] [--session-idle-timeout S]] [--workspace DIR ...]`.

Serve the tools over stdio (default) or HTTP.

Every `ocrnet` command builds this parser, so the SDK, anyio and jsonschema (the server's runtime) are
imported only when `ocrnet mcp` runs.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from tao_ocrnet.errors import UserError
from tao_ocrnet.mcp import constants as C
from tao_ocrnet.mcp.http import check_http, serve_http, session_limits
from tao_ocrnet.skill_root import skill_root


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mcp",
        help="serve every OCRNet action as an MCP tool (stdio by default)",
        description="Serve the OCRNet actions, job tools and skill files over MCP. Logs go to stderr; over "
        "stdio, stdout carries only protocol messages.",
    )
    p.add_argument(
        "--http",
        metavar="HOST:PORT",
        help=f"serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (binding beyond loopback needs "
        f"${C.TOKEN_ENV})",
    )
    p.add_argument(
        "--max-sessions",
        metavar="N",
        help=f"HTTP: sessions open at once; at the cap the least recently used idle one is ended (default "
        f"${C.MAX_SESSIONS_ENV}, else {C.MAX_HTTP_SESSIONS}, the SDK's)",
    )
    p.add_argument(
        "--session-idle-timeout",
        metavar="S",
        help=f"HTTP: seconds a session may stay idle before it ends (default ${C.SESSION_IDLE_ENV}, else "
        f"{C.HTTP_SESSION_IDLE_SECONDS:g}, the SDK's)",
    )
    p.add_argument(
        "--workspace",
        action="append",
        default=[],
        metavar="DIR",
        help=f"a folder tool paths may use (repeatable; default ${C.WORKSPACE_ENV}, else the current folder)",
    )
    p.add_argument("--skill-root", metavar="DIR", help="the skill's folder (default: this checkout)")
    p.set_defaults(handler=main)


def workspace_dirs(given: list[str]) -> list[str]:
    if given:
        return given
    env = [d for d in os.environ.get(C.WORKSPACE_ENV, "").split(os.pathsep) if d.strip()]
    return env or [os.getcwd()]


def main(args: argparse.Namespace) -> int:
    import anyio

    from tao_ocrnet.mcp.context import Runtime

    if not args.verbose:
        # The SDK logs every request at INFO; on stderr that is noise and costs time per call.
        logging.getLogger("mcp").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)
    http = None
    if args.http:
        http = check_http(args.http)
        limits = session_limits(args.max_sessions, args.session_idle_timeout)
    elif args.max_sessions or args.session_idle_timeout:
        raise UserError("--max-sessions and --session-idle-timeout apply to --http only; add --http HOST:PORT")
    root = Path(args.skill_root).resolve() if args.skill_root else skill_root()
    runtime = Runtime.load(root, workspace_dirs(args.workspace))
    logging.getLogger("tao_ocrnet.mcp").info("workspace roots: %s", runtime.workspace.describe())
    if http is not None:
        serve_http(runtime, *http, limits)
        return 0
    from tao_ocrnet.mcp.server import serve_stdio  # the SDK: after --http was checked, so a refusal is immediate

    anyio.run(serve_stdio, runtime)
    return 0
