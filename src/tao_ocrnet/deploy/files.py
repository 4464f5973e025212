# SPDX-License-Identifier: Apache-2.0
"""Output-file rules shared by export, prune, quantize and gen_trt_engine.

Every artifact is written to a temporary file in its target folder and renamed into place, so a
failure (or Ctrl-C) never leaves a half-written model where a later step would pick it up.
"""

from __future__ import annotations

import os
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
