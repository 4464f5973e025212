# SPDX-License-Identifier: Apache-2.0
"""The job record in the skill bank's shape: fields, the status vocabulary and its JSON Schema.

A record is plain JSON. Its state is the last transition's; transitions are only ever appended, and once a
terminal state (COMPLETE, ERROR, CANCELED) is written nothing changes any more.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

SCHEMA_VERSION = 1

PENDING, RUNNING, COMPLETE, ERROR, CANCELED, UNKNOWN = "PENDING", "RUNNING", "COMPLETE", "ERROR", "CANCELED", "UNKNOWN"
STATES = (PENDING, RUNNING, COMPLETE, ERROR, CANCELED, UNKNOWN)
TERMINAL = frozenset({COMPLETE, ERROR, CANCELED})

# Inbound platform words (local, Slurm, Kubernetes) -> the skill bank's state vocabulary.
SYNONYMS: dict[str, str] = {
    **dict.fromkeys(("complete", "completed", "success", "succeeded"), COMPLETE),
    **dict.fromkeys(("error", "failed", "failure"), ERROR),
    **dict.fromkeys(("canceled", "cancelled", "stopped", "terminated"), CANCELED),
    **{s.lower(): s for s in STATES},
}

SOURCES = ("agent", "poller", "backend-hook")
ERR_INFRA, ERR_PROGRAM = "ERR_INFRA", "ERR_PROGRAM"

# Fields `mark` may set besides appending a transition; everything else is written once, at open.
UPDATABLE = frozenset({"backend_ref", "exit_code", "kpis", "err_class"})


def normalize_state(word: str) -> str:
    try:
        return SYNONYMS[word.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown job state {word!r}; use one of {', '.join(STATES)}") from None


def now() -> str:
    """UTC, millisecond ISO 8601 with a Z: sortable as text."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def last_transition(record: dict[str, Any]) -> dict[str, Any]:
    """The newest transition: it holds the record's state, last message and their time (`ts`)."""
    return record["transitions"][-1]


def state_of(record: dict[str, Any]) -> str:
    return last_transition(record)["state"]


def is_terminal(record: dict[str, Any]) -> bool:
    return state_of(record) in TERMINAL


def transition(state: str, message: str, source: str, **extra: Any) -> dict[str, Any]:
    if state not in STATES:
        raise ValueError(f"unknown job state {state!r}")
    if source not in SOURCES:
        raise ValueError(f"unknown transition source {source!r}")
    out: dict[str, Any] = {"ts": now(), "state": state, "message": message, "source": source}
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def new_record(
    *,
    job_id: str,
    action: str,
    command: str,
    platform: str,
    results_dir: str,
    job_dir: str,
    spec: dict[str, Any],
    **fields: Any,
) -> dict[str, Any]:
    """A PENDING record with every contract field present (absent values are null / empty)."""
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "id": job_id,
        "network_arch": "ocrnet",
        "action": action,
        "command": command,
        "platform": platform,
        "backend_ref": None,
        "image": None,  # the local platform runs the installed package, not a container
        "results_dir": results_dir,
        "job_dir": job_dir,
        "storage_tier": "A",  # the bank's tier A: a results root mounted before the job starts
        "upload_excludes": ["inputs/"],
        "submitted_at": now(),
        "transitions": [transition(PENDING, "record opened; not launched yet", "agent")],
        "terminal_state": None,
        "terminal_write_by": None,
        "err_class": None,
        "retry_of": None,
        "parent_job": None,
        "redacted": [],
        "exit_code": None,
        "kpis": {},
        "spec": spec,
    }
    record.update(fields)
    return record


_STR_OR_NULL = {"type": ["string", "null"]}

# JSON Schema 2020-12 of a record: the store's tests validate every record they write against it, and the
# MCP server can publish it.
RECORD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "tao-ocrnet job record",
    "type": "object",
    "required": [
        "schema_version", "id", "network_arch", "action", "command", "platform", "backend_ref", "image",
        "results_dir", "job_dir", "storage_tier", "upload_excludes", "submitted_at", "transitions",
        "terminal_state", "terminal_write_by", "err_class", "retry_of", "parent_job", "redacted", "exit_code",
        "kpis", "spec",
    ],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "id": {"type": "string", "pattern": r"^ocrnet-[a-z][a-z0-9_]*-[0-9a-f]{6}$"},
        "network_arch": {"const": "ocrnet"},
        "action": {"type": "string"},
        "command": {"type": "string"},
        "platform": {"type": "string"},
        "backend_ref": {"type": ["object", "null"]},
        "image": _STR_OR_NULL,
        "results_dir": {"type": "string"},
        "job_dir": {"type": "string"},
        "storage_tier": {"enum": ["A", "B", "C"]},
        "upload_excludes": {"type": "array", "items": {"type": "string"}},
        "submitted_at": {"type": "string"},
        "transitions": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["ts", "state", "message", "source"],
                "properties": {
                    "ts": {"type": "string"},
                    "state": {"enum": list(STATES)},
                    "message": {"type": "string"},
                    "source": {"enum": list(SOURCES)},
                    "backend_ref": {"type": "object"},
                    "err_class": {"enum": [ERR_INFRA, ERR_PROGRAM]},
                },
            },
        },
        "terminal_state": {"enum": [COMPLETE, ERROR, CANCELED, None]},
        "terminal_write_by": {"enum": [*SOURCES, None]},
        "err_class": {"enum": [ERR_INFRA, ERR_PROGRAM, None]},
        "retry_of": _STR_OR_NULL,
        "parent_job": _STR_OR_NULL,
        "redacted": {"type": "array", "items": {"type": "string"}},
        "exit_code": {"type": ["integer", "null"]},
        "kpis": {"type": "object"},
        "spec": {"type": "object"},
        # tao-ocrnet additions (optional): what was asked, where inputs came from, minted outputs, the runner.
        "request": {"type": "object"},
        "inputs": {"type": "object"},
        "outputs": {"type": "object", "properties": {"task_dir": {"type": "string"}}},
        "credentials": {"type": "array", "items": {"type": "string"}},
        "runner": {
            "type": "object",
            "properties": {
                "path": {"type": "string"}, "sha256": {"type": "string"}, "from": {"type": "string"},
                "module": {"type": "string"}, "module_sha256": {"type": "string"},
            },
        },
        "python": {"type": "string"},
        "notes": {"type": "array", "items": {"type": "string"}},
    },
}  # fmt: skip
