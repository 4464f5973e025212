# SPDX-License-Identifier: Apache-2.0
"""The OCR LMDB format (shared by dataset_convert and the reader) and how to find and open one.

Keys (reference-compatible): ``image-%09d`` -> original encoded image bytes, ``label-%09d`` -> UTF-8
label, ``num-samples`` -> decimal count. Indices are 1-based and contiguous.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import lmdb

__all__ = [
    "DATA_FILE",
    "NUM_SAMPLES_KEY",
    "find_lmdb_dirs",
    "image_key",
    "label_key",
    "open_readonly",
    "shared_readonly_env",
]

DATA_FILE = "data.mdb"
NUM_SAMPLES_KEY = b"num-samples"


def image_key(index: int) -> bytes:
    return b"image-%09d" % index


def label_key(index: int) -> bytes:
    return b"label-%09d" % index


def find_lmdb_dirs(root: str | Path) -> list[Path]:
    """Folders holding an LMDB at or under `root`, sorted.

    `root` may be the folder that directly holds data.mdb, the data.mdb file itself, or a parent
    of several LMDB folders (all are used, like the reference's hierarchical reader).
    """
    p = Path(root)
    if p.is_file() and p.name == DATA_FILE:
        return [p.parent]
    if not p.is_dir():
        return []
    if (p / DATA_FILE).is_file():
        return [p]
    found = [Path(d) for d, _, files in os.walk(p, followlinks=True) if DATA_FILE in files]
    return sorted(found, key=lambda d: d.relative_to(p).as_posix())


def open_readonly(path: str | Path) -> lmdb.Environment:
    """Open for reading: no lock file (works on read-only media), no readahead (random access)."""
    return lmdb.open(str(path), max_readers=126, readonly=True, lock=False, readahead=False, meminit=False)


# py-lmdb refuses to open one environment twice in a process, and handles must not be used
# across fork(). So readers share one handle per LMDB per process; a forked child (a DataLoader
# worker) closes the copies it inherited and opens its own.
_envs: dict[tuple[str, int], lmdb.Environment] = {}
_envs_pid = os.getpid()
_envs_lock = threading.Lock()


def shared_readonly_env(path: str | Path) -> lmdb.Environment:
    """This process's read-only handle on the LMDB in folder `path` (opened on first use)."""
    global _envs_pid
    real = os.path.realpath(path)
    # The data file's inode is part of the key: an LMDB replaced on disk (overwrite) is a new one.
    key = (real, os.stat(os.path.join(real, DATA_FILE)).st_ino)
    with _envs_lock:
        if _envs_pid != os.getpid():
            for inherited in _envs.values():
                with contextlib.suppress(lmdb.Error):
                    inherited.close()
            _envs.clear()
            _envs_pid = os.getpid()
        env = _envs.get(key)
        if env is None:
            env = _envs[key] = open_readonly(real)
        return env
