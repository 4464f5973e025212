# SPDX-License-Identifier: Apache-2.0
"""A real PostgreSQL on loopback for the tests (scripts/postgres.sh): started once per session, stopped at the
end if this session started it. Without one the tests skip with the reason, except in CI (env CI set), where a
missing server is a failure: the tests that need it never skip silently there."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "postgres.sh"


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The server's URL (database `ocrnet`); a test that writes takes its own database (`pg_database`)."""
    was_running = _script("status").returncode == 0
    up = _script("up")
    if up.returncode != 0:
        reason = f"cannot start PostgreSQL with scripts/postgres.sh up: {up.stderr.strip()[-500:]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    yield up.stdout.strip()
    if not was_running:
        _script("down")


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """A new, empty database (no Optuna tables yet) for one test; dropped afterwards. Yields its URL."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
