# SPDX-License-Identifier: Apache-2.0
"""The per-sample image transform: optional train augmentation, then `preprocess` to a tensor."""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image

from tao_ocrnet.data.augment import AugmentParams, TrainAugment
from tao_ocrnet.data.images import preprocess

__all__ = ["ImageTransform", "build_transform"]


class ImageTransform:
    """PIL image -> tensor [C, H, W] in [-1, 1]; picklable so DataLoader workers get a copy."""

    def __init__(
        self,
        input_channel: int,
        height: int,
        width: int,
        keep_aspect_ratio: bool = False,
        augment: TrainAugment | None = None,
    ):
        self.input_channel = input_channel
        self.height = height
        self.width = width
        self.keep_aspect_ratio = keep_aspect_ratio
        self.augment = augment

    @property
    def channels(self) -> int:
        return 3 if self.input_channel == 3 else 1

    def __call__(self, img: Image.Image) -> torch.Tensor:
        if self.augment is not None:
            img = self.augment(img)
        return preprocess(img, self.input_channel, self.height, self.width, self.keep_aspect_ratio)


def build_transform(spec: Any, train: bool = False) -> ImageTransform:
    """The transform for a spec: sizes from `spec.model`, pad mode and augmentation from
    `spec.dataset.augmentation`. Augmentation is used only for training and only if aug_prob > 0."""
    model, aug = spec.model, spec.dataset.augmentation
    keep = bool(aug.keep_aspect_ratio)
    params = AugmentParams.from_config(aug)
    augment = TrainAugment(params, model.input_height, model.input_width, keep) if train and params.enabled else None
    return ImageTransform(model.input_channel, model.input_height, model.input_width, keep, augment)
