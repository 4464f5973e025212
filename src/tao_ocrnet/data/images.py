# SPDX-License-Identifier: Apache-2.0
"""Image decoding, the evaluation-time preprocessing, and image-folder listing.

`preprocess` is the reference's eval transform, vectorised with numpy: bicubic resize (PIL), then
[0, 1] -> (x - 0.5) / 0.5, i.e. [-1, 1]. `input_channel` 3 means RGB; any other value means gray 'L'
(reference semantics). In pad mode (`keep_aspect_ratio`) the image is resized to height H and width
min(W, ceil(H*w/h)), then right-padded to W by repeating its last column (not zeros).
"""

from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from tao_ocrnet.errors import DataError

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageDecodeError",
    "decode_image",
    "image_mode",
    "list_images",
    "load_image",
    "pad_width",
    "preprocess",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp"})


class ImageDecodeError(DataError):
    """Bytes that are not a decodable, non-empty image."""


def image_mode(input_channel: int) -> str:
    """PIL mode for a model's `input_channel`: 3 -> 'RGB', anything else -> 'L'."""
    return "RGB" if input_channel == 3 else "L"


def decode_image(data: bytes, input_channel: int = 1, source: str = "<bytes>") -> Image.Image:
    """Fully decode encoded image bytes into a PIL image in the model's mode.

    Decoding is forced here (not lazily) so truncated or corrupt files fail at this point, as an
    `ImageDecodeError` naming `source`.
    """
    try:
        with warnings.catch_warnings():
            # Palette-transparency and EXIF chatter are harmless for recognition crops.
            warnings.simplefilter("ignore", UserWarning)
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                out = im.convert(image_mode(input_channel))
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(f"{source}: cannot decode image (not a known image format)") from exc
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise ImageDecodeError(f"{source}: cannot decode image ({exc})") from exc
    if out.width < 1 or out.height < 1:
        raise ImageDecodeError(f"{source}: image is empty ({out.width}x{out.height})")
    return out


def load_image(path: str | Path, input_channel: int = 1) -> Image.Image:
    """Read and decode one image file; missing or unreadable files raise ImageDecodeError too."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageDecodeError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return decode_image(data, input_channel, source=str(path))


def pad_width(width: int, height: int, in_width: int, in_height: int) -> int:
    """Resized width in pad mode: min(W, ceil(H * w / h)), at least 1."""
    return max(1, min(width, math.ceil(height * in_width / in_height)))


def preprocess(
    img: Image.Image, input_channel: int, height: int, width: int, keep_aspect_ratio: bool = False
) -> torch.Tensor:
    """PIL image -> float32 tensor [C, H, W] in [-1, 1] (C = 3 for RGB, else 1)."""
    mode = image_mode(input_channel)
    if img.mode != mode:
        img = img.convert(mode)
    target_w = pad_width(width, height, img.width, img.height) if keep_aspect_ratio else width
    if img.size != (target_w, height):
        img = img.resize((target_w, height), Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.float32)
    # Same float ops as ToTensor + Normalize(0.5, 0.5) so values match the reference bit for bit.
    arr = arr / 255.0
    arr -= 0.5
    arr /= 0.5
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if target_w < width:
        arr = np.pad(arr, ((0, 0), (0, width - target_w), (0, 0)), mode="edge")
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def list_images(directory: str | Path, recursive: bool = True, key: str = "image folder") -> list[Path]:
    """Image files (.jpg/.jpeg/.png/.bmp, any case) under `directory`, sorted by relative path.

    Sorted so inference output order is reproducible (the reference listed folders in file-system order).
    Symlinked folders are followed once (a loop cannot recurse forever).
    """
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"{key}: {root} does not exist or is not a folder")
    found: list[tuple[str, Path]] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        for name in filenames:
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                p = Path(dirpath, name)
                found.append((p.relative_to(root).as_posix(), p))
        if not recursive:
            break
    found.sort(key=lambda t: t[0])
    return [p for _, p in found]
