# SPDX-License-Identifier: Apache-2.0
"""Pytest fixtures and helpers that build tiny datasets in temporary folders (imported by conftest)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

ALNUM36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def image_bytes(width: int = 40, height: int = 16, fmt: str = "PNG", seed: int = 0, mode: str = "RGB") -> bytes:
    """A small encoded image with some structure (a bar whose position depends on `seed`)."""
    img = Image.new(mode, (width, height), "white")
    x = (seed * 7) % max(1, width - 4)
    ImageDraw.Draw(img).rectangle((x, 2, x + 3, height - 3), fill="black")
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def write_charset(path: Path, chars: str = ALNUM36) -> Path:
    path.write_text("".join(f"{c}\n" for c in chars), encoding="utf-8")
    return path


@dataclass
class RawSet:
    img_dir: Path
    gt_file: Path
    labels: list[str]


def make_raw_set(root: Path, labels: list[str], gt_name: str = "gt.txt", sub: str = "imgs") -> RawSet:
    """Images `root/sub/w<i>.png` (width varies) and a TAB gt file listing them with `labels`."""
    img_dir = root / sub
    img_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, label in enumerate(labels):
        name = f"w{i}.png"
        (img_dir / name).write_bytes(image_bytes(20 + 6 * i, 16, seed=i))
        lines.append(f"{name}\t{label}\n")
    gt = root / gt_name
    gt.write_text("".join(lines), encoding="utf-8")
    return RawSet(img_dir, gt, list(labels))


@pytest.fixture
def raw_set(tmp_path: Path) -> RawSet:
    """Six valid samples with alphanumeric labels."""
    return make_raw_set(tmp_path, ["hello", "world", "a1", "42", "ocr", "net"])


@pytest.fixture
def charset_file(tmp_path: Path) -> Path:
    """The 36-class alphanumeric character list."""
    return write_charset(tmp_path / "character_list")


@pytest.fixture(scope="session")
def synth_dataset(tmp_path_factory: pytest.TempPathFactory):
    """A small synthetic dataset (48 train, 16 test, alnum36) in the skill's layout; shared, read-only."""
    from tao_ocrnet.data.synth.generate import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("synth"), 48, 16, seed=0)


@pytest.fixture(scope="session")
def synth_lmdb(synth_dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic train split converted to an LMDB folder; shared, read-only."""
    from tao_ocrnet.data.convert import convert_to_lmdb

    out = tmp_path_factory.mktemp("synth_lmdb") / "lmdb"
    train = synth_dataset.out_dir / "train"
    convert_to_lmdb(train, train / "gt_new.txt", out, progress=False)
    return out
