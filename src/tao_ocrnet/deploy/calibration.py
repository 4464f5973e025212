# SPDX-License-Identifier: Apache-2.0
"""Calibration images for INT8 (ONNX Runtime static quantization and TensorRT entropy calibration).

Images are gathered recursively from every folder, sorted, then shuffled with a fixed seed (so a
rerun calibrates on the same images), and preprocessed exactly like evaluation in training (same
resize, [-1, 1] scaling and `input_channel`). A corrupt image is skipped (logged) and the next
spare image takes its place. No torch model is needed here, so these paths are tested on CPU.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tao_ocrnet.data.images import ImageDecodeError, list_images, load_image
from tao_ocrnet.errors import DataError, SpecError

log = logging.getLogger(__name__)

Transform = Callable[[Any], Any]


def collect_images(dirs: Sequence[str | Path], key: str) -> list[Path]:
    """Every image under every folder (recursive), de-duplicated, sorted; errors name `key`."""
    folders = [str(d) for d in dirs if str(d).strip()]
    if not folders:
        raise SpecError([f"`{key}` is empty; set it to the folder(s) of calibration images"])
    found: dict[str, Path] = {}
    for folder in folders:
        for path in list_images(folder, recursive=True, key=f"`{key}`"):
            found.setdefault(str(path.resolve()), path)
    return sorted(found.values(), key=str)


@dataclass(frozen=True)
class CalibrationPlan:
    """`batches` batches of `batch_size` images drawn from `candidates` (shuffled; spares replace corrupt ones)."""

    candidates: tuple[Path, ...]
    batch_size: int
    batches: int

    @property
    def needed(self) -> int:
        return self.batch_size * self.batches


def plan_calibration(
    dirs: Sequence[str | Path],
    batch_size: int,
    batches: int,
    *,
    dir_key: str,
    size_keys: tuple[str, str],
    seed: int = 0,
) -> CalibrationPlan:
    """Exactly `batch_size * batches` images are needed; fewer is a DataError naming every key involved."""
    images = collect_images(dirs, dir_key)
    needed = batch_size * batches
    if len(images) < needed:
        raise DataError(
            f"`{dir_key}` holds {len(images)} image(s), fewer than `{size_keys[0]}` x `{size_keys[1]}` = "
            f"{batch_size} x {batches} = {needed}; add images or lower {size_keys[0]} / {size_keys[1]}"
        )
    shuffled = list(images)
    random.Random(seed).shuffle(shuffled)
    return CalibrationPlan(tuple(shuffled), batch_size, batches)


def iter_batches(plan: CalibrationPlan, transform: Transform, input_channel: int) -> Iterator[np.ndarray]:
    """Yield exactly `plan.batches` float32 arrays [batch_size, C, H, W]."""
    spares = iter(plan.candidates)
    for _ in range(plan.batches):
        batch: list[np.ndarray] = []
        while len(batch) < plan.batch_size:
            path = next(spares, None)
            if path is None:
                raise DataError(
                    f"not enough decodable calibration images for {plan.batches} batch(es) of {plan.batch_size}; "
                    "add images to the calibration folder(s)"
                )
            try:
                image = load_image(path, input_channel)
            except ImageDecodeError as exc:
                log.warning("calibration: skipping %s", exc)
                continue
            batch.append(np.asarray(transform(image), dtype=np.float32))
        yield np.ascontiguousarray(np.stack(batch, 0))


def read_cache(path: Path | None) -> bytes | None:
    """An existing, non-empty calibration cache (reused: no images are read), else None."""
    if path is None or not path.is_file():
        return None
    data = path.read_bytes()
    return data or None
