# SPDX-License-Identifier: Apache-2.0
"""Process identity on Linux through /proc: a pid plus its start time, so a reused pid is never mistaken
for the job's process. Elsewhere only `kill(pid, 0)` is available and pid reuse goes undetected."""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing ')'.
    rest = text[text.rfind(")") + 2 :].split()
    return rest  # rest[0] is field 3 (state), rest[2] field 5 (pgrp), rest[19] field 22 (starttime)


def start_time(pid: int) -> int | None:
    """Clock ticks since boot at which `pid` started (None if there is no such process or no /proc)."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def is_running(pid: int, started: int | None = None) -> bool:
    """True if `pid` runs (not a zombie) and, when `started` is known, is still the same process."""
    if PROC.is_dir():
        fields = _stat_fields(pid)
        if fields is None or fields[0] in ("Z", "X"):
            return False
        return started is None or int(fields[19]) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    if not PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    out = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                out.append(int(entry.name))
    return out


def cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
