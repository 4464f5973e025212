# SPDX-License-Identifier: Apache-2.0
"""Backgrounds for synthetic word crops: crops of real photographs and textures, and procedural ones.

Photographs come from the machine's wallpaper folders (Debian's `gnome-backgrounds`, `mate-backgrounds`,
`plasma-workspace-wallpapers`; the project's list is `.ci/apt-packages.txt`) or a folder the user names; they
are never downloaded. A wallpaper shipped at several resolutions counts once (its smallest file that is still
large, which decodes fastest). Procedural backgrounds (solid, gradient, smooth noise, quasi-crystal, paper,
blotches) need no files, so the generator works without any wallpaper installed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from tao_ocrnet.errors import DataError

__all__ = [
    "BACKGROUND_DIRS",
    "discover_backgrounds",
    "photo_crop",
    "procedural_background",
    "split_backgrounds",
]

log = logging.getLogger(__name__)

BACKGROUND_DIRS: tuple[str, ...] = ("/usr/share/backgrounds", "/usr/share/wallpapers")
_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp"})
_RESOLUTION_SUFFIX = re.compile(r"[_-]?\d{3,5}x\d{3,5}$")
_MIN_SIDE = 720  # a copy smaller than this would blur when a small region is cropped from it
_MAX_SIDE = 640  # decoded copies are kept at most this large (a 4K wallpaper decodes once, then crops are cheap)
_TEST_SHARE = 0.25
PROCEDURAL_KINDS = ("solid", "gradient", "noise", "quasicrystal", "paper", "blotches")


def _group_key(path: Path) -> str:
    """Files of one wallpaper share a key: Plasma's `NAME/contents/images*/WxH.jpg` and `NAME_3840x2160.jpg`."""
    parts = path.parts
    if "contents" in parts:
        i = parts.index("contents")
        return str(Path(*parts[: i + 2]))
    return str(path.with_name(_RESOLUTION_SUFFIX.sub("", path.stem)))


def _pixels(path: Path) -> tuple[int, int] | None:
    try:
        with Image.open(path) as im:  # reads the header only
            return im.size
    except (OSError, Image.DecompressionBombError):
        return None


def _one_copy(files: list[tuple[int, int, str]]) -> str:
    """The smallest copy that is still large enough, else the largest one."""
    large = [f for f in files if f[1] >= _MIN_SIDE]
    return min(large)[2] if large else max(files)[2]


def discover_backgrounds(dirs: Iterable[str | Path] | None = None) -> list[str]:
    """Sorted paths of background photographs, one file per wallpaper, from `dirs` (folders) or the system's
    wallpaper folders. Empty when none are installed or `dirs` is empty (procedural backgrounds only); named
    folders that hold none are an error."""
    named = None if dirs is None else list(dirs)
    if named == []:
        return []  # asked for procedural backgrounds only
    groups: dict[str, list[tuple[int, int, str]]] = {}  # key -> (pixels, shorter side, path)
    for d in named if named is not None else BACKGROUND_DIRS:
        root = Path(os.path.expanduser(str(d)))
        if named is not None and not root.exists():
            raise DataError(f"background folder {root} does not exist: name a folder of .jpg/.png/.webp images")
        for dirpath, _, names in os.walk(root, followlinks=True):
            for name in names:
                path = Path(dirpath) / name
                if path.suffix.lower() not in _EXTENSIONS or path.stem == "screenshot":  # Plasma's previews
                    continue
                size = _pixels(path)
                if size is None:
                    log.warning("backgrounds: %s is not a readable image; skipped", path)
                    continue
                groups.setdefault(_group_key(path), []).append((size[0] * size[1], min(size), str(path)))
    chosen = sorted(_one_copy(files) for files in groups.values())
    if named is not None and not chosen:
        raise DataError(f"no .jpg/.png/.webp background images in {', '.join(map(str, named))}")
    log.info("backgrounds: %d photographs", len(chosen))
    return chosen


def split_backgrounds(paths: Sequence[str], seed: int, disjoint: bool) -> tuple[list[str], list[str]]:
    """(train, test) photographs; with `disjoint` a quarter of them is kept for the test split only."""
    if not disjoint or len(paths) < 2:
        return list(paths), list(paths)
    order = np.random.default_rng([seed, 13]).permutation(len(paths))
    n_test = max(1, round(len(paths) * _TEST_SHARE))
    test = sorted(paths[i] for i in order[:n_test])
    train = sorted(paths[i] for i in order[n_test:])
    return train, test


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tao-ocrnet" / "backgrounds"


@functools.lru_cache(maxsize=256)
def _decoded(path: str) -> np.ndarray:
    """The photograph at most _MAX_SIDE pixels wide and high. Decoding a 4K wallpaper takes ~0.3 s, so the small
    copy is kept (lossless, so a cached and a fresh copy are the same pixels) in the user's cache folder; a
    cache that cannot be written only costs the decode."""
    st = os.stat(path)
    key = hashlib.sha1(f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}|{_MAX_SIDE}".encode()).hexdigest()
    cached = _cache_dir() / f"{key[:24]}.png"
    with contextlib.suppress(OSError), Image.open(cached) as hit:
        return np.asarray(hit.convert("RGB"))
    with Image.open(path) as original:
        original.draft("RGB", (_MAX_SIDE, _MAX_SIDE))  # JPEG: decode at a reduced scale, several times faster
        im = original.convert("RGB")
    im.thumbnail((_MAX_SIDE, _MAX_SIDE), Image.Resampling.BILINEAR)
    with contextlib.suppress(OSError):
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.partial")
        im.save(partial, "PNG", compress_level=1)
        os.replace(partial, cached)  # workers preparing the same copy: the last rename wins, same bytes
    return np.asarray(im)


def photo_crop(path: str, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """A random region of the photograph at a random scale, resized to (h, w, 3) float32."""
    image = _decoded(path)
    ih, iw = image.shape[:2]
    fit = min(iw / w, ih / h)  # the largest scale at which a w x h region fits
    scale = fit if fit < 0.3 else rng.uniform(min(0.3, fit), fit)
    rw, rh = max(1, min(iw, round(w * scale))), max(1, min(ih, round(h * scale)))
    x, y = int(rng.integers(0, iw - rw + 1)), int(rng.integers(0, ih - rh + 1))
    region = image[y : y + rh, x : x + rw]
    if rng.random() < 0.5:
        region = region[:, ::-1]
    return cv2.resize(region, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)


def _smooth_noise(w: int, h: int, cell: int, rng: np.random.Generator) -> np.ndarray:
    """Noise in [-0.5, 0.5] with features about `cell` pixels wide."""
    gh, gw = max(2, h // cell), max(2, w // cell)
    field = rng.normal(0, 1, (gh, gw)).astype(np.float32)
    field = (field - field.min()) / max(float(np.ptp(field)), 1e-6) - 0.5
    return cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC)


def _quasicrystal(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """A sum of plane waves in k directions: the interference patterns of printed textures, in [0, 1]."""
    k = int(rng.integers(3, 8))
    freq = rng.uniform(0.15, 0.6)
    phase = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    total = np.zeros((h, w), np.float32)
    for i in range(k):
        theta = np.pi * i / k
        total += np.cos(freq * (xx * np.cos(theta) + yy * np.sin(theta)) + phase)
    return (total / k + 1) / 2


def procedural_background(kind: str, w: int, h: int, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A (h, w, 3) float32 background of one of PROCEDURAL_KINDS around colour `base`."""
    bg = np.broadcast_to(base.astype(np.float32), (h, w, 3)).copy()
    other = np.clip(base + rng.normal(0, 45, 3), 0, 255).astype(np.float32)
    if kind == "solid":
        return bg
    if kind == "gradient":
        theta = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = xx * np.cos(theta) / max(w, 1) + yy * np.sin(theta) / max(h, 1)
        t = ((t - t.min()) / max(float(t.max() - t.min()), 1e-6))[..., None]
        return bg * (1 - t) + other * t
    if kind == "noise":  # concrete, fabric, stone
        amp = rng.uniform(15, 50)
        tint = rng.uniform(0.6, 1.0, 3).astype(np.float32)
        return bg + _smooth_noise(w, h, int(rng.integers(3, 12)), rng)[..., None] * amp * tint
    if kind == "quasicrystal":
        t = (_quasicrystal(w, h, rng) * rng.uniform(0.3, 0.8))[..., None]
        return bg * (1 - t) + other * t
    if kind == "paper":  # fine grain over a slow shading, with a few fibres
        shade = _smooth_noise(w, h, max(4, h), rng)[..., None] * rng.uniform(10, 30)
        grain = rng.normal(0, rng.uniform(2, 7), (h, w, 1)).astype(np.float32)
        out = bg + shade + grain
        for _ in range(int(rng.integers(0, 4))):
            x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
            x1, y1 = x0 + int(rng.integers(-w // 3, w // 3 + 1)), y0 + int(rng.integers(-h // 2, h // 2 + 1))
            cv2.line(out, (x0, y0), (x1, y1), tuple(float(v) for v in other), 1, cv2.LINE_AA)
        return out
    if kind == "blotches":  # a few soft shapes of a nearby colour
        for _ in range(int(rng.integers(2, 6))):
            c = tuple(float(v) for v in np.clip(base + rng.normal(0, 30, 3), 0, 255))
            center = (int(rng.uniform(-0.2, 1.0) * w), int(rng.uniform(-0.2, 1.0) * h))
            r = rng.uniform(0.2, 0.8) * h
            cv2.ellipse(bg, center, (int(r * rng.uniform(1, 4)), int(r)), 0, 0, 360, c, -1)
        sigma = rng.uniform(1, 4)
        return cv2.GaussianBlur(bg, (0, 0), sigma)
    raise ValueError(f"unknown background kind {kind!r}; one of {PROCEDURAL_KINDS}")
