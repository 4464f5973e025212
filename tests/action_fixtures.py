# SPDX-License-Identifier: Apache-2.0
"""A trained tiny OCRNet workspace shared by action tests: synth -> dataset_convert -> train, via the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tao_ocrnet.cli import main as cli

from tiny_config import TINY_MODEL

MODEL = {**TINY_MODEL, "input_width": 100, "input_height": 32}


@dataclass
class Workspace:
    root: Path
    data: Path
    results: Path
    spec: Path  # a spec with every section filled in (train, evaluate, inference)

    @property
    def best(self) -> Path:
        return self.results / "train" / "best_accuracy.pth"

    def write_spec(self, name: str, tree: dict) -> Path:
        path = self.root / name
        path.write_text(yaml.safe_dump(tree))
        return path


def base_spec(data: Path, results: Path, **model) -> dict:
    return {
        "results_dir": str(results),
        "model": {**MODEL, **model},
        "dataset": {
            "train_dataset_dir": [str(results / "lmdb_train")],
            "val_dataset_dir": str(results / "lmdb_test"),
            "character_list_file": str(data / "character_list"),
            "batch_size": 16,
            "workers": 0,
        },
        "train": {"num_epochs": 2, "optim": {"name": "adam", "lr": 0.001}},
        "evaluate": {
            "checkpoint": str(results / "train" / "best_accuracy.pth"),
            "test_dataset_dir": str(results / "lmdb_test"),
            "batch_size": 8,
        },
        "inference": {
            "checkpoint": str(results / "train" / "best_accuracy.pth"),
            "inference_dataset_dir": str(data / "test"),
            "batch_size": 8,
        },
    }


def convert_split(spec: Path, data: Path, results: Path, split: str) -> int:
    return cli(
        [
            "dataset_convert",
            "-e",
            str(spec),
            f"dataset_convert.input_img_dir={data / split}",
            f"dataset_convert.gt_file={data / split / 'gt_new.txt'}",
            f"dataset_convert.results_dir={results / f'lmdb_{split}'}",
        ]
    )


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """64 train / 24 test synthetic crops, converted to LMDB and trained for 2 epochs (read-only for tests)."""
    from tao_ocrnet.data.synth.generate import generate_dataset

    root = tmp_path_factory.mktemp("workspace")
    data, results = root / "data", root / "results"
    generate_dataset(data, 64, 24, seed=3)
    ws = Workspace(root, data, results, root / "spec.yaml")
    ws.spec.write_text(yaml.safe_dump(base_spec(data, results)))
    for split in ("train", "test"):
        assert convert_split(ws.spec, data, results, split) == 0
    assert cli(["train", "-e", str(ws.spec)]) == 0
    return ws
