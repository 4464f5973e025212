# SPDX-License-Identifier: Apache-2.0
"""Each piece of the synthetic generator on its own: text effects, geometry, backgrounds (photographs and
procedural), text colour against the background, degradations, the external set's fonts kept out of training,
and the background split between train and test."""

from __future__ import annotations

import itertools
import logging
import shutil

import numpy as np
import pytest
from PIL import Image

from tao_ocrnet.data.gt import parse_gt_file
from tao_ocrnet.data.synth import backgrounds as bgs
from tao_ocrnet.data.synth import fonts as synth_fonts
from tao_ocrnet.data.synth.degrade import DEGRADATIONS, degradation, degrade
from tao_ocrnet.data.synth.fonts import design_group, discover_fonts
from tao_ocrnet.data.synth.generate import ALNUM36, _luminance, _text_color, generate_dataset, render_word
from tao_ocrnet.data.synth.geometry import crop_to_ink, curve, elastic, perspective, rotate_shear
from tao_ocrnet.data.synth.text_layers import TextStyle, text_layers
from tao_ocrnet.data.synth.words import ENGLISH_WORDS, default_words
from tao_ocrnet.errors import DataError

FONT = next(f for f in discover_fonts("abcdefghijklmnopqrstuvwxyz0123456789") if f.endswith("DejaVuSans.ttf"))


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def layers(text: str = "hello", **style):
    return text_layers(text, FONT, TextStyle(size=40, **style), rng())


def ink_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.max(axis=1) > 0.5), np.flatnonzero(mask.max(axis=0) > 0.5)
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


# --------------------------------------------------------------------------- text effects


def test_spacing_widens_the_word_and_jitter_moves_characters_off_one_baseline():
    plain, spaced = layers(), layers(spacing=10)
    width = ink_box(plain.fill)[3] - ink_box(plain.fill)[2]
    assert ink_box(spaced.fill)[3] - ink_box(spaced.fill)[2] >= width + 4 * 10 - 2  # 4 gaps of 10 px
    level = layers("xxxxxx", spacing=1)
    jittered = text_layers("xxxxxx", FONT, TextStyle(size=40, spacing=1, jitter_y=0.1, jitter_size=0.1), rng(1))
    # an x has a flat bottom: without jitter every x ends on the same row
    assert np.ptp(_bottoms(level.fill)) <= 1 and np.ptp(_bottoms(jittered.fill)) >= 2


def _bottoms(mask: np.ndarray) -> list[int]:
    """Bottom row of each connected run of ink columns (one per glyph)."""
    cols = mask.max(axis=0) > 0.5
    out, start = [], None
    for x, on in enumerate([*cols, False]):
        if on and start is None:
            start = x
        elif not on and start is not None:
            out.append(int(np.flatnonzero(mask[:, start:x].max(axis=1) > 0.5)[-1]))
            start = None
    return out


def test_outline_is_a_ring_around_the_glyphs_and_underline_adds_a_rule_below():
    ringed = layers(outline=3)
    assert ringed.outline is not None and ringed.outline.sum() > 0
    assert not ((ringed.outline > 0.5) & (ringed.fill > 0.5)).any()  # the ring is outside the fill
    assert layers().outline is None
    plain, ruled = layers("mm"), layers("mm", underline=True)
    assert ink_box(ruled.fill)[1] > ink_box(plain.fill)[1]  # ink below the baseline of "mm"
    assert ruled.fill.sum() > plain.fill.sum()


# --------------------------------------------------------------------------- geometry


def test_arc_and_sine_bend_the_baseline():
    stack = layers("oooooooooo").stack()  # one glyph shape: straight, every column has the same centre
    assert np.ptp(_column_centres(stack[..., 0])) < 1
    for kind in ("arc", "sine"):
        bent = curve(stack, kind, 0.6, periods=1.0, phase=0.0)
        assert bent.shape[1] == stack.shape[1] and bent.shape[0] > stack.shape[0]
        assert np.ptp(_column_centres(bent[..., 0])) > 4, kind


def _column_centres(mask: np.ndarray) -> np.ndarray:
    """Ink centre row of each eighth of the ink's width."""
    _, _, x0, x1 = ink_box(mask)
    edges = np.linspace(x0, x1, 9).astype(int)
    rows = np.arange(mask.shape[0])[:, None]
    return np.array([(mask[:, a:b] * rows).sum() / max(mask[:, a:b].sum(), 1e-6) for a, b in itertools.pairwise(edges)])


def test_shear_slants_rotation_and_perspective_grow_the_canvas_and_keep_the_ink():
    stack = layers("IIII").stack()
    ink = stack.sum()
    sheared = rotate_shear(stack, 0.0, 0.4)[..., 0]
    top, bottom, _, _ = ink_box(sheared)
    top_x = np.flatnonzero(sheared[top + 2] > 0.5).mean()
    bottom_x = np.flatnonzero(sheared[bottom - 2] > 0.5).mean()
    assert top_x - bottom_x > 0.4 * (bottom - top) * 0.6  # the top leans right
    turned = rotate_shear(stack, 20.0, 0.0)
    assert turned.shape[0] > stack.shape[0] and turned.sum() == pytest.approx(ink, rel=0.05)
    warped = perspective(stack, 0.2, rng(2))
    assert warped.shape != stack.shape and warped.sum() == pytest.approx(ink, rel=0.35)


def test_elastic_distortion_moves_strokes_reproducibly():
    stack = layers("wave").stack()
    a, b, c = elastic(stack, 1), elastic(stack, 1), elastic(stack, 2)
    assert a.shape == stack.shape and np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.abs(a - stack).mean() > 0.01


def test_tight_crops_hug_the_ink_and_loose_ones_leave_margins():
    stack = layers("word").stack()
    y0, y1, x0, x1 = ink_box(stack[..., 0])
    ink_h = y1 - y0
    tight = [crop_to_ink(stack, True, rng(s)).shape[0] for s in range(20)]
    loose = [crop_to_ink(stack, False, rng(s)).shape[0] for s in range(20)]
    assert max(tight) <= ink_h * 1.2 and np.mean(loose) > np.mean(tight) + 0.2 * ink_h
    wide = crop_to_ink(np.pad(stack[y0:y1, x0:x1], ((0, 0), (0, 0), (0, 0))), False, rng(3))
    assert wide.shape[0] >= ink_h  # margins past the canvas are padded, not lost


# --------------------------------------------------------------------------- backgrounds


def _photo(path, size, color=(120, 80, 40)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def test_wallpapers_count_once_whatever_their_resolutions(tmp_path, caplog):
    _photo(tmp_path / "mate" / "Elephants.jpg", (800, 600))
    _photo(tmp_path / "mate" / "Elephants_3840x2160.jpg", (1600, 900))
    _photo(tmp_path / "mate" / "Elephants_640x480.jpg", (640, 480))
    _photo(tmp_path / "plasma" / "Autumn" / "contents" / "images" / "1280x1024.jpg", (1280, 1024))
    _photo(tmp_path / "plasma" / "Autumn" / "contents" / "images" / "1920x1080.jpg", (1920, 1080))
    _photo(tmp_path / "plasma" / "Autumn" / "contents" / "images_dark" / "1920x1080.jpg", (1920, 1080), (9, 9, 9))
    _photo(tmp_path / "plasma" / "Autumn" / "contents" / "screenshot.jpg", (400, 300))
    (tmp_path / "mate" / "broken.png").write_bytes(b"not an image")
    with caplog.at_level(logging.WARNING):
        found = bgs.discover_backgrounds([tmp_path])
    assert "broken.png is not a readable image" in caplog.text
    names = sorted(p.relative_to(tmp_path).as_posix() for p in map(__import__("pathlib").Path, found))
    # the smallest copy whose shorter side is >= 720 (fast to decode, sharp enough to crop from)
    assert names == ["mate/Elephants_3840x2160.jpg", "plasma/Autumn/contents/images/1280x1024.jpg",
                     "plasma/Autumn/contents/images_dark/1920x1080.jpg"]  # fmt: skip
    assert bgs.discover_backgrounds([]) == []  # procedural only
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match=r"no \.jpg/\.png/\.webp background images"):
        bgs.discover_backgrounds([tmp_path / "none"])
    with pytest.raises(DataError, match="does not exist"):
        bgs.discover_backgrounds([tmp_path / "missing"])


def test_photo_crops_are_cached_small_and_the_same_pixels(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bgs._decoded.cache_clear()
    noise = np.random.default_rng(0).integers(0, 255, (1000, 1500, 3), dtype=np.uint8)
    photo = tmp_path / "photo.png"
    Image.fromarray(noise).save(photo)
    first = bgs.photo_crop(str(photo), 120, 30, rng(4))
    assert first.shape == (30, 120, 3) and first.dtype == np.float32
    cached = list((tmp_path / "cache" / "tao-ocrnet" / "backgrounds").glob("*.png"))
    assert len(cached) == 1 and max(Image.open(cached[0]).size) == 640
    bgs._decoded.cache_clear()
    assert np.array_equal(bgs.photo_crop(str(photo), 120, 30, rng(4)), first)  # from the cache: same pixels
    bgs._decoded.cache_clear()


def test_every_procedural_background_has_the_size_and_texture_it_says():
    base = np.array([200.0, 190.0, 170.0])
    spreads = {}
    for kind in bgs.PROCEDURAL_KINDS:
        bg = bgs.procedural_background(kind, 90, 30, base, rng(5))
        assert bg.shape == (30, 90, 3) and np.isfinite(bg).all(), kind
        spreads[kind] = float(bg.std(axis=(0, 1)).max())
    assert spreads["solid"] == 0 and all(spreads[k] > 1 for k in bgs.PROCEDURAL_KINDS if k != "solid"), spreads
    with pytest.raises(ValueError, match="unknown background kind"):
        bgs.procedural_background("plaid", 9, 9, base, rng())


def test_the_text_colour_stands_apart_from_the_background_under_it():
    for seed in range(200):
        local = np.random.default_rng(seed).uniform(0, 255, 3)
        r = rng(seed)
        clear = abs(float(_luminance(_text_color(local, r, barely=False)) - _luminance(local)))
        barely = abs(float(_luminance(_text_color(local, r, barely=True)) - _luminance(local)))
        assert clear >= 60, (seed, clear)  # 90 or more before a colour of that brightness is clipped
        assert 10 <= barely <= 80, (seed, barely)


# --------------------------------------------------------------------------- degradations


def test_each_degradation_changes_the_crop_and_all_are_reproducible():
    image = np.asarray(render_word("sample", FONT, rng(6), 32, ()), dtype=np.uint8)
    for name in DEGRADATIONS:
        pipeline = degradation(name)
        pipeline.set_random_seed(7)
        out = pipeline(image=image)["image"]
        assert out.shape == image.shape and out.dtype == np.uint8, name
        assert np.abs(out.astype(int) - image).mean() > 0.3, name
    assert np.array_equal(degrade(image, 8), degrade(image, 8))


def test_rendered_words_use_photographs_and_are_reproducible(tmp_path):
    photo = tmp_path / "p.png"
    blocks = np.random.default_rng(1).integers(0, 255, (16, 24, 3), dtype=np.uint8)
    Image.fromarray(np.kron(blocks, np.ones((50, 50, 1), dtype=np.uint8))).save(photo)  # 800 x 1200, large patches
    words = [render_word("photo", FONT, rng(s), 32, (str(photo),)) for s in range(30)]
    assert all(w.height == 32 and w.mode == "RGB" for w in words)
    assert render_word("photo", FONT, rng(3), 32, (str(photo),)).tobytes() == words[3].tobytes()
    # a noise photograph shows through: busy backgrounds in some crops
    assert max(float(np.asarray(w.convert("L"), dtype=float)[:4].std()) for w in words) > 20


# --------------------------------------------------------------------------- splits


def test_the_external_sets_fonts_never_come_from_the_system_folders(tmp_path, monkeypatch):
    (tmp_path / "fonts").mkdir()
    shutil.copy(FONT, tmp_path / "fonts" / "DejaVuSans.ttf")
    monkeypatch.setattr(synth_fonts, "FONT_DIRS", (str(tmp_path / "fonts"),))
    monkeypatch.setattr(synth_fonts, "EXTERNAL_EVAL_DESIGNS", frozenset({"dejavu"}))
    with pytest.raises(DataError, match="no usable"):
        discover_fonts("abc")  # the system's copy of an external design is left out
    assert discover_fonts("abc", [tmp_path / "fonts"])  # a folder the user names is theirs


def test_train_and_test_photographs_are_disjoint_and_held_designs_stay_in_training(tmp_path):
    for i in range(8):
        _photo(tmp_path / "photos" / f"p{i}.jpg", (800, 800), (30 * i, 100, 200 - 20 * i))
    every = discover_fonts(ALNUM36 + ALNUM36.upper())  # what the generator draws from
    held = sorted({design_group(f) for f in every})[:20]  # e.g. what a model being fine-tuned has seen
    s = generate_dataset(tmp_path / "d", 12, 6, seed=2, fonts_split=True, backgrounds=tmp_path / "photos",
                         train_designs=held)  # fmt: skip
    assert len(s.train_backgrounds) == 6 and len(s.test_backgrounds) == 2
    assert not set(s.train_backgrounds) & set(s.test_backgrounds)
    assert s.test_fonts and not {design_group(f) for f in s.test_fonts} & set(held)
    assert {design_group(f) for f in s.train_fonts} >= set(held)
    plain = generate_dataset(tmp_path / "e", 2, 1, seed=2, backgrounds=[])
    assert plain.train_backgrounds == [] and plain.test_backgrounds == []


# --------------------------------------------------------------------------- words


def test_words_come_from_the_system_dictionary_plain_ones_only(tmp_path):
    dictionary = tmp_path / "words"
    dictionary.write_text("Aachen\napple\napple's\nstreet\nextraordinarily\nzoo2\n", encoding="utf-8")
    words = default_words(dictionary)
    assert words[: len(ENGLISH_WORDS)] == ENGLISH_WORDS  # the sign vocabulary first, then the dictionary
    assert set(words[len(ENGLISH_WORDS) :]) == {"apple", "extraordinarily"}  # "street" was embedded already
    assert default_words(tmp_path / "missing") == ENGLISH_WORDS


def test_labels_reach_the_lengths_of_real_words(tmp_path):
    s = generate_dataset(tmp_path / "d", 300, 1, seed=4, backgrounds=[])
    lengths = [len(e.label) for e in parse_gt_file(s.out_dir / "train" / "gt_new.txt").entries]
    assert max(lengths) >= 14 and sum(n >= 11 for n in lengths) >= 0.04 * len(lengths)
