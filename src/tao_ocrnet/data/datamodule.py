# SPDX-License-Identifier: Apache-2.0
"""The Lightning DataModule for train / validate (the loaders themselves are made in `loaders.py`).

Plain DataLoaders are returned: when sharding is wanted the Trainer injects a DistributedSampler
itself (`use_distributed_sampler`), and train shuffling is then the sampler's job.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Sampler

from tao_ocrnet.config.fields import is_unset
from tao_ocrnet.data.collate import collate_labeled
from tao_ocrnet.data.datasets import LabeledData, build_labeled_dataset
from tao_ocrnet.data.filtering import SampleFilter
from tao_ocrnet.data.loaders import image_shape, make_loader
from tao_ocrnet.data.transforms import build_transform
from tao_ocrnet.errors import DataError

__all__ = ["OCRDataModule"]

log = logging.getLogger(__name__)


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
        return image_shape(self.eval_transform)

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
