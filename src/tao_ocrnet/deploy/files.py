# SPDX-License-Identifier: Apache-2.0
"""Output-file rules shared by export, prune, quantize and gen_trt_engine.

Every artifact is written to a temporary file in its target folder and renamed into place, so a
failure (or Ctrl-C) never leaves a half-written model where a later step would pick it up.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tao_ocrnet.errors import SpecError


def refuse_existing(paths: list[Path], key: str, overwrite: bool) -> None:
    """SpecError naming `key` when an output exists and `--overwrite` was not given."""
    if overwrite:
        return
    existing = [p for p in paths if p.exists()]
    if existing:
        raise SpecError(
            [
                f"`{key}`: {existing[0]} already exists; choose another path, remove the file, "
                "or pass --overwrite to replace it"
            ],
            header="refusing to overwrite an existing output",
        )


def output_folder(path: Path, key: str) -> Path:
    """Create the folder of an output file, or fail naming the spec key."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError([f"`{key}`: cannot create folder {path.parent}: {exc.strerror}"]) from None
    if not os.access(path.parent, os.W_OK):
        raise SpecError([f"`{key}`: folder {path.parent} is not writable; choose a writable path"])
    return path


@contextlib.contextmanager
def staged(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed to `path`, on failure removed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> Path:
    with staged(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    with staged(path) as tmp:
        tmp.write_bytes(data)
    return path
