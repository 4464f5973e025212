# SPDX-License-Identifier: Apache-2.0
"""The shipped CPU-size model (`ocrnet_cpu_small`): a safe small file that reads words, used by
`ocrnet inference` when no checkpoint is given and by `train.pretrained_model_path` short name."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw

from tao_ocrnet.cli import main as cli
from tao_ocrnet.config.shipped import DEFAULT_MODEL, SHIPPED_MODELS, shipped_model_facts
from tao_ocrnet.data.charset import ALNUM36
from tao_ocrnet.data.synth.fonts import discover_fonts, load_font
from tao_ocrnet.errors import ModelFileError
from tao_ocrnet.model.checkpoint import resolve_model_path

WORDS = ["house", "market", "coffee", "street", "open", "station", "welcome", "parking", "2024", "exit"]
FONT_FILES = ("DejaVuSans.ttf", "LiberationSerif-Regular.ttf")  # from the project's set-up (scripts/setup.sh)


def shipped_file() -> Path:
    return resolve_model_path(DEFAULT_MODEL, key="test")


def test_the_shipped_file_is_small_weights_only_and_the_documented_model():
    path = shipped_file()
    assert path.stat().st_size <= 20 * 2**20
    data = torch.load(path, map_location="cpu", weights_only=True)  # no pickled code
    arch = data["arch"]
    assert data["format"] == "tao-ocrnet/1" and tuple(arch["charset"]) == tuple(ALNUM36)
    assert (arch["backbone"], arch["feature_channel"], arch["hidden_size"], arch["prediction"]) == (
        "ResNet", 64, 64, "CTC",
    )  # fmt: skip
    assert (arch["input_channel"], arch["input_height"], arch["input_width"]) == (1, 32, 128)
    assert set(SHIPPED_MODELS) == {DEFAULT_MODEL}


def test_the_model_card_facts_and_the_demo_config_describe_the_shipped_file():
    """The card is generated from the facts file: a replaced .pth without re-packaging must fail here."""
    import hashlib

    from tao_ocrnet.actions.demo import CPU_MODEL
    from tao_ocrnet.model.checkpoint import load_model_file

    path = shipped_file()
    facts = shipped_model_facts()
    assert facts["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() and facts["bytes"] == path.stat().st_size
    model, arch, _ = load_model_file(path)
    assert facts["parameters"] == sum(t.numel() for t in model.parameters())
    assert facts["charset"] == "".join(arch.charset)
    # The demo fine-tunes the shipped model at the size it learned (every tensor would load at any width).
    assert {k: getattr(arch, k) for k in CPU_MODEL} == CPU_MODEL


def render_clean(word: str, font_path: str, out: Path) -> None:
    """Dark text on a light background, drawn with PIL directly (not by our synthetic generator)."""
    font = load_font(font_path, 40)
    left, top, right, bottom = font.getbbox(word)
    img = Image.new("L", (right - left + 16, bottom - top + 12), 235)
    ImageDraw.Draw(img).text((8 - left, 6 - top), word, font=font, fill=25)
    img.save(out)


@pytest.fixture(scope="module")
def rendered_words(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("words")
    fonts = {Path(f).name: f for f in discover_fonts(ALNUM36)}
    labels = {}
    for font in FONT_FILES:
        assert font in fonts, f"font {font} missing: run scripts/setup.sh"
        for i, word in enumerate(WORDS):
            name = f"{Path(font).stem}_{i:02d}.png"
            render_clean(word, fonts[font], folder / name)
            labels[name] = word
    return folder, labels


def test_inference_without_a_checkpoint_reads_rendered_words_with_the_shipped_model(rendered_words, tmp_path, caplog):
    folder, labels = rendered_words
    with caplog.at_level(logging.INFO):
        code = cli(["inference", f"results_dir={tmp_path}", f"inference.inference_dataset_dir={folder}"])
    assert code == 0
    assert f"using the shipped model {DEFAULT_MODEL}" in caplog.text
    rows = list(csv.DictReader((tmp_path / "inference" / "inference.csv").open()))
    read = {Path(r["path"]).name: r["text"] for r in rows}
    assert set(read) == set(labels)
    wrong = {name: (labels[name], read[name]) for name in labels if read[name] != labels[name]}
    assert len(wrong) <= 1, wrong


def test_a_file_of_the_same_name_wins_over_the_shipped_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / DEFAULT_MODEL).write_bytes(b"mine")
    assert resolve_model_path(DEFAULT_MODEL, key="k") == Path(DEFAULT_MODEL)
    with pytest.raises(ModelFileError, match="k: model file nope does not exist"):
        resolve_model_path("nope", key="k")


def test_the_generated_template_exports_the_shipped_model_at_its_own_width(tmp_path, capsys):
    """Templates and job specs write every key, `model.input_width: 100` included: that default cannot be told
    from an untouched one, so the model's own width is used; a width the user chose is still refused."""
    width = shipped_model_facts()["architecture"]["input_width"]
    assert width != 100  # the case this test is about
    template = Path(__file__).resolve().parents[1] / "references" / "spec_template_export.yaml"
    onnx_file = tmp_path / "shipped.onnx"
    args = ["export", "-e", str(template), f"results_dir={tmp_path}", f"export.checkpoint={DEFAULT_MODEL}"]
    assert cli([*args, f"export.onnx_file={onnx_file}"]) == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "shipped.onnx.json").read_text())["input_width"] == width

    assert cli([*args, f"export.onnx_file={tmp_path / 'x.onnx'}", "model.input_width=144"]) == 2
    err = capsys.readouterr().err
    assert "`model.input_width` = 144" in err and f"set model.input_width={width}" in err
    assert not (tmp_path / "x.onnx").exists()
