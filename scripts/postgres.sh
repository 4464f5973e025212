#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A private PostgreSQL on loopback for the AutoML tests and by hand (Debian package `postgresql`).
#
#   scripts/postgres.sh up       initdb (first time), start, create database `ocrnet`; prints the storage URL
#   scripts/postgres.sh down     stop it (pg_ctl -m fast)
#   scripts/postgres.sh status   running or not; prints the storage URL when running
#
# OCRNET_PG_DIR (default /tmp/ocrnet-postgres) holds the cluster, its socket and its log; OCRNET_PG_PORT (default
# 15432) is the loopback port. Trust authentication: for tests on one machine only, never for a shared server.
# `up` and `down` are idempotent. The URL goes to stdout alone, messages to stderr, so callers can capture it:
#   export OCRNET_AUTOML_STORAGE=$(scripts/postgres.sh up)
set -euo pipefail

PG_DIR=${OCRNET_PG_DIR:-/tmp/ocrnet-postgres}
PORT=${OCRNET_PG_PORT:-15432}
DB=ocrnet
DATA=$PG_DIR/data
LOG=$PG_DIR/postgres.log

say() { echo "postgres.sh: $*" >&2; }

bindir() {
    # Debian keeps the server programs out of PATH (/usr/lib/postgresql/<major>/bin); take the newest.
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"  # Debian links only some programs into PATH
        return
    fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [[ -n $found ]] || { say "PostgreSQL is not installed (Debian: apt-get install postgresql)"; exit 1; }
    echo "$found"
}

BIN=$(bindir)

# The server refuses to run as root: run its programs as `postgres` (or as ourselves when not root).
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

url() { echo "postgresql://postgres@127.0.0.1:$PORT/$DB"; }

running() { [[ -f $DATA/postmaster.pid ]] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

up() {
    mkdir -p "$PG_DIR"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$PG_DIR"
    if [[ ! -f $DATA/PG_VERSION ]]; then
        rm -rf "$DATA"
        as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --no-instructions >/dev/null \
            || { say "initdb failed in $DATA"; exit 1; }
    fi
    if ! running; then
        # The socket lives in PG_DIR (not /var/run/postgresql, which may not exist); TCP on loopback only.
        as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
            -o "-p $PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null \
            || { say "the server did not start; see $LOG"; tail -n 20 "$LOG" >&2 || true; exit 1; }
    fi
    if ! as_pg "$BIN/psql" -h "$PG_DIR" -p "$PORT" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
        as_pg "$BIN/createdb" -h "$PG_DIR" -p "$PORT" -U postgres "$DB"
    fi
    url
}

down() {
    if running; then
        as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
        say "stopped"
    else
        say "not running"
    fi
}

status() {
    if running; then
        url
    else
        say "not running"
        return 1
    fi
}

case ${1:-} in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status   (OCRNET_PG_DIR=$PG_DIR, OCRNET_PG_PORT=$PORT)" >&2; exit 2 ;;
esac
