# SPDX-License-Identifier: Apache-2.0
"""Synthetic word-crop datasets in the skill's data-source layout (`ocrnet synth`).

Output layout (exactly)::

    OUT/train/word_0000001.jpg ...     training crops
    OUT/train/gt_new.txt               one ``relpath<TAB>label`` line per crop (relpath relative to train/)
    OUT/test/...  OUT/test/gt_new.txt  the same for the test split
    OUT/character_list                 one character per line (the class order)
    OUT/train.tar.gz, OUT/test.tar.gz  archives of the split folders

Archive rule: each archive's members are the split folder's *contents* at top level, every name
prefixed with ``./`` (``./gt_new.txt``, ``./word_0000001.jpg``) and no folder entry. So a plain
``tar -xzf`` and the host side's ``tar -xzf --strip-components=1`` both put gt_new.txt and the images
directly in the extraction folder, where gt_new.txt's relative paths resolve. Archives are
byte-for-byte reproducible (fixed mtimes, owners and gzip header).

Crops are rendered with the machine's fonts (`fonts.discover_fonts`; never downloaded) and its wallpapers
(`backgrounds.discover_backgrounds`): English words (`words.default_words`), pronounceable pseudo-words, random
strings and numbers; rendered in lower / upper / title case while labels stay lower-case (`lowercase_labels`,
when the charset has no upper-case letters). Each crop draws a text style (`text_layers`: size, spacing,
per-character jitter, outline, underline), a geometry (`geometry`: arc and sine baselines, shear, rotation,
perspective, elastic distortion, tight or loose crop, aspect), a background (a photograph or a procedural one)
with a text colour chosen against the background under the text (sometimes barely readable), a drop shadow
or occluding lines at times, and degradations (`degrade`: blurs, noise, down-up sampling, contrast, gamma,
colour jitter, inversion, gray) before JPEG artefacts.

Every sample draws from its own RNG seeded by (seed, split, index), so the output is identical for
a seed whatever the number of worker processes. With `fonts_split` the train and test splits use
disjoint font designs, disjoint labels and disjoint background photographs (an honest test set).
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import shutil
import tarfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from tqdm import tqdm

from tao_ocrnet.data.charset import ALNUM36, CHARSETS
from tao_ocrnet.data.synth.backgrounds import (
    PROCEDURAL_KINDS,
    discover_backgrounds,
    photo_crop,
    procedural_background,
    split_backgrounds,
)
from tao_ocrnet.data.synth.degrade import degrade
from tao_ocrnet.data.synth.fonts import design_group, discover_fonts, font_family
from tao_ocrnet.data.synth.geometry import draw_geometry, warp
from tao_ocrnet.data.synth.text_layers import TextLayers, draw_text_style, text_layers
from tao_ocrnet.data.synth.words import default_words, pseudo_word, random_number, random_string
from tao_ocrnet.errors import DataError

__all__ = [
    "ALNUM36",
    "CHARSETS",
    "GT_NAME",
    "SynthSummary",
    "generate_dataset",
    "render_word",
    "resolve_charset",
]

log = logging.getLogger(__name__)

GT_NAME = "gt_new.txt"
CHARLIST_NAME = "character_list"
_SPLITS = ("train", "test")
_OUTPUTS = ("train", "test", CHARLIST_NAME, "train.tar.gz", "test.tar.gz")
_TEST_FONT_SHARE = 0.25
# solid, gradient, noise, quasicrystal, paper, blotches (backgrounds.PROCEDURAL_KINDS)
_PROCEDURAL_WEIGHTS = (0.3, 0.2, 0.18, 0.1, 0.14, 0.08)


@dataclass
class SynthSummary:
    out_dir: Path
    num_train: int
    num_test: int
    charset: str
    seed: int
    train_fonts: list[str] = field(default_factory=list)
    test_fonts: list[str] = field(default_factory=list)
    train_backgrounds: list[str] = field(default_factory=list)
    test_backgrounds: list[str] = field(default_factory=list)
    fonts_split: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        d["character_list"] = str(self.out_dir / CHARLIST_NAME)
        d["archives"] = [str(self.out_dir / f"{s}.tar.gz") for s in _SPLITS]
        return d


def resolve_charset(charset: str | Sequence[str]) -> str:
    """A charset name from CHARSETS, or the characters themselves (duplicates rejected)."""
    if isinstance(charset, str) and charset in CHARSETS:
        return CHARSETS[charset]
    chars = "".join(charset)
    if not chars:
        raise DataError("the synthetic charset is empty")
    if len(set(chars)) != len(chars):
        raise DataError(f"the synthetic charset {chars!r} has duplicate characters")
    if any(ch.isspace() for ch in chars):
        raise DataError("the synthetic charset cannot contain whitespace (it can never be a class)")
    return chars


# --------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class _Plan:
    """What to draw for one sample; planned up front so test labels can avoid train labels."""

    index: int
    text: str  # as rendered
    label: str  # as written to gt
    font: str


class _LabelMaker:
    def __init__(self, charset: str, lowercase_labels: bool, max_label_length: int, words: Sequence[str]):
        self.charset = charset
        self.allowed = frozenset(charset)
        self.has_upper = any(c.isupper() for c in charset)
        # Case variants are rendered only when labels fold them back to a class.
        self.vary_case = lowercase_labels and not self.has_upper
        self.max_len = max_label_length
        self.words = [w for w in words if self._ok(w)]
        self.letters = "".join(c for c in charset if c.isalpha())
        self.has_digits = any(c.isdigit() for c in charset)

    def _ok(self, label: str) -> bool:
        return 0 < len(label) <= self.max_len and self.allowed.issuperset(label)

    def _base(self, rng: np.random.Generator) -> str:
        r = rng.random()
        if r < 0.45 and self.words:
            return self.words[int(rng.integers(len(self.words)))]
        if r < 0.70 and self.letters:
            return pseudo_word(rng)
        if r < 0.85 and self.has_digits:
            return random_number(rng, max_len=min(12, self.max_len))
        return random_string(rng, self.charset, 1, min(16, self.max_len))

    def _case(self, word: str, rng: np.random.Generator) -> str:
        r = rng.random()
        if r < 0.5:
            return word
        if r < 0.75:
            return word.upper()
        if r < 0.95:
            return word.capitalize()
        return "".join(c.upper() if rng.random() < 0.5 else c for c in word)

    def make(self, rng: np.random.Generator, avoid: frozenset[str] | set[str]) -> tuple[str, str]:
        """(rendered text, label)."""
        for _ in range(100):
            base = self._base(rng).lower()
            if self.vary_case:
                text, label = self._case(base, rng), base
            elif self.has_upper:
                text = label = self._case(base, rng)
            else:
                text = label = base
            if self._ok(label) and label not in avoid:
                return text, label
        # Practically unreachable; a fresh random string keeps the split disjoint anyway.
        while True:
            label = random_string(rng, self.charset, 6, min(12, self.max_len))
            if label not in avoid:
                return label, label


def _split_words(words: Sequence[str], seed: int, disjoint: bool) -> tuple[list[str], list[str]]:
    if not disjoint:
        return list(words), list(words)
    order = np.random.default_rng([seed, 7]).permutation(len(words))
    n_test = max(1, len(words) // 5)
    test = [words[i] for i in order[:n_test]]
    train = [words[i] for i in order[n_test:]]
    return train, test


def _split_fonts(
    fonts: Sequence[str], seed: int, disjoint: bool, train_designs: frozenset[str] = frozenset()
) -> tuple[list[str], list[str]]:
    if not disjoint:
        return list(fonts), list(fonts)
    groups: dict[str, list[str]] = {}
    for f in fonts:
        groups.setdefault(design_group(f), []).append(f)
    if len(groups) < 2:
        raise DataError(
            f"fonts_split needs fonts of at least two designs; found only {sorted(groups)}: "
            "install more font packages (see .ci/apt-packages.txt)"
        )
    names = sorted(groups)
    n_test = max(1, round(len(names) * _TEST_FONT_SHARE))
    # Test designs come from those with several styles when there are enough of them: a lone
    # display font (e.g. one calligraphic file) would make an unrepresentative test set.
    rich = [n for n in names if len(groups[n]) > 1 and n not in train_designs]
    pool = rich if len(rich) > n_test else [n for n in names if n not in train_designs]
    if len(pool) <= n_test:
        raise DataError(
            f"fonts_split with train_designs {sorted(train_designs)} leaves {len(pool)} design(s) for the test "
            "split: install more font packages or hold fewer designs on the training side"
        )
    order = np.random.default_rng([seed, 11]).permutation(len(pool))
    test_names = {pool[i] for i in order[:n_test]}
    train = sorted(f for n in names if n not in test_names for f in groups[n])
    test = sorted(f for n in test_names for f in groups[n])
    return train, test


def _pick_font(fonts_by_family: list[list[str]], rng: np.random.Generator) -> str:
    # Family first, then a style: a family with many styles does not dominate.
    family = fonts_by_family[int(rng.integers(len(fonts_by_family)))]
    return family[int(rng.integers(len(family)))]


def _by_family(fonts: Sequence[str]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for f in fonts:
        groups.setdefault(font_family(f), []).append(f)
    return [sorted(groups[k]) for k in sorted(groups)]


# --------------------------------------------------------------------------- rendering


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def _color(rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    """A random colour whose luminance lies (after clipping, roughly) in [lo, hi]."""
    c = rng.uniform(0, 255, 3)
    if rng.random() < 0.4:  # many signs are near-grey
        c = np.full(3, c.mean()) + rng.normal(0, 12, 3)
    c = c + (rng.uniform(lo, hi) - _luminance(c))
    return np.clip(c, 0, 255)


def _background(w: int, h: int, photos: Sequence[str], rng: np.random.Generator) -> np.ndarray:
    if photos and rng.random() < 0.45:
        bg = photo_crop(photos[int(rng.integers(len(photos)))], w, h, rng)
        if rng.random() < 0.5:  # a busy photograph, calmed: flatter, so the text can still be read
            mean = bg.mean(axis=(0, 1))
            bg = mean + (bg - mean) * rng.uniform(0.3, 0.9)
        return bg
    light = rng.random() < 0.7
    base = _color(rng, 150, 255) if light else _color(rng, 0, 110)
    kind = PROCEDURAL_KINDS[int(rng.choice(len(PROCEDURAL_KINDS), p=_PROCEDURAL_WEIGHTS))]
    return procedural_background(kind, w, h, base, rng)


def _text_color(local: np.ndarray, rng: np.random.Generator, barely: bool) -> np.ndarray:
    """A text colour for the background colour under the text: mostly clearly apart, sometimes barely."""
    lum = float(_luminance(local))
    delta = rng.uniform(30, 60) if barely else rng.uniform(90, 200)
    darker = rng.random() < lum / 255  # towards the side with more room
    target = lum - delta if darker else lum + delta
    if not 0 <= target <= 255:  # no room on that side: the other one
        target = lum + delta if darker else lum - delta
    target = float(np.clip(target, 0, 255))
    for _ in range(8):  # a saturated colour clipped to the range can land far from its brightness: draw again
        fg = _color(rng, max(0.0, target - 8), min(255.0, target + 8))
        if abs(float(_luminance(fg)) - target) <= 20:
            return fg
    return np.full(3, target)


def _occlude(img: np.ndarray, rng: np.random.Generator) -> None:
    """Draw one or two lines across the word (wires, cracks, strokes of a pen), in place."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(1, 3))):
        y0, y1 = (rng.uniform(0.1, 0.9, 2) * h).astype(int).tolist()
        color = tuple(float(v) for v in rng.uniform(0, 255, 3))
        cv2.line(img, (0, y0), (w - 1, y1), color, max(1, round(h * rng.uniform(0.02, 0.07))), cv2.LINE_AA)


def render_word(
    text: str, font_path: str, rng: np.random.Generator, height: int = 32, photos: Sequence[str] = ()
) -> Image.Image:
    """One synthetic word crop, `height` pixels tall, RGB. `photos`: background photographs to crop from
    (procedural backgrounds only when empty)."""
    style = draw_text_style(rng)
    layers = TextLayers.from_stack(warp(text_layers(text, font_path, style, rng).stack(), draw_geometry(rng), rng))
    h, w = layers.fill.shape
    bg = _background(w, h, photos, rng)
    ink = layers.fill[..., None]
    inked = layers.fill > 0.5
    local = bg[inked].mean(axis=0) if inked.any() else bg.mean(axis=(0, 1))
    fg = _text_color(local, rng, barely=rng.random() < 0.08)
    if rng.random() < 0.08:  # drop shadow: the ink, shifted and softened, darkening the background
        shift = np.array([[1, 0, rng.integers(1, 4)], [0, 1, rng.integers(1, 4)]], dtype=np.float32)
        shadow = cv2.GaussianBlur(cv2.warpAffine(layers.fill, shift, (w, h)), (0, 0), rng.uniform(0.5, 1.5))
        bg = bg * (1 - 0.6 * shadow[..., None])
    out = bg
    if layers.outline is not None:
        ring_color = _text_color(fg, rng, barely=False)
        out = out * (1 - layers.outline[..., None]) + ring_color.astype(np.float32) * layers.outline[..., None]
    alpha = ink * rng.uniform(0.8, 1.0)
    out = out * (1 - alpha) + fg.astype(np.float32) * alpha
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.06:
        _occlude(out, rng)

    aspect = float(np.exp(rng.uniform(np.log(0.75), np.log(1.35)))) if rng.random() < 0.4 else 1.0
    new_w = max(1, round(w * height / h * aspect))
    interpolation = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC)[int(rng.integers(3))]
    out = cv2.resize(out, (new_w, height), interpolation=interpolation)
    out = degrade(out, int(rng.integers(2**31)))
    return Image.fromarray(np.ascontiguousarray(out), "RGB")


def _sample_rng(seed: int, split: str, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, _SPLITS.index(split), index, stream])


def _encode(img: Image.Image, rng: np.random.Generator) -> tuple[bytes, str]:
    buf = io.BytesIO()
    if rng.random() < 0.85:  # JPEG at a random quality: the artefacts are part of the data
        img.save(buf, "JPEG", quality=int(rng.integers(35, 96)))
        return buf.getvalue(), ".jpg"
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue(), ".png"


def _file_name(index: int, ext: str) -> str:
    return f"word_{index:07d}{ext}"


def _render_chunk(args: tuple[int, str, str, int, tuple[str, ...], list[_Plan]]) -> list[tuple[int, str]]:
    """Worker: render and write a chunk of planned samples; returns (index, file name)."""
    seed, split, folder, height, photos, plans = args
    names = []
    for plan in plans:
        rng = _sample_rng(seed, split, plan.index, 1)
        img = render_word(plan.text, plan.font, rng, height, photos)
        data, ext = _encode(img, rng)
        name = _file_name(plan.index, ext)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
        names.append((plan.index, name))
    return names


# --------------------------------------------------------------------------- output


def _write_tar(folder: Path, archive: Path) -> None:
    """Reproducible tar.gz of `folder`'s contents as ``./name`` members (see module docstring)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with (
        archive.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for p in files:
            info = tarfile.TarInfo("./" + p.relative_to(folder).as_posix())
            info.size = p.stat().st_size
            info.mtime = 0
            info.mode = 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with p.open("rb") as f:
                tar.addfile(info, f)


def _plan_split(
    split: str,
    n: int,
    seed: int,
    maker: _LabelMaker,
    fonts: list[list[str]],
    avoid: frozenset[str] | set[str],
    first: int = 1,
) -> list[_Plan]:
    plans = []
    for i in range(first, first + n):
        rng = _sample_rng(seed, split, i, 0)
        text, label = maker.make(rng, avoid)
        plans.append(_Plan(i, text, label, _pick_font(fonts, rng)))
    return plans


def _render_split(
    plans: list[_Plan],
    split: str,
    folder: Path,
    seed: int,
    height: int,
    photos: Sequence[str],
    workers: int,
    desc: str,
) -> dict[int, str]:
    chunk = 256
    jobs = [(seed, split, str(folder), height, tuple(photos), plans[k : k + chunk])
            for k in range(0, len(plans), chunk)]  # fmt: skip
    names: dict[int, str] = {}
    with tqdm(total=len(plans), desc=desc, unit="img") as bar:
        if workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for done in pool.map(_render_chunk, jobs):
                    names.update(done)
                    bar.update(len(done))
        else:
            for job in jobs:
                done = _render_chunk(job)
                names.update(done)
                bar.update(len(done))
    return names


def _prepare_out(out: Path, overwrite: bool) -> None:
    existing = [name for name in _OUTPUTS if (out / name).exists()]
    if existing and not overwrite:
        raise DataError(
            f"{out} already holds {', '.join(existing)}; refusing to overwrite them without "
            "overwrite=True (--overwrite)"
        )
    out.mkdir(parents=True, exist_ok=True)


def generate_dataset(
    out_dir: str | Path,
    num_train: int,
    num_test: int,
    seed: int = 0,
    charset: str | Sequence[str] = ALNUM36,
    fonts: str | Path | Iterable[str | Path] | None = None,
    lowercase_labels: bool = True,
    height: int = 32,
    *,
    fonts_split: bool = False,
    max_label_length: int = 25,
    workers: int = 1,
    overwrite: bool = False,
    words: Sequence[str] | None = None,
    first_index: int = 1,
    avoid_labels: Iterable[str] = (),
    backgrounds: str | Path | Iterable[str | Path] | None = None,
    train_designs: Iterable[str] = (),
) -> SynthSummary:
    """Write a synthetic dataset to `out_dir` in the layout of the module docstring.

    `charset`: a CHARSETS name or the characters; `fonts`: a folder (or font files) replacing the
    system font folders; `backgrounds`: folders of photographs replacing the system wallpaper folders
    (an empty list: procedural backgrounds only); `fonts_split`: disjoint font designs, labels and
    background photographs between train and test, where `train_designs` (design groups, see
    `fonts.design_group`; e.g. those a model being fine-tuned was trained on) stay on the training side;
    `workers` > 1 renders in that many processes (same output). Existing outputs are replaced only
    with `overwrite`. More training data for an existing dataset: the same seed (hence the same
    font and word split) with `first_index` past its `num_train` renders fresh crops, and
    `avoid_labels` (e.g. its test labels) keeps labels out of both splits. Work happens in a
    temporary folder inside `out_dir`, moved in at the end.
    """
    if num_train < 1 or num_test < 0:
        raise DataError(f"need num_train >= 1 and num_test >= 0 (got {num_train}, {num_test})")
    if height < 8:
        raise DataError(f"height must be at least 8 pixels (got {height})")
    if first_index < 1:
        raise DataError(f"first_index numbers the training crops from 1 (got {first_index})")
    started = time.monotonic()
    chars = resolve_charset(charset)
    out = Path(out_dir)
    _prepare_out(out, overwrite)

    maker = _LabelMaker(chars, lowercase_labels, max_label_length, default_words() if words is None else words)
    render_chars = chars + (chars.upper() if maker.vary_case else "")
    font_dirs = None if fonts is None else ([fonts] if isinstance(fonts, str | Path) else list(fonts))
    all_fonts = discover_fonts(render_chars, font_dirs)
    train_fonts, test_fonts = _split_fonts(all_fonts, seed, fonts_split, frozenset(train_designs))
    photo_dirs = [backgrounds] if isinstance(backgrounds, str | Path) else backgrounds
    train_photos, test_photos = split_backgrounds(discover_backgrounds(photo_dirs), seed, fonts_split)
    train_words, test_words = _split_words(maker.words, seed, fonts_split)

    work = out / f".synth-partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        held_out = frozenset(avoid_labels)
        train_labels: set[str] = set()
        for split, n, first, split_fonts, split_words, photos in (
            ("train", num_train, first_index, train_fonts, train_words, train_photos),
            ("test", num_test, 1, test_fonts, test_words, test_photos),
        ):
            folder = work / split
            folder.mkdir(parents=True)
            maker.words = split_words
            avoid = held_out | train_labels if (fonts_split and split == "test") else held_out
            plans = _plan_split(split, n, seed, maker, _by_family(split_fonts), avoid, first)
            if split == "train" and fonts_split:
                train_labels = {p.label for p in plans}
            names = _render_split(plans, split, folder, seed, height, photos, workers, f"synth {split}")
            with (folder / GT_NAME).open("w", encoding="utf-8", newline="\n") as gt:
                for p in plans:
                    gt.write(f"{names[p.index]}\t{p.label}\n")
            _write_tar(folder, work / f"{split}.tar.gz")
        (work / CHARLIST_NAME).write_text("".join(f"{c}\n" for c in chars), encoding="utf-8")
        for name in _OUTPUTS:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            os.replace(work / name, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    summary = SynthSummary(
        out_dir=out,
        num_train=num_train,
        num_test=num_test,
        charset=chars,
        seed=seed,
        train_fonts=train_fonts,
        train_backgrounds=train_photos,
        test_backgrounds=test_photos,
        test_fonts=test_fonts,
        fonts_split=fonts_split,
        seconds=round(time.monotonic() - started, 3),
    )
    log.info("synth: %d train + %d test crops in %s (%.1f s)", num_train, num_test, out, summary.seconds)
    return summary


# --------------------------------------------------------------------------- CLI entry
