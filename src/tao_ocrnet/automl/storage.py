# SPDX-License-Identifier: Apache-2.0
"""Optuna storages by URL: a journal file (default), SQLite, or an RDB shared by workers on several machines.

- `journal:///abs/path/journal.log`: the embedded default, a journal file in the study workspace (local disk);
- `sqlite:///abs/path/study.db`: SQLite through RDBStorage (heartbeats: a dead worker's trial is retried);
- `postgresql://...`, `mysql://...` (any SQLAlchemy URL): shared by workers on any number of machines.

A URL is opened (and an RDB reached) before anything is created, so an unreachable storage is an error up
front. Passwords never reach study.json, logs or argv: `mask` hides them and workers get the URL through
the OCRNET_AUTOML_STORAGE environment variable.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Callable
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
# Heartbeats (RDB only): a RUNNING trial whose worker stopped beating for GRACE seconds is failed and retried.
HEARTBEAT_INTERVAL = 10
HEARTBEAT_GRACE = 60
DRIVERS = {"postgresql": "psycopg2-binary", "postgres": "psycopg2-binary", "mysql": "PyMySQL", "mariadb": "PyMySQL"}
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


def open_storage(url: str, stale_callback: Callable[[Any, Any], None] | None = None) -> Any:
    """An Optuna storage for `url`; UserError when it cannot be opened or reached."""
    import optuna

    problem = url_problem(url)
    if problem:
        raise UserError(problem)
    try:
        if scheme(url) == JOURNAL_SCHEME:
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            path = journal_path(url)
            if not path.parent.is_dir():
                raise UserError(f"the journal folder `{path.parent}` does not exist")
            return JournalStorage(JournalFileBackend(str(path)))
        kwargs: dict[str, Any] = {}
        if scheme(url) == "sqlite":
            # Several worker processes write one file: wait for the lock instead of failing at once.
            kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
            folder = Path(url.split(":///", 1)[-1]).parent
            if not folder.is_dir():
                raise UserError(f"the SQLite folder `{folder}` does not exist")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats: stable enough
            return optuna.storages.RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT_INTERVAL,
                grace_period=HEARTBEAT_GRACE,
                heartbeat_stale_trial_callback=stale_callback,
                **kwargs,
            )
    except UserError:
        raise
    except ModuleNotFoundError as exc:
        driver = DRIVERS.get(scheme(url))
        tip = f" (pip install {driver})" if driver else ""
        raise UserError(f"storage `{mask(url)}` needs the `{exc.name}` database driver{tip}") from None
    except Exception as exc:  # SQLAlchemy's errors for unreachable hosts, bad credentials, bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "Failed to import DB access module" in first:  # Optuna's wording for a missing driver
            driver = DRIVERS.get(scheme(url), "the database driver")
            raise UserError(f"storage `{mask(url)}` needs a database driver: pip install {driver}") from None
        raise UserError(f"cannot open the AutoML storage `{mask(url)}`: {mask(first)[:300]}") from None


def url_from_env(given: str | None) -> str | None:
    return given or os.environ.get(STORAGE_ENV, "").strip() or None
