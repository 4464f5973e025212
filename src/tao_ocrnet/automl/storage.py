# SPDX-License-Identifier: Apache-2.0
"""Optuna storages by URL: a journal file (default), SQLite, or an RDB shared by workers on several machines.

- `journal:///abs/path/journal.log`: the embedded default, a journal file in the study workspace; on a shared
  file system (NFS v3 or later, Lustre, GPFS) it is also the server-less way to share a study between nodes:
  writers take Optuna's `JournalFileOpenLock` (an O_CREAT|O_EXCL lock file, safe over NFS), and a worker's
  trial carries a lease (recovery.py) in place of heartbeats, which journals do not have;
- `sqlite:///abs/path/study.db`: SQLite through RDBStorage (heartbeats: a dead worker's trial is retried);
- `postgresql://...` (psycopg 3, SQLAlchemy 2's default; `postgresql+psycopg2://` for psycopg2), `mysql://...`
  (any SQLAlchemy URL): shared by workers on any number of machines, with heartbeats.

A URL is opened (and an RDB reached) before anything is created, so an unreachable storage is an error up
front. Passwords never reach study.json, logs or argv: `mask` hides them and workers get the URL through
the OCRNET_AUTOML_STORAGE environment variable. The first open of an empty PostgreSQL database creates
Optuna's tables: concurrent first opens are serialised by an advisory lock (two workers creating the tables at
once otherwise fail with UniqueViolation), and any RDB retries a first open that lost such a race.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tao_ocrnet.errors import UserError

log = logging.getLogger(__name__)

STORAGE_ENV = "OCRNET_AUTOML_STORAGE"
JOURNAL_SCHEME = "journal"
JOURNAL_FILE = "journal.log"
SQLITE_FILE = "study.db"
RDB_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql")
# A RUNNING trial whose worker stopped beating (RDB heartbeats, journal leases) for GRACE seconds is failed and
# retried. Both can be changed for every worker of a study (e.g. a short grace on a cluster that fails fast).
HEARTBEAT_ENV = "OCRNET_AUTOML_HEARTBEAT_S"
GRACE_ENV = "OCRNET_AUTOML_GRACE_S"
HEARTBEAT_INTERVAL = 10
HEARTBEAT_GRACE = 60
# The module SQLAlchemy imports for a URL -> what to install. SQLAlchemy 2 maps `postgresql://` to psycopg 3.
DRIVERS = {"psycopg": '"psycopg[binary]"', "psycopg2": "psycopg2-binary", "MySQLdb": "mysqlclient",
           "pymysql": "PyMySQL"}  # fmt: skip
DRIVER_TIPS = {"psycopg": "; or, with psycopg2 installed, write the URL as postgresql+psycopg2://..."}
FIRST_OPEN_TRIES = 5
# Any fixed 64-bit key: every tao-ocrnet process opening a PostgreSQL storage takes this lock around the open.
_PG_LOCK_KEY = 0x6F63726E6574
_PASSWORD = re.compile(r"^([a-z0-9+]+://[^:/@]*:)([^@]*)(@)", re.IGNORECASE)


def default_url(kind: str | None, workspace: Path) -> str:
    """The URL of the `storage` setting: None/"journal" and "sqlite" mean files in the workspace."""
    if kind in (None, "", JOURNAL_SCHEME):
        return f"{JOURNAL_SCHEME}://{(workspace / JOURNAL_FILE).absolute()}"
    if kind == "sqlite":
        return f"sqlite:///{(workspace / SQLITE_FILE).absolute()}"
    return kind


def scheme(url: str) -> str:
    return urlsplit(url).scheme.split("+")[0].lower()


def url_problem(url: str) -> str | None:
    s = scheme(url)
    if s == JOURNAL_SCHEME:
        path = url[len(JOURNAL_SCHEME) + 3 :]
        return None if path.startswith("/") else "a journal URL needs an absolute path: journal:///abs/path.log"
    if s in RDB_SCHEMES:
        return None
    if not s:
        return (
            f"storage `{mask(url)}` is not a URL; use `journal` or `sqlite` (files in the study workspace), "
            "journal:///abs/path.log, sqlite:///abs/path.db or an RDB URL such as postgresql://user@host/db"
        )
    return f"storage scheme `{s}` is not supported; use journal, sqlite, postgresql or mysql"


def has_password(url: str) -> bool:
    return bool(_PASSWORD.match(url))


def mask(url: str) -> str:
    return _PASSWORD.sub(r"\1*****\3", url)


def journal_path(url: str) -> Path:
    return Path(url[len(JOURNAL_SCHEME) + 3 :])


def timing() -> tuple[int, int]:
    """(heartbeat interval, grace) in seconds: the environment's values, else the defaults."""
    values = []
    for name, default in ((HEARTBEAT_ENV, HEARTBEAT_INTERVAL), (GRACE_ENV, HEARTBEAT_GRACE)):
        text = os.environ.get(name, "").strip()
        try:
            value = int(text) if text else default
        except ValueError:
            raise UserError(f"{name}=`{text}` is not a whole number of seconds") from None
        if value < 1:
            raise UserError(f"{name} must be at least 1 second")
        values.append(value)
    interval, grace = values
    if grace <= interval:
        raise UserError(f"{GRACE_ENV} ({grace}) must be longer than {HEARTBEAT_ENV} ({interval})")
    return interval, grace


def sqlalchemy_url(url: str) -> str:
    """`postgres://` (as many hosting services write it) is `postgresql://` to SQLAlchemy 2."""
    return "postgresql" + url[len("postgres") :] if url.lower().startswith("postgres://") else url


def open_storage(url: str) -> Any:
    """An Optuna storage for `url`; UserError when it cannot be opened or reached."""
    problem = url_problem(url)
    if problem:
        raise UserError(problem)
    try:
        if scheme(url) == JOURNAL_SCHEME:
            return _open_journal(journal_path(url))
        return _open_rdb(sqlalchemy_url(url))
    except UserError:
        raise
    except ModuleNotFoundError as exc:
        raise UserError(_driver_message(url, exc.name)) from None
    except Exception as exc:  # SQLAlchemy's errors for unreachable hosts, bad credentials, bad files
        cause = exc.__cause__
        if isinstance(cause, ModuleNotFoundError):  # Optuna's "Failed to import DB access module"
            raise UserError(_driver_message(url, cause.name)) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot open the AutoML storage `{mask(url)}`: {mask(first)[:300]}") from None


def _driver_message(url: str, module: str | None) -> str:
    install = DRIVERS.get(module or "")
    tip = f": pip install {install}{DRIVER_TIPS.get(module or '', '')}" if install else ""
    return f"storage `{mask(url)}` needs the `{module or 'database'}` database driver{tip}"


def _open_journal(path: Path) -> Any:
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage

    if not path.parent.is_dir():
        raise UserError(f"the journal folder `{path.parent}` does not exist")
    # An O_EXCL lock file works on every shared file system Optuna supports (NFS v3+), symlinks or not; a lock
    # left by a dead writer is broken after the lock's grace period.
    return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))


def _open_rdb(url: str) -> Any:
    import optuna
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    kwargs: dict[str, Any] = {}
    if scheme(url) == "sqlite":
        # Several worker processes write one file: wait for the lock instead of failing at once.
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
        folder = Path(url.split(":///", 1)[-1]).parent
        if not folder.is_dir():
            raise UserError(f"the SQLite folder `{folder}` does not exist")
    interval, grace = timing()
    for attempt in range(FIRST_OPEN_TRIES):
        try:
            with _first_open_lock(url), warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats: stable enough
                # Stale trials are failed and retried by recovery.recover_stale (with the reason), not by a
                # heartbeat_stale_trial_callback: Optuna calls that only from Study.optimize, which workers
                # do not use (they ask and tell).
                return optuna.storages.RDBStorage(url, heartbeat_interval=interval, grace_period=grace, **kwargs)
        except (IntegrityError, ProgrammingError) as exc:
            # Another process created the same tables (or stamped the schema version) a moment before us.
            if attempt == FIRST_OPEN_TRIES - 1 or not _lost_creation_race(exc):
                raise
            log.info("the storage's tables were being created by another process; opening again")
            time.sleep(0.2 * 2**attempt)
    raise AssertionError("unreachable")


def _lost_creation_race(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(s in text for s in ("unique", "duplicate", "already exists"))


@contextlib.contextmanager
def _first_open_lock(url: str) -> Iterator[None]:
    """PostgreSQL: hold a session advisory lock while Optuna checks and creates its tables (other RDBs: none)."""
    if scheme(url) != "postgresql":
        yield
        return
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
            try:
                yield
            finally:  # closing the connection would release it too; say so explicitly
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
    finally:
        engine.dispose()


def url_from_env(given: str | None) -> str | None:
    return given or os.environ.get(STORAGE_ENV, "").strip() or None
