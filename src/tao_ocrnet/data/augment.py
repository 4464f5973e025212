# SPDX-License-Identifier: Apache-2.0
"""The reference training augmentation chain (only active when `aug_prob` > 0).

Chain: bicubic resize to the network size; then, with probability `aug_prob`: invert colours
(p `reverse_color_prob`), rotate by an angle in (0, `max_rotation_degree`) degrees (bilinear, canvas
expanded, black corners: positive angles only, as in the reference), Gaussian blur with a radius drawn
from `gaussian_radius_list` (p `blur_prob`); finally resize back to the network size. Each op's
effective probability is `aug_prob` x its own, and ops with probability 0 are skipped.

In pad mode the "network size" is the pad-mode size (height H, width min(W, ceil(H*w/h))): augmenting
before padding avoids the reference's crash (its train collate re-padded the unresized image).

Random numbers come from torch's generator, which Lightning's `seed_everything` seeds and which the
DataLoader re-seeds differently in every worker, so workers never repeat each other's draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image, ImageFilter, ImageOps

from tao_ocrnet.data.images import pad_width

__all__ = ["AugmentParams", "TrainAugment"]


@dataclass(frozen=True)
class AugmentParams:
    """The `dataset.augmentation` values the chain needs (defaults are the reference's)."""

    aug_prob: float = 0.0
    reverse_color_prob: float = 0.5
    rotate_prob: float = 0.5
    max_rotation_degree: float = 5.0
    blur_prob: float = 0.5
    gaussian_radius_list: tuple[float, ...] = (1, 2, 3, 4)

    @classmethod
    def from_config(cls, aug: Any) -> AugmentParams:
        """Build from a `dataset.augmentation` section (any object with those attributes)."""
        defaults = cls()
        return cls(
            aug_prob=float(getattr(aug, "aug_prob", defaults.aug_prob)),
            reverse_color_prob=float(getattr(aug, "reverse_color_prob", defaults.reverse_color_prob)),
            rotate_prob=float(getattr(aug, "rotate_prob", defaults.rotate_prob)),
            max_rotation_degree=float(getattr(aug, "max_rotation_degree", defaults.max_rotation_degree)),
            blur_prob=float(getattr(aug, "blur_prob", defaults.blur_prob)),
            gaussian_radius_list=tuple(getattr(aug, "gaussian_radius_list", defaults.gaussian_radius_list)),
        )

    @property
    def enabled(self) -> bool:
        return self.aug_prob > 0


def _rand(generator: torch.Generator | None) -> float:
    return float(torch.rand((), generator=generator))


def _choice(items: Sequence[float], generator: torch.Generator | None) -> float:
    return items[int(torch.randint(len(items), (), generator=generator))]


class TrainAugment:
    """Callable PIL -> PIL at the network (or pad-mode) size; picklable for DataLoader workers."""

    def __init__(self, params: AugmentParams, height: int, width: int, keep_aspect_ratio: bool = False):
        self.params = params
        self.height = height
        self.width = width
        self.keep_aspect_ratio = keep_aspect_ratio

    def target_size(self, img: Image.Image) -> tuple[int, int]:
        if self.keep_aspect_ratio:
            return pad_width(self.width, self.height, img.width, img.height), self.height
        return self.width, self.height

    def __call__(self, img: Image.Image, generator: torch.Generator | None = None) -> Image.Image:
        size = self.target_size(img)
        img = img.resize(size, Image.Resampling.BICUBIC)
        p = self.params
        if not p.enabled or _rand(generator) >= p.aug_prob:
            return img
        if p.reverse_color_prob > 0 and _rand(generator) < p.reverse_color_prob:
            img = ImageOps.invert(img)
        if p.rotate_prob > 0 and p.max_rotation_degree > 0 and _rand(generator) < p.rotate_prob:
            angle = _rand(generator) * p.max_rotation_degree
            img = img.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
        if p.blur_prob > 0 and p.gaussian_radius_list and _rand(generator) < p.blur_prob:
            img = img.filter(ImageFilter.GaussianBlur(_choice(p.gaussian_radius_list, generator)))
        if img.size != size:
            img = img.resize(size, Image.Resampling.BICUBIC)
        return img
