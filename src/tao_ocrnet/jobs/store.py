# SPDX-License-Identifier: Apache-2.0
"""The embedded job store: one JSON record per job under `$OCRNET_HOME/jobs/`.

- Writes are atomic: a temp file in the job folder, fsync, then rename (or link, for the exclusive first
  write), then fsync of the folder. A reader never sees a torn record.
- Read-modify-write is serialised by `fcntl.flock` on the job's `record.lock`, across threads and processes.
- Transitions are append-only and a terminal state is final; everything written is redacted first.
- Every record read is checked against `RECORD_SCHEMA`: one that is not UTF-8 JSON of the record's shape is
  refused by `read` with its path and skipped by `list` with a warning that names the file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from tao_ocrnet.atomic import file_lock
from tao_ocrnet.config.secrets import redact
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs import paths
from tao_ocrnet.jobs.ids import check_job_id, new_job_id
from tao_ocrnet.jobs.record import RECORD_SCHEMA, TERMINAL, UPDATABLE, state_of, transition

log = logging.getLogger(__name__)

LOCK_NAME = "record.lock"
_VALIDATOR = Draft202012Validator(RECORD_SCHEMA)


class BadRecordError(UserError):
    """A record file that is not a job record (not UTF-8 JSON, or not of the record's shape)."""


# What listing and viewing a job read: checked on every record of a listing, where the whole schema (about 0.3 ms
# a record) would make `jobs list` over a thousand records slow. A record failing it is then checked in full for
# the exact reason.
_LISTED_TEXT = ("id", "action", "platform", "submitted_at", "results_dir")
_LISTED_MAPS = ("outputs", "kpis", "backend_ref", "request")


def _listing_problem(record: Any) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    for key in _LISTED_TEXT:
        if not isinstance(record.get(key), str):
            return f"`{key}` is missing or not text"
    transitions = record.get("transitions")
    if not isinstance(transitions, list) or not transitions:
        return "`transitions` is missing or empty"
    for item in transitions:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("state", "ts", "message")):
            return "a transition is not {state, ts, message}"
    for key in _LISTED_MAPS:
        if record.get(key) is not None and not isinstance(record[key], dict):
            return f"`{key}` is not an object"
    return None


def load_record(path: Path, *, full: bool = True) -> dict[str, Any]:
    """The record in `path`, checked against RECORD_SCHEMA (`full`), or for what a listing reads. OSError if it
    cannot be opened; BadRecordError (the reason, without the path) if it is not a job record."""
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadRecordError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise BadRecordError(f"not JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise BadRecordError("JSON nested too deeply") from None
    problem = _listing_problem(record)
    if full or problem is not None:
        error = best_match(_VALIDATOR.iter_errors(record))
        if error is not None:
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
            raise BadRecordError(f"not a job record: {where + ': ' if where else ''}{error.message[:200]}")
        if problem is not None:
            raise BadRecordError(f"not a job record: {problem}")
    if f"{record['id']}.json" != path.name:
        raise BadRecordError(f"it holds the record of job `{record['id']}`, not of its file's name")
    return record


class TerminalStateError(UserError):
    """A transition after the record reached a terminal state (terminal states are immutable)."""


class JobStore:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or paths.jobs_dir()

    # --- locations ---------------------------------------------------------------------------------

    def record_path(self, job_id: str) -> Path:
        return self.root / f"{check_job_id(job_id)}.json"

    def job_dir(self, job_id: str) -> Path:
        return self.root / check_job_id(job_id)

    def exists(self, job_id: str) -> bool:
        return self.record_path(job_id).is_file()

    # --- id reservation ----------------------------------------------------------------------------

    def reserve(self, action: str) -> str:
        """Mint a fresh id and claim it by creating its job folder (mkdir is atomic and exclusive)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the job store `{self.root}`: {exc.strerror}; set OCRNET_HOME") from None
        for _ in range(100):
            job_id = new_job_id(action)
            try:
                (self.root / job_id).mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise UserError(f"the job store `{self.root}` is not writable: {exc.strerror}") from None
            return job_id
        raise UserError(f"could not mint a free job id in `{self.root}`")

    def release(self, job_id: str) -> None:
        """Undo `reserve` for a job that never got a record (submit failed before the first write)."""
        if not self.exists(job_id):
            shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def discard(self, job_id: str) -> None:
        """Remove a record and its job folder: a submit whose launch could not be recorded (its process is
        stopped first) leaves nothing behind. Raises OSError if the record cannot be removed."""
        self.record_path(job_id).unlink(missing_ok=True)
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    # --- reading -----------------------------------------------------------------------------------

    def read(self, job_id: str) -> dict[str, Any]:
        path = self.record_path(job_id)
        try:
            return load_record(path)
        except FileNotFoundError:
            raise UserError(f"no job `{job_id}` in {self.root} (see `ocrnet jobs list`)") from None
        except OSError as exc:
            raise UserError(f"the record of job `{job_id}` ({path}) cannot be read: {exc.strerror}") from None
        except BadRecordError as exc:
            raise BadRecordError(
                f"the record of job `{job_id}` ({path}) cannot be used: {exc}; move it aside"
            ) from None

    def list(self) -> list[dict[str, Any]]:
        """Every readable record (an unreadable one is skipped with a warning, never fatal for a listing)."""
        out: list[dict[str, Any]] = []
        if not self.root.is_dir():
            return out
        with os.scandir(self.root) as entries:
            names = [e.name for e in entries if e.name.endswith(".json") and e.is_file()]
        for name in names:
            try:
                out.append(load_record(self.root / name, full=False))
            except OSError as exc:
                log.warning("skipping unreadable job record %s: %s", self.root / name, exc.strerror)
            except BadRecordError as exc:
                log.warning("skipping unreadable job record %s: %s", self.root / name, exc)
        return out

    # --- writing -----------------------------------------------------------------------------------

    def locked(self, job_id: str) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.job_dir(job_id) / LOCK_NAME)

    def create(self, record: dict[str, Any]) -> dict[str, Any]:
        """Write a new record; fails if one exists (the folder must come from `reserve`)."""
        job_id = record["id"]
        with self.locked(job_id):
            return self._write(record, exclusive=True)

    def mark(self, job_id: str, state: str, message: str, source: str, **fields: Any) -> dict[str, Any]:
        """Append a transition (and set UPDATABLE fields) under the lock; return the new record.

        Writing the same terminal state again is a no-op (two observers of one exit agree); any other
        transition after a terminal state raises TerminalStateError.
        """
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"fields {sorted(unknown)} are written once, at open")
        with self.locked(job_id):
            record = self.read(job_id)
            current = state_of(record)
            if current in TERMINAL:
                if state == current:
                    return record
                raise TerminalStateError(f"job `{job_id}` is already {current}; it cannot become {state}")
            step = transition(state, message, source, backend_ref=fields.get("backend_ref"),
                              err_class=fields.get("err_class"))  # fmt: skip
            updated = {**record, **{k: v for k, v in fields.items() if v is not None}}
            updated["transitions"] = [*record["transitions"], step]
            if state in TERMINAL:
                updated["terminal_state"] = state
                updated["terminal_write_by"] = source
            return self._write(updated, exclusive=False)

    def _write(self, record: dict[str, Any], exclusive: bool) -> dict[str, Any]:
        clean, found = redact({k: v for k, v in record.items() if k != "redacted"})
        clean["redacted"] = sorted(set(record.get("redacted", [])) | set(found))
        job_id = clean["id"]
        final = self.record_path(job_id)
        tmp = self.job_dir(job_id) / f".record-{secrets.token_hex(4)}.tmp"
        data = json.dumps(clean, indent=1, sort_keys=False, allow_nan=False)
        try:
            with open(tmp, "x", encoding="utf-8") as fh:
                fh.write(data + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            if exclusive:
                os.link(tmp, final)  # fails if the record exists: never overwrite at open
                os.unlink(tmp)
            else:
                os.replace(tmp, final)
            _fsync_dir(final.parent)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return clean


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
