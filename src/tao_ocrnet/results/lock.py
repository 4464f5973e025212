# SPDX-License-Identifier: Apache-2.0
"""One run at a time per results folder: an action holds `<results folder>/.ocrnet.lock` while it runs.

The lock is `fcntl.flock` on an open descriptor, so the kernel drops it when the process ends, however it
ends (kill -9 and the OOM killer included): a lock is never stale and never needs clearing by hand. The file
names its holder (action, pid, host, start time) for the message a refused run prints. It stays in the
folder: removing it would let a process that opened it just before lock a file nobody else can see.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from tao_ocrnet.errors import UserError

LOCK_NAME = ".ocrnet.lock"


class ResultsFolderBusy(UserError):
    """Another live process is writing into the results folder."""


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return f"ocrnet {info['action']} (pid {info['pid']} on {info['host']}, started {info['started']})"
    except (OSError, ValueError, TypeError, KeyError):  # the holder is writing it right now
        return "another ocrnet process"


@contextlib.contextmanager
def results_lock(folder: Path, action: str) -> Iterator[None]:
    """Hold the run lock of `folder` for the block; ResultsFolderBusy (exit 2) when another process holds it."""
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UserError(f"cannot create `{path}`: {exc.strerror}; set a writable results_dir") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ResultsFolderBusy(
                f"results folder `{folder}` is in use by {_holder(fd)}; wait for it to finish or set another "
                "results_dir"
            ) from None
        started = datetime.now(UTC).isoformat(timespec="seconds")
        info = {"action": action, "pid": os.getpid(), "host": socket.gethostname(), "started": started}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
