# SPDX-License-Identifier: Apache-2.0
"""Unfinished outputs: a folder filled under a `.partial-` name beside its destination, moved in when done.

`partial_dir(out)` creates `.<out name>.partial-<pid>-<random>` beside `out` and holds an exclusive flock
on the folder itself while the block runs; the kernel drops it when the process dies, so a folder whose
lock can be taken belongs to no live process. Such folders are never data (`is_partial`: LMDB discovery
skips them), and `clean_stale_partials(out)` removes the ones a killed run left, never a live run's.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

PARTIAL_TAG = ".partial-"


def is_partial(name: str) -> bool:
    """Whether a file or folder name is an unfinished output (ours, or a download's or extraction's)."""
    return name.startswith(".") and PARTIAL_TAG in name


def _open_dir(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:  # removed meanwhile, or not a folder
        return None


@contextlib.contextmanager
def partial_dir(out: Path) -> Iterator[Path]:
    """A new locked partial folder beside `out` for the block; removed afterwards unless moved away."""
    while True:
        tmp = out.parent / f".{out.name}{PARTIAL_TAG}{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()  # not mkdtemp: a folder renamed into place keeps the usual umask permissions, not 0700
        fd = _open_dir(tmp)
        if fd is None:
            continue
        # Blocks only while a cleaner that caught the folder between mkdir and here removes it.
        fcntl.flock(fd, fcntl.LOCK_EX)
        with contextlib.suppress(FileNotFoundError):
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                break
        os.close(fd)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # already gone when it was renamed into place
        os.close(fd)


def clean_stale_partials(out: Path) -> list[Path]:
    """Remove the partial folders of `out` that no live process holds (left by a killed run); return them."""
    removed = []
    for tmp in sorted(out.parent.glob(f".{glob.escape(out.name)}{PARTIAL_TAG}*")):
        fd = _open_dir(tmp)
        if fd is None:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a live run's
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
        finally:
            os.close(fd)
    return removed
