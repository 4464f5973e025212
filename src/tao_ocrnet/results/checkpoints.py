# SPDX-License-Identifier: Apache-2.0
"""Checkpoint file names the reference uses (and skill-bank consumers rely on). No torch import."""

from __future__ import annotations

import re
from pathlib import Path

BEST_NAME = "best_accuracy.pth"
LATEST_STEM = "ocr_model_latest"
LATEST_NAME = f"{LATEST_STEM}.pth"
PERIODIC_TEMPLATE = "model_epoch_{epoch:03d}_step_{step:05d}"
_PERIODIC = re.compile(r"^model_epoch_(\d{3,})_step_(\d{5,})\.pth$")


def periodic_name(epoch: int, step: int) -> str:
    return PERIODIC_TEMPLATE.format(epoch=epoch, step=step) + ".pth"


def parse_periodic(name: str) -> tuple[int, int] | None:
    """(epoch, step) of `model_epoch_EEE_step_SSSSS.pth`, else None."""
    m = _PERIODIC.match(name)
    return (int(m.group(1)), int(m.group(2))) if m else None


def periodic_checkpoints(folder: Path) -> list[Path]:
    """Periodic checkpoints in `folder`, oldest first by (epoch, step) in the name, never by file time."""
    found = [(parse_periodic(p.name), p) for p in folder.glob("model_epoch_*_step_*.pth")]
    return [p for key, p in sorted((k, p) for k, p in found if k is not None)]
