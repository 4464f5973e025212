# SPDX-License-Identifier: Apache-2.0
"""The pure parts of recipes/external_sets.py (word filter, per-crop plan, gt file, manifest), without trdg."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tao_ocrnet.data.gt import parse_gt_file

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "external_sets.py"


def _load():
    spec = importlib.util.spec_from_file_location("external_sets", RECIPE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


ext = _load()
WORDS = ["alpha", "bravo", "charlie", "delta"]
FONTS = {"Full.ttf": "", "NoDigits.ttf": "0123456789"}
IMAGES = ["water.jpg", "bricks.jpg"]
INFO = {
    "trdg_version": "1.8.0",
    "pillow_version": "9.5.0",
    "opencv_version": "4.0",
    "fonts": [
        {"file": "Full.ttf", "family": "Full Sans", "style": "Regular", "missing": ""},
        {"file": "NoDigits.ttf", "family": "Display", "style": "Bold", "missing": "0123456789"},
    ],
}


def test_words_are_lower_cased_and_kept_only_when_the_model_can_write_them():
    lines = ["Hello", "hello", "don't", "A.B.", "3D", "x" * 25, "y" * 26, "", "  word  ", "café"]
    assert ext.filter_words(lines) == ["3d", "hello", "word", "x" * 25]
    assert ext.keep_word("Tab\tbed") is None and ext.keep_word("ABC", max_length=2) is None


def test_a_crop_plan_depends_on_seed_set_and_index_only():
    style = ext.STYLES["trdg_hard"]
    first = [ext.plan_crop("trdg_hard", style, 7, i, WORDS, FONTS, IMAGES) for i in range(60)]
    assert first == [ext.plan_crop("trdg_hard", style, 7, i, WORDS, FONTS, IMAGES) for i in range(60)]
    assert first[5] == ext.plan_crop("trdg_hard", style, 7, 5, WORDS, FONTS, list(reversed(IMAGES)))
    assert first != [ext.plan_crop("trdg_hard", style, 8, i, WORDS, FONTS, IMAGES) for i in range(60)]
    assert first[0]["file"] == "images/000000.png" and first[59]["index"] == 59
    for crop in first:
        assert crop["label"] in WORDS or crop["label"].isdigit()
        assert not (crop["label"].isdigit() and crop["font"] == "NoDigits.ttf")  # a font draws all of its text
        assert (crop["background_image"] in IMAGES) == (crop["background_type"] == ext.PHOTO)
        assert crop["distorsion_orientation"] == 0 or crop["distorsion_type"] != ext.NO_DISTORTION
    assert {c["background_type"] for c in first} == {ext.PHOTO, ext.QUASICRYSTAL}
    assert any(c["label"].isdigit() for c in first) and {c["distorsion_type"] for c in first} == {0, 1, 2}


def test_the_clean_style_has_no_geometry_or_blur():
    crops = [ext.plan_crop("trdg_clean", ext.STYLES["trdg_clean"], 1, i, WORDS, FONTS, IMAGES) for i in range(40)]
    assert {c["background_type"] for c in crops} == {ext.NOISE, ext.WHITE}
    assert all(c["distorsion_type"] == 0 and c["skewing_angle"] == 0 and c["blur"] == 0 for c in crops)


def test_a_text_no_font_can_draw_is_refused_by_name():
    blank = {"Blank.ttf": "0123456789abcdefghijklmnopqrstuvwxyz"}
    with pytest.raises(ValueError, match="no trdg font can draw '"):
        ext.plan_crop("trdg_clean", ext.STYLES["trdg_clean"], 1, 0, ["alpha"], blank, IMAGES)


def test_gt_file_reads_back_with_the_project_parser(tmp_path):
    crops = [ext.plan_crop("trdg_hard", ext.STYLES["trdg_hard"], 3, i, WORDS, FONTS, IMAGES) for i in range(12)]
    gt = tmp_path / "gt_new.txt"
    gt.write_text(ext.gt_text(crops), encoding="utf-8")
    parsed = parse_gt_file(gt)
    assert not parsed.bad_lines
    assert [(e.rel_path, e.label) for e in parsed.entries] == [(c["file"], c["label"]) for c in crops]
    with pytest.raises(ValueError, match="cannot be a gt line"):
        ext.gt_text([{**crops[0], "label": "Upper"}])


def test_manifest_names_generator_fonts_and_every_crop():
    style = ext.STYLES["trdg_hard"]
    crops = [ext.plan_crop("trdg_hard", style, 3, i, WORDS, FONTS, IMAGES) for i in range(30)]
    manifest = ext.build_manifest("trdg_hard", style, 3, INFO, len(WORDS), crops, {"contrast": 2})
    json.dumps(manifest)  # it is written as JSON
    assert manifest["generator"]["version"] == "1.8.0" and manifest["seed"] == 3 and manifest["count"] == 30
    assert manifest["refused"] == {"contrast": 2} and manifest["crops"] == crops
    assert manifest["settings"]["skewing_angle"] == 5 and "never train" in manifest["purpose"]
    assert sum(f["crops"] for f in manifest["fonts"]) == 30
    assert set(manifest["font_families"]) <= {"Full Sans", "Display"} and "Full Sans" in manifest["font_families"]
    assert sum(manifest["background_images"].values()) == sum(c["background_type"] == ext.PHOTO for c in crops)


def test_existing_set_folders_are_refused_before_trdg_is_touched(tmp_path, capsys):
    (tmp_path / "trdg_clean").mkdir()
    with pytest.raises(SystemExit) as exc:
        ext.main([str(tmp_path), "--venv", str(tmp_path / "no-venv")])
    assert exc.value.code == 2 and "already exist" in capsys.readouterr().err
    assert not (tmp_path / "no-venv").exists()


def test_a_trdg_font_the_generator_could_train_on_is_named():
    # trdg 1.8.0's families as Pillow names them: none of their designs may come from the system fonts
    assert ext.trained_on(["Roboto Condensed", "SeasideResortNF", "Walkway Oblique Bold", "Amatic SC"]) == []
    assert ext.trained_on(["Open Sans", "DejaVu Sans", "Liberation Serif"]) == ["DejaVu Sans", "Liberation Serif"]
