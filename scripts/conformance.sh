#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The official MCP conformance suite against `ocrnet mcp --http`.
#
#   scripts/conformance.sh install        # Node 22 and the suite from npm into the cache (idempotent)
#   scripts/conformance.sh run OUT_DIR    # start the server on a free port, run every server scenario, stop it
#   scripts/conformance.sh run OUT_DIR URL   # run against a server that is already up
#
# The suite needs Node >= 22; both come from the npm registry (the `node` package ships the binary), so the
# machine's own Node (20 here) is left alone. Results: OUT_DIR/server-<scenario>-<time>/checks.json, read by
# tests/test_mcp_conformance.py, which decides what must pass. Cache: $OCRNET_CONFORMANCE_CACHE, else
# .cache/mcp-conformance in the checkout (git-ignored, like the Inspector's .cache/mcp-inspector).
set -euo pipefail

NODE_VERSION=22.23.3
SUITE_VERSION=0.2.0-alpha.12
CACHE="${OCRNET_CONFORMANCE_CACHE:-$(cd "$(dirname "$0")/.." && pwd)/.cache/mcp-conformance}"
STAMP="$CACHE/.installed-node$NODE_VERSION-suite$SUITE_VERSION"
BIN="$CACHE/node_modules/.bin"

install() {
    if [[ -f "$STAMP" && -x "$BIN/node" && -x "$BIN/conformance" ]]; then
        return 0
    fi
    mkdir -p "$CACHE"
    npm install --prefix "$CACHE" --no-audit --no-fund --loglevel=error \
        "node@$NODE_VERSION" "@modelcontextprotocol/conformance@$SUITE_VERSION" >&2
    local version
    version="$("$BIN/node" --version)"
    if [[ "$version" != "v$NODE_VERSION" ]]; then
        echo "conformance.sh: $BIN/node is $version, expected v$NODE_VERSION" >&2
        exit 1
    fi
    touch "$STAMP"
}

start_server() {  # sets SERVER_PID and URL; the server's home and workspace live under $1
    local scratch="$1"
    mkdir -p "$scratch/ws" "$scratch/home"
    OCRNET_HOME="$scratch/home" OCRNET_RESULTS_ROOT="$scratch/home/results" \
        ocrnet mcp --workspace "$scratch/ws" --http 127.0.0.1:0 2>"$scratch/server.log" &
    SERVER_PID=$!
    URL=""
    for _ in $(seq 1 600); do
        URL="$(grep -o 'http://127\.0\.0\.1:[0-9]*/mcp' "$scratch/server.log" | head -n 1 || true)"
        [[ -n "$URL" ]] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "conformance.sh: the server did not start:" >&2
    cat "$scratch/server.log" >&2
    exit 1
}

run() {
    local out="${1:?usage: conformance.sh run OUT_DIR [URL]}" url="${2:-}"
    install
    mkdir -p "$out"
    if [[ -z "$url" ]]; then
        SCRATCH="$(mktemp -d)"
        start_server "$SCRATCH"
        url="$URL"
        trap 'kill -INT "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; rm -rf "$SCRATCH"' EXIT
    fi
    # Every server scenario, extensions included; the suite's exit status says whether all passed, which
    # they cannot (some need its own fixture tools), so the caller reads OUT_DIR instead.
    PATH="$BIN:$PATH" conformance server --url "$url" --suite all --output-dir "$out" || true
}

case "${1:-}" in
    install) install ;;
    run) shift; run "$@" ;;
    *) echo "usage: $0 install | run OUT_DIR [URL]" >&2; exit 2 ;;
esac
