# SPDX-License-Identifier: Apache-2.0
"""Image degradations of a finished word crop, through albumentations: gaussian, motion and defocus blur, noise,
down-up sampling, contrast, brightness and gamma, colour jitter (before any conversion to gray), inversion and
gray conversion. JPEG artefacts come last, from the encoder (`generate._encode`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from tao_ocrnet.data.synth.albu import A

__all__ = ["DEGRADATIONS", "degradation", "degrade"]

# Each degradation by name with its probability, so tests can apply one at a time; `degrade` applies them all.
DEGRADATIONS: dict[str, tuple[float, Callable[[float], A.BasicTransform]]] = {
    "gaussian_blur": (0.15, lambda p: A.GaussianBlur(sigma_limit=(0.4, 1.3), p=p)),
    "motion_blur": (0.1, lambda p: A.MotionBlur(blur_limit=(3, 5), p=p)),
    "defocus": (0.06, lambda p: A.Defocus(radius=(1, 2), alias_blur=(0.1, 0.3), p=p)),
    "noise": (0.3, lambda p: A.GaussNoise(std_range=(0.01, 0.07), p=p)),
    "downscale": (0.15, lambda p: A.Downscale(scale_range=(0.35, 0.75), p=p)),
    "contrast": (0.35, lambda p: A.RandomBrightnessContrast(brightness_limit=0.25, contrast_limit=(-0.4, 0.2), p=p)),
    "gamma": (0.25, lambda p: A.RandomGamma(gamma_limit=(55, 170), p=p)),
    "color_jitter": (0.3, lambda p: A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.4, hue=0.1, p=p)),
    "invert": (0.08, lambda p: A.InvertImg(p=p)),
    "gray": (0.1, lambda p: A.ToGray(num_output_channels=3, p=p)),
}


@functools.cache
def degradation(name: str) -> A.Compose:
    """One degradation, always applied (seed it with `set_random_seed`)."""
    return A.Compose([DEGRADATIONS[name][1](1.0)])


@functools.cache
def _pipeline() -> A.Compose:
    return A.Compose([make(p) for p, make in DEGRADATIONS.values()])


def degrade(image: np.ndarray, seed: int) -> np.ndarray:
    """`image` (h, w, 3) uint8 with each degradation applied at its probability; the same seed, the same result."""
    pipeline = _pipeline()
    pipeline.set_random_seed(seed)
    return pipeline(image=image)["image"]
