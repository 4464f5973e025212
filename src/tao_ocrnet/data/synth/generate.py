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

Crops are rendered with the machine's fonts (`fonts.discover_fonts`; never downloaded): words from
an embedded English list, pronounceable pseudo-words, random strings and numbers; rendered in
lower / upper / title case while labels stay lower-case (`lowercase_labels`, when the charset has
no upper-case letters); on solid, gradient, noise-texture or blotchy backgrounds, with contrasting
text colours, small rotation and perspective, blur, noise, low resolution and JPEG artefacts.

Every sample draws from its own RNG seeded by (seed, split, index), so the output is identical for
a seed whatever the number of worker processes. With `fonts_split` the train and test splits use
disjoint font designs and disjoint labels (an honest test set).
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

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm

from tao_ocrnet.data.charset import ALNUM36, CHARSETS
from tao_ocrnet.data.synth.fonts import design_group, discover_fonts, font_family, load_font
from tao_ocrnet.data.synth.words import ENGLISH_WORDS, pseudo_word, random_number, random_string
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


@dataclass
class SynthSummary:
    out_dir: Path
    num_train: int
    num_test: int
    charset: str
    seed: int
    train_fonts: list[str] = field(default_factory=list)
    test_fonts: list[str] = field(default_factory=list)
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
            return random_number(rng, max_len=min(8, self.max_len))
        return random_string(rng, self.charset, 1, min(10, self.max_len))

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


def _split_fonts(fonts: Sequence[str], seed: int, disjoint: bool) -> tuple[list[str], list[str]]:
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
    rich = [n for n in names if len(groups[n]) > 1]
    pool = rich if len(rich) > n_test else names
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


def _perspective_coeffs(dst: np.ndarray, src: np.ndarray) -> tuple[float, ...]:
    """PIL PERSPECTIVE data mapping output corners `dst` to input corners `src`."""
    a = np.zeros((8, 8))
    b = np.zeros(8)
    for k, ((x, y), (u, v)) in enumerate(zip(dst, src, strict=True)):
        a[2 * k] = [x, y, 1, 0, 0, 0, -u * x, -u * y]
        a[2 * k + 1] = [0, 0, 0, x, y, 1, -v * x, -v * y]
        b[2 * k], b[2 * k + 1] = u, v
    return tuple(float(v) for v in np.linalg.solve(a, b))


def _text_mask(text: str, font_path: str, rng: np.random.Generator) -> Image.Image:
    size = int(rng.integers(28, 57))
    font = load_font(font_path, size)
    stroke = 1 if rng.random() < 0.08 else 0
    spacing = int(rng.integers(1, max(2, size // 5))) if rng.random() < 0.15 else 0
    pad = size // 2 + 4
    if spacing:
        advances = [font.getlength(ch) + spacing for ch in text]
        width = int(sum(advances)) + 2 * pad
    else:
        left, _, right, _ = font.getbbox(text, stroke_width=stroke)
        width = int(right - left) + 2 * pad
    ascent, descent = font.getmetrics()
    mask = Image.new("L", (max(width, 1), ascent + descent + 2 * pad), 0)
    draw = ImageDraw.Draw(mask)
    if spacing:
        x = float(pad)
        for ch, adv in zip(text, advances, strict=True):
            draw.text((x, pad), ch, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
            x += adv
    else:
        left = font.getbbox(text, stroke_width=stroke)[0]
        draw.text((pad - left, pad), text, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    return mask


def _warp(mask: Image.Image, rng: np.random.Generator) -> Image.Image:
    if rng.random() < 0.5:
        w, h = mask.size
        j = 0.08 * h
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)
        dst = src + rng.uniform(-j, j, src.shape)
        mask = mask.transform(
            mask.size, Image.Transform.PERSPECTIVE, _perspective_coeffs(dst, src), Image.Resampling.BICUBIC
        )
    if rng.random() < 0.7:
        angle = float(np.clip(rng.normal(0, 1.6), -4, 4))
        mask = mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    return mask


def _crop(mask: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Crop around the ink with detector-like, uneven margins (may clip a little of the text)."""
    bbox = mask.getbbox() or (0, 0, mask.width, mask.height)
    x0, y0, x1, y1 = bbox
    h = y1 - y0
    top, bottom = (rng.uniform(-0.04, 0.3, 2) * h).tolist()
    left, right = (rng.uniform(-0.02, 0.35, 2) * h).tolist()
    return mask.crop((round(x0 - left), round(y0 - top), round(x1 + right), round(y1 + bottom)))


def _background(w: int, h: int, base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    kind = rng.random()
    bg = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    if kind < 0.35:  # solid
        return bg
    if kind < 0.6:  # linear gradient towards a second colour of similar brightness
        other = np.clip(base + rng.normal(0, 40, 3), 0, 255)
        theta = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = xx * np.cos(theta) / max(w, 1) + yy * np.sin(theta) / max(h, 1)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        return bg * (1 - t[..., None]) + other.astype(np.float32) * t[..., None]
    if kind < 0.85:  # smooth noise texture (paper, concrete, fabric)
        gh, gw = max(2, h // int(rng.integers(3, 12))), max(2, w // int(rng.integers(3, 12)))
        field_ = rng.normal(0, 1, (gh, gw)).astype(np.float32)
        img = Image.fromarray(((field_ - field_.min()) / max(np.ptp(field_), 1e-6) * 255).astype(np.uint8))
        smooth = np.asarray(img.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32) / 255 - 0.5
        amp = rng.uniform(15, 45)
        tint = rng.uniform(0.6, 1.0, 3).astype(np.float32)
        return bg + smooth[..., None] * amp * tint
    # blotches: a few soft shapes of a nearby colour
    layer = Image.fromarray(bg.astype(np.uint8))
    draw = ImageDraw.Draw(layer)
    for _ in range(int(rng.integers(2, 6))):
        c = tuple(int(v) for v in np.clip(base + rng.normal(0, 30, 3), 0, 255))
        x, y = rng.uniform(-0.2, 1.0) * w, rng.uniform(-0.2, 1.0) * h
        r = rng.uniform(0.2, 0.8) * h
        draw.ellipse((x, y, x + r * rng.uniform(1, 4), y + r), fill=c)
    layer = layer.filter(ImageFilter.GaussianBlur(rng.uniform(1, 4)))
    return np.asarray(layer, dtype=np.float32)


def render_word(text: str, font_path: str, rng: np.random.Generator, height: int = 32) -> Image.Image:
    """One synthetic word crop, `height` pixels tall, RGB or (sometimes) grayscale."""
    mask = _crop(_warp(_text_mask(text, font_path, rng), rng), rng)
    w, h = mask.size
    dark_text = rng.random() < 0.7
    for _ in range(8):  # clipping can pull colours together: insist on readable contrast
        bg_base = _color(rng, 150, 255) if dark_text else _color(rng, 0, 100)
        fg = _color(rng, 0, 85) if dark_text else _color(rng, 175, 255)
        if abs(float(_luminance(bg_base) - _luminance(fg))) >= 70:
            break
    bg = _background(w, h, bg_base, rng)
    alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255.0
    if rng.random() < 0.08:  # drop shadow
        dx, dy = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        shadow = np.zeros_like(alpha)
        shadow[dy:, dx:] = alpha[: h - dy, : w - dx]
        bg = bg * (1 - 0.6 * shadow) + (0.3 * bg_base) * 0.6 * shadow
    alpha *= rng.uniform(0.8, 1.0)
    out = bg * (1 - alpha) + fg.astype(np.float32) * alpha
    img = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")

    resample = [Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS, Image.Resampling.BOX][
        int(rng.integers(4))
    ]
    new_w = max(1, round(w * height / h))
    if rng.random() < 0.15:  # low resolution: down to a smaller size first, then up
        f = rng.uniform(0.4, 0.7)
        img = img.resize((max(1, round(new_w * f)), max(1, round(height * f))), resample)
    img = img.resize((new_w, height), resample)
    if rng.random() < 0.25:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.35:
        arr = np.asarray(img, dtype=np.float32)
        arr = arr + rng.normal(0, rng.uniform(2, 12), arr.shape).astype(np.float32)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.1:
        img = img.convert("L")
    return img


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


def _render_chunk(args: tuple[int, str, str, int, list[_Plan]]) -> list[tuple[int, str]]:
    """Worker: render and write a chunk of planned samples; returns (index, file name)."""
    seed, split, folder, height, plans = args
    names = []
    for plan in plans:
        rng = _sample_rng(seed, split, plan.index, 1)
        img = render_word(plan.text, plan.font, rng, height)
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
    plans: list[_Plan], split: str, folder: Path, seed: int, height: int, workers: int, desc: str
) -> dict[int, str]:
    chunk = 256
    jobs = [(seed, split, str(folder), height, plans[k : k + chunk]) for k in range(0, len(plans), chunk)]
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
    words: Sequence[str] = ENGLISH_WORDS,
    first_index: int = 1,
    avoid_labels: Iterable[str] = (),
) -> SynthSummary:
    """Write a synthetic dataset to `out_dir` in the layout of the module docstring.

    `charset`: a CHARSETS name or the characters; `fonts`: a folder (or font files) replacing the
    system font folders; `fonts_split`: disjoint font designs and labels between train and test;
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

    maker = _LabelMaker(chars, lowercase_labels, max_label_length, words)
    render_chars = chars + (chars.upper() if maker.vary_case else "")
    font_dirs = None if fonts is None else ([fonts] if isinstance(fonts, str | Path) else list(fonts))
    all_fonts = discover_fonts(render_chars, font_dirs)
    train_fonts, test_fonts = _split_fonts(all_fonts, seed, fonts_split)
    train_words, test_words = _split_words(maker.words, seed, fonts_split)

    work = out / f".synth-partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        held_out = frozenset(avoid_labels)
        train_labels: set[str] = set()
        for split, n, first, split_fonts, split_words in (
            ("train", num_train, first_index, train_fonts, train_words),
            ("test", num_test, 1, test_fonts, test_words),
        ):
            folder = work / split
            folder.mkdir(parents=True)
            maker.words = split_words
            avoid = held_out | train_labels if (fonts_split and split == "test") else held_out
            plans = _plan_split(split, n, seed, maker, _by_family(split_fonts), avoid, first)
            if split == "train" and fonts_split:
                train_labels = {p.label for p in plans}
            names = _render_split(plans, split, folder, seed, height, workers, f"synth {split}")
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
        test_fonts=test_fonts,
        fonts_split=fonts_split,
        seconds=round(time.monotonic() - started, 3),
    )
    log.info("synth: %d train + %d test crops in %s (%.1f s)", num_train, num_test, out, summary.seconds)
    return summary


# --------------------------------------------------------------------------- CLI entry
