# SPDX-License-Identifier: Apache-2.0
"""Image decoding, the evaluation-time preprocessing, and image-folder listing.

`preprocess` is the reference's eval transform, vectorised with numpy: bicubic resize (PIL), then
[0, 1] -> (x - 0.5) / 0.5, i.e. [-1, 1]. `input_channel` 3 means RGB; any other value means gray 'L'
(reference semantics). In pad mode (`keep_aspect_ratio`) the image is resized to height H and width
min(W, ceil(H*w/h)), then right-padded to W by repeating its last column (not zeros).
"""

from __future__ import annotations

import functools
import io
import logging
import math
import os
import stat
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, UnidentifiedImageError

from tao_ocrnet.config.formats import IMAGE_EXTENSIONS
from tao_ocrnet.errors import DataError

if TYPE_CHECKING:
    import torch

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_BYTES",
    "MAX_PIXELS_ENV",
    "ImageDecodeError",
    "ImageRefusedError",
    "decode_image",
    "image_file_problem",
    "image_mode",
    "list_images",
    "load_image",
    "max_image_pixels",
    "pad_width",
    "preprocess",
    "read_image_file",
]

log = logging.getLogger(__name__)

#: The largest image file read: a word crop is kilobytes, so a bigger file is not one (or is /dev/zero).
MAX_IMAGE_BYTES = 32 << 20
#: Decoded size limit (width x height), from this environment variable, else DEFAULT_MAX_PIXELS. A
#: 12000x12000 PNG is 420 KB on disk but ~430 MB decoded, at every decode: such images are skipped unread.
MAX_PIXELS_ENV = "OCRNET_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 4096 * 4096


class ImageDecodeError(DataError):
    """Bytes that are not a decodable, non-empty image."""


class ImageRefusedError(ImageDecodeError):
    """An image that is not read or decoded at all: not a regular file, too big, or too many pixels."""

    def __init__(self, source: str | Path, reason: str):
        super().__init__(f"{source}: {reason}")
        self.reason = reason


@functools.cache
def _parse_max_pixels(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise DataError(
            f"{MAX_PIXELS_ENV}={raw!r}: must be a positive whole number of pixels (default {DEFAULT_MAX_PIXELS})"
        )
    return value


def max_image_pixels() -> int:
    """The decoded-size limit in pixels (`OCRNET_MAX_IMAGE_PIXELS`, default 4096 x 4096)."""
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    return _parse_max_pixels(raw) if raw else DEFAULT_MAX_PIXELS


def image_file_problem(path: str | Path) -> str | None:
    """Why `path` cannot be read as an image file (missing, not a regular file, too big), or None."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing image: file not found"
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        return f"unreadable image ({getattr(exc, 'strerror', None) or exc})"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file (a folder, FIFO or device)"
    if st.st_size > MAX_IMAGE_BYTES:
        return f"image file too large ({st.st_size} bytes; the limit is {MAX_IMAGE_BYTES})"
    return None


def read_image_file(path: str | Path) -> bytes:
    """The bytes of a regular image file of at most MAX_IMAGE_BYTES, else ImageRefusedError with the reason.

    Checked before it is opened (opening a device can have effects) and again on the open handle, which is
    non-blocking: a FIFO swapped in meanwhile cannot hang the read.
    """
    problem = image_file_problem(path)
    if problem is not None:
        raise ImageRefusedError(path, problem)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ImageRefusedError(path, f"unreadable image ({exc.strerror or exc})") from None
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ImageRefusedError(path, "not a regular file (a folder, FIFO or device)")
        data = handle.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRefusedError(path, f"image file too large (more than {MAX_IMAGE_BYTES} bytes)")
    return data


def image_mode(input_channel: int) -> str:
    """PIL mode for a model's `input_channel`: 3 -> 'RGB', anything else -> 'L'."""
    return "RGB" if input_channel == 3 else "L"


def decode_image(data: bytes, input_channel: int = 1, source: str = "<bytes>") -> Image.Image:
    """Fully decode encoded image bytes into a PIL image in the model's mode.

    Decoding is forced here (not lazily) so truncated or corrupt files fail at this point, as an
    `ImageDecodeError` naming `source`. An image of more than `max_image_pixels()` pixels is refused from
    its header, before any decoding.
    """
    limit = max_image_pixels()
    try:
        with warnings.catch_warnings():
            # Palette-transparency and EXIF chatter are harmless for recognition crops; the size limit is ours.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                if im.width * im.height > limit:
                    raise ImageRefusedError(
                        source,
                        f"image too large ({im.width}x{im.height} pixels; the limit is {limit}, {MAX_PIXELS_ENV})",
                    )
                im.load()
                out = im.convert(image_mode(input_channel))
    except UnidentifiedImageError as exc:
        raise ImageDecodeError(f"{source}: cannot decode image (not a known image format)") from exc
    except Image.DecompressionBombError as exc:  # Pillow's own limit, met at open above twice its default
        raise ImageRefusedError(source, f"image too large ({exc})") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageDecodeError(f"{source}: cannot decode image ({exc})") from exc
    if out.width < 1 or out.height < 1:
        raise ImageDecodeError(f"{source}: image is empty ({out.width}x{out.height})")
    return out


def load_image(path: str | Path, input_channel: int = 1) -> Image.Image:
    """Read and decode one image file; missing, unreadable or refused files raise ImageDecodeError too."""
    try:
        data = read_image_file(path)
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
    import torch  # here, not atop the module: dataset_convert reads images and never needs torch (seconds per job)

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
    Symlinked folders are followed once (a loop cannot recurse forever). Only regular files count: a FIFO or
    device named like an image would hang or flood a reader, so it is skipped (and counted in a warning).
    """
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"{key}: {root} does not exist or is not a folder")
    found: list[tuple[str, Path]] = []
    special = 0
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
                if not os.path.isfile(p):
                    special += 1
                    continue
                found.append((p.relative_to(root).as_posix(), p))
        if not recursive:
            break
    if special:
        log.warning("%s: skipped %d image names that are not regular files (FIFOs, devices)", root, special)
    found.sort(key=lambda t: t[0])
    return [p for _, p in found]
