# SPDX-License-Identifier: Apache-2.0
"""The project's DataLoaders: the factory every action uses, and the evaluation and inference loaders.

Apart from the Lightning DataModule (`datamodule.py`) so that evaluate, inference and deploy, which never train,
start without importing PyTorch Lightning (seconds per job).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from tao_ocrnet.data.collate import collate_labeled, collate_named, collate_paths
from tao_ocrnet.data.datasets import ImageFolderDataset, OnCorrupt, build_labeled_dataset
from tao_ocrnet.data.filtering import SampleFilter
from tao_ocrnet.data.transforms import ImageTransform, build_transform

__all__ = ["build_eval_loader", "build_folder_loader", "image_shape", "make_loader"]

log = logging.getLogger(__name__)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    workers: int,
    *,
    shuffle: bool = False,
    collate_fn: Callable[[Any], Any] | None = None,
    sampler: Sampler | None = None,
) -> DataLoader:
    """The project's loader settings: no drop_last, pinned memory only with CUDA, persistent workers.

    `workers` is capped at the CPUs this process may use: more loader processes than cores only
    compete with the training step (the reference default of 8 on a 2-core machine)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if workers > cpus:
        log.info("dataset.workers = %d: using %d loader processes (the CPUs available)", workers, cpus)
        workers = cpus
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        sampler=sampler,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=torch.cuda.is_available(),
        drop_last=False,
        collate_fn=collate_fn,
    )


def image_shape(t: ImageTransform) -> tuple[int, int, int]:
    return t.channels, t.height, t.width


def build_eval_loader(
    spec: Any,
    charset: Sequence[str],
    *,
    directory: str,
    gt_file: str | None,
    batch_size: int,
    key: str = "evaluate.test_dataset_dir",
    gt_key: str = "evaluate.test_dataset_gt_file",
    strict: bool = False,
    on_corrupt: OnCorrupt = "drop",
    with_names: bool = False,
) -> tuple[DataLoader, SampleFilter]:
    """A labelled evaluation loader (batches ``(images, labels)``, or ``(images, labels, names)`` with
    `with_names`) and its filter (for status.json).

    Corrupt images are dropped by default, so a batch may be smaller than `batch_size`, even empty.
    """
    sample_filter = SampleFilter(charset, spec.dataset.max_label_length, strict)
    transform = build_transform(spec, train=False)
    dataset = build_labeled_dataset(
        directory,
        gt_file,
        transform=transform,
        input_channel=int(spec.model.input_channel),
        sample_filter=sample_filter,
        key=key,
        gt_key=gt_key,
        on_corrupt=on_corrupt,
    )
    sample_filter.log_summary(key)
    if with_names:
        for part in getattr(dataset, "datasets", [dataset]):
            part.return_names = True
    collate = functools.partial(collate_named if with_names else collate_labeled, image_shape=image_shape(transform))
    return make_loader(dataset, batch_size, int(spec.dataset.workers), collate_fn=collate), sample_filter


def build_folder_loader(
    spec: Any, directory: str, batch_size: int, *, key: str = "inference.inference_dataset_dir"
) -> tuple[DataLoader, SampleFilter]:
    """An inference loader over every image under `directory` (recursive, sorted); batches are
    ``(images, paths, skipped_paths)`` (see `collate_paths`)."""
    sample_filter = SampleFilter()
    transform = build_transform(spec, train=False)
    dataset = ImageFolderDataset(
        directory, transform, int(spec.model.input_channel), sample_filter=sample_filter, key=key
    )
    collate = functools.partial(collate_paths, image_shape=image_shape(transform))
    return make_loader(dataset, batch_size, int(spec.dataset.workers), collate_fn=collate), sample_filter
