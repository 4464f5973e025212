# SPDX-License-Identifier: Apache-2.0
"""Batch collation. Samples whose image is None (corrupt, dropped) are left out of the batch.

Use `functools.partial(collate_labeled, image_shape=(C, H, W))` so that a batch whose every image was
dropped still has the right trailing shape ([0, C, H, W]); callers must tolerate such empty batches
only when a dataset uses ``on_corrupt="drop"`` (folders for inference always do).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["collate_labeled", "collate_named", "collate_paths"]


def _stack(images: list[torch.Tensor], image_shape: tuple[int, int, int] | None) -> torch.Tensor:
    if images:
        return torch.stack(images, 0)
    return torch.empty((0, *(image_shape or (1, 1, 1))), dtype=torch.float32)


def collate_labeled(
    batch: Sequence[tuple[Any, str]], image_shape: tuple[int, int, int] | None = None
) -> tuple[torch.Tensor, list[str]]:
    """[(image [C,H,W] | None, label)] -> (images [B,C,H,W], labels)."""
    kept = [(img, label) for img, label in batch if img is not None]
    return _stack([img for img, _ in kept], image_shape), [label for _, label in kept]


def collate_named(
    batch: Sequence[tuple[Any, str, str]], image_shape: tuple[int, int, int] | None = None
) -> tuple[torch.Tensor, list[str], list[str]]:
    """[(image | None, label, name)] -> (images [B,C,H,W], labels, names) of the decodable samples."""
    kept = [(img, label, name) for img, label, name in batch if img is not None]
    return _stack([k[0] for k in kept], image_shape), [k[1] for k in kept], [k[2] for k in kept]


def collate_paths(
    batch: Sequence[tuple[Any, str]], image_shape: tuple[int, int, int] | None = None
) -> tuple[torch.Tensor, list[str], list[str]]:
    """[(image | None, path)] -> (images [B,C,H,W], paths of those images, paths skipped as corrupt)."""
    images = [img for img, _ in batch if img is not None]
    paths = [p for img, p in batch if img is not None]
    skipped = [p for img, p in batch if img is None]
    return _stack(images, image_shape), paths, skipped
