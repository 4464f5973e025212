# SPDX-License-Identifier: Apache-2.0
"""Geometry of a synthetic word: curved baselines (arc, sine), shear, rotation, perspective, elastic distortion,
and the crop around the ink (tight or loose, uneven margins like a detector's boxes).

Every function takes and returns a stack of text layers, (h, w, k) float32 in [0, 1], so the fill and its outline
move together. OpenCV does the warps; albumentations the elastic distortion.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from tao_ocrnet.data.synth.albu import A

__all__ = ["Geometry", "crop_to_ink", "curve", "draw_geometry", "elastic", "perspective", "rotate_shear", "warp"]

CURVES = ("none", "arc", "sine")


@dataclass(frozen=True)
class Geometry:
    curve: str = "none"  # one of CURVES
    curve_amount: float = 0.0  # peak baseline displacement, a fraction of the text size (sign: up or down)
    sine_periods: float = 1.0
    sine_phase: float = 0.0
    shear: float = 0.0  # horizontal shift per pixel of height (italic-like slant)
    rotation: float = 0.0  # degrees, counter-clockwise
    perspective: float = 0.0  # corner displacement, a fraction of the height
    elastic: bool = False
    tight: bool = False  # crop margins close to the ink (may clip it a little)


def draw_geometry(rng: np.random.Generator) -> Geometry:
    r = rng.random()
    kind = "arc" if r < 0.08 else "sine" if r < 0.14 else "none"
    return Geometry(
        curve=kind,
        curve_amount=float(rng.uniform(0.1, 0.35) * rng.choice([-1, 1])) if kind != "none" else 0.0,
        sine_periods=float(rng.uniform(0.5, 1.5)),
        sine_phase=float(rng.uniform(0, 2 * math.pi)),
        shear=float(rng.uniform(-0.35, 0.35)) if rng.random() < 0.15 else 0.0,
        rotation=float(np.clip(rng.normal(0, 2.5), -8, 8)) if rng.random() < 0.7 else 0.0,
        perspective=float(rng.uniform(0.05, 0.2)) if rng.random() < 0.3 else 0.0,
        elastic=rng.random() < 0.08,
        tight=rng.random() < 0.3,
    )


def _ink_rows(stack: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(stack.max(axis=(1, 2)) > 0.05)
    return (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, stack.shape[0])


def curve(stack: np.ndarray, kind: str, amount: float, periods: float = 1.0, phase: float = 0.0) -> np.ndarray:
    """Bend the baseline: `arc` (a parabola, ends `amount` x text height above or below the middle) or `sine`."""
    if kind == "none" or amount == 0:
        return stack
    top, bottom = _ink_rows(stack)
    h, w = stack.shape[:2]
    peak = abs(amount) * (bottom - top)
    pad = math.ceil(peak) + 1
    stack = _channels(cv2.copyMakeBorder(stack, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=0), stack)
    u = np.linspace(0.0, 1.0, w, dtype=np.float32)
    if kind == "arc":
        shift = amount * (bottom - top) * ((2 * u - 1) ** 2 - 0.5)
    elif kind == "sine":
        shift = amount * (bottom - top) * np.sin(2 * np.pi * periods * u + phase)
    else:
        raise ValueError(f"unknown curve {kind!r}; one of {CURVES}")
    map_x = np.broadcast_to(np.arange(w, dtype=np.float32), (h + 2 * pad, w))
    map_y = np.arange(h + 2 * pad, dtype=np.float32)[:, None] - shift[None, :]
    return _channels(cv2.remap(stack, map_x, map_y.astype(np.float32), cv2.INTER_LINEAR, borderValue=0), stack)


def rotate_shear(stack: np.ndarray, rotation: float, shear: float) -> np.ndarray:
    """Rotate by `rotation` degrees and slant by `shear`, on a canvas grown to keep every corner."""
    if rotation == 0 and shear == 0:
        return stack
    h, w = stack.shape[:2]
    m = np.array([[1.0, -shear, shear * h / 2], [0.0, 1.0, 0.0]])  # slant about the middle row
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), rotation, 1.0)
    m = rot @ np.vstack([m, [0, 0, 1]])
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], dtype=np.float64) @ m.T
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    m[:, 2] -= lo
    size = (math.ceil(hi[0] - lo[0]), math.ceil(hi[1] - lo[1]))
    return _channels(cv2.warpAffine(stack, m, size, flags=cv2.INTER_LINEAR, borderValue=0), stack)


def perspective(stack: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Move each corner by up to `amount` x height: text seen from the side, above or below."""
    if amount == 0:
        return stack
    h, w = stack.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    dst = (src + rng.uniform(-amount * h, amount * h, src.shape)).astype(np.float32)
    dst -= dst.min(axis=0)
    size = (math.ceil(dst[:, 0].max()), math.ceil(dst[:, 1].max()))
    m = cv2.getPerspectiveTransform(src, dst)
    return _channels(cv2.warpPerspective(stack, m, size, flags=cv2.INTER_LINEAR, borderValue=0), stack)


@functools.cache
def _elastic_pipeline(size_bucket: int) -> A.Compose:
    # Displacements scale with the text: a field smooth over ~1/6 of the glyph height, moving ~1/10 of it.
    return A.Compose([A.ElasticTransform(alpha=size_bucket * 1.2, sigma=size_bucket / 6, p=1.0)])


def elastic(stack: np.ndarray, seed: int) -> np.ndarray:
    """Smooth random displacement of the strokes (handwriting-like wobble, print on fabric)."""
    top, bottom = _ink_rows(stack)
    pipeline = _elastic_pipeline(max(8, (bottom - top) // 8 * 8))
    pipeline.set_random_seed(seed)
    return _channels(pipeline(image=np.ascontiguousarray(stack))["image"], stack)


def crop_to_ink(stack: np.ndarray, tight: bool, rng: np.random.Generator) -> np.ndarray:
    """Crop around the ink with uneven margins: tight (may clip a little of the text) or loose."""
    ink = stack.max(axis=2) > 0.05
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if not rows.size:
        return stack
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    h = y1 - y0
    lo, hi = (-0.05, 0.08) if tight else (0.0, 0.45)
    top, bottom = (rng.uniform(lo, hi, 2) * h).tolist()
    left, right = (rng.uniform(lo, hi + 0.1, 2) * h).tolist()
    box = [round(y0 - top), round(y1 + bottom), round(x0 - left), round(x1 + right)]
    # Margins past the canvas are padded with empty ink (the background shows there).
    pads = [max(0, -box[0]), max(0, box[1] - stack.shape[0]), max(0, -box[2]), max(0, box[3] - stack.shape[1])]
    if any(pads):
        top, bottom, left, right = pads
        stack = _channels(cv2.copyMakeBorder(stack, top, bottom, left, right, cv2.BORDER_CONSTANT, value=0), stack)
        box = [box[0] + pads[0], box[1] + pads[0], box[2] + pads[2], box[3] + pads[2]]
    return stack[box[0] : box[1], box[2] : box[3]]


def warp(stack: np.ndarray, g: Geometry, rng: np.random.Generator) -> np.ndarray:
    """Every warp of `g`, then the crop."""
    stack = curve(stack, g.curve, g.curve_amount, g.sine_periods, g.sine_phase)
    if g.elastic:
        stack = elastic(stack, int(rng.integers(2**31)))
    stack = perspective(stack, g.perspective, rng)
    stack = rotate_shear(stack, g.rotation, g.shear)
    return crop_to_ink(stack, g.tight, rng)


def _channels(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    """OpenCV drops a trailing axis of length 1: put it back."""
    return out[..., None] if out.ndim == 2 and like.ndim == 3 else out
