# SPDX-License-Identifier: Apache-2.0
"""The Lightning DataModule for train / validate, and the loader factory the other actions reuse.

Plain DataLoaders are returned: when sharding is wanted the Trainer injects a DistributedSampler
itself (`use_distributed_sampler`), and train shuffling is then the sampler's job.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset, Sampler

from tao_ocrnet.config.fields import is_unset
from tao_ocrnet.data.collate import collate_labeled, collate_named, collate_paths
from tao_ocrnet.data.datasets import ImageFolderDataset, LabeledData, OnCorrupt, build_labeled_dataset
from tao_ocrnet.data.filtering import SampleFilter
from tao_ocrnet.data.transforms import ImageTransform, build_transform
from tao_ocrnet.errors import DataError

__all__ = ["OCRDataModule", "build_eval_loader", "build_folder_loader", "make_loader"]

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


class OCRDataModule(pl.LightningDataModule):
    """Train and validation data from an `ExperimentSpec` (`spec.dataset`, `spec.model`).

    `charset` is the loaded character list; labels outside it or longer than
    `dataset.max_label_length` are skipped and counted (or raise with `strict`).
    """

    def __init__(self, spec: Any, charset: Sequence[str], strict: bool = False):
        super().__init__()
        self.spec = spec
        self.charset = tuple(charset)
        self.strict = strict
        ds = spec.dataset
        self.batch_size = int(ds.batch_size)
        self.workers = int(ds.workers)
        self.train_filter = SampleFilter(self.charset, ds.max_label_length, strict)
        self.val_filter = SampleFilter(self.charset, ds.max_label_length, strict)
        self.train_transform = build_transform(spec, train=True)
        self.eval_transform = build_transform(spec, train=False)
        self.train_dataset: LabeledData | None = None
        self.val_dataset: LabeledData | None = None

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return _image_shape(self.eval_transform)

    def setup(self, stage: str | None = None) -> None:
        ds = self.spec.dataset
        channel = int(self.spec.model.input_channel)
        if stage in (None, "fit") and self.train_dataset is None:
            self.train_dataset = build_labeled_dataset(
                ds.train_dataset_dir,
                ds.train_gt_file,
                transform=self.train_transform,
                input_channel=channel,
                sample_filter=self.train_filter,
            )
            self.train_filter.log_summary("dataset.train_dataset_dir")
            log.info("training samples: %d", len(self.train_dataset))
        if stage in (None, "fit", "validate") and self.val_dataset is None and not is_unset(ds.val_dataset_dir):
            self.val_dataset = build_labeled_dataset(
                ds.val_dataset_dir,
                ds.val_gt_file,
                transform=self.eval_transform,
                input_channel=channel,
                sample_filter=self.val_filter,
                key="dataset.val_dataset_dir",
                gt_key="dataset.val_gt_file",
            )
            self.val_filter.log_summary("dataset.val_dataset_dir")
            log.info("validation samples: %d", len(self.val_dataset))

    def _collate(self) -> Callable[[Any], Any]:
        return functools.partial(collate_labeled, image_shape=self.image_shape)

    def train_dataloader(self) -> DataLoader:
        if self.train_dataset is None:
            self.setup("fit")
        assert self.train_dataset is not None
        return make_loader(self.train_dataset, self.batch_size, self.workers, shuffle=True, collate_fn=self._collate())

    def val_dataloader(self) -> DataLoader | list[Any]:
        if self.val_dataset is None:
            self.setup("validate")
        if self.val_dataset is None:
            return []  # no validation folder configured: Lightning skips validation
        sampler = self._val_shard(self.val_dataset)
        return make_loader(self.val_dataset, self.batch_size, self.workers, collate_fn=self._collate(), sampler=sampler)

    def _val_shard(self, dataset: LabeledData) -> Sampler | None:
        """On more than one rank, rank r validates samples r, r + world, ...: each sample once. Lightning's default
        DistributedSampler pads the shards by repeating samples, which would count them twice in summed metrics."""
        trainer = self.trainer
        if trainer is None or trainer.world_size < 2 or not self.spec.train.use_distributed_sampler:
            return None  # one rank; or every rank reads everything, as asked (counts scale alike)
        if len(dataset) < trainer.world_size:
            # The first validation batch synchronises buffers across ranks, so every rank needs one.
            raise DataError(
                f"dataset.val_dataset_dir has {len(dataset)} sample(s), fewer than the {trainer.world_size} "
                "training ranks; each rank validates at least one: add validation samples or use fewer processes"
            )
        return UnrepeatedDistributedSampler(
            dataset, num_replicas=trainer.world_size, rank=trainer.global_rank, shuffle=False
        )

    def filter_stats(self) -> dict[str, dict[str, int]]:
        """Skipped samples by reason per split, for status.json (`total` included)."""
        stats = {"train": self.train_filter.stats()}
        if self.val_dataset is not None or not is_unset(self.spec.dataset.val_dataset_dir):
            stats["val"] = self.val_filter.stats()
        return stats


def _image_shape(t: ImageTransform) -> tuple[int, int, int]:
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
    collate = functools.partial(collate_named if with_names else collate_labeled, image_shape=_image_shape(transform))
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
    collate = functools.partial(collate_paths, image_shape=_image_shape(transform))
    return make_loader(dataset, batch_size, int(spec.dataset.workers), collate_fn=collate), sample_filter
