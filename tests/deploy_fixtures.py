# SPDX-License-Identifier: Apache-2.0
"""Session fixtures for the deploy tests: an exported CTC model and a tiny trained Attn + TPS model.

Both build on `trained_workspace` (its LMDBs, character list and trained CTC model) and write only
into their own folders, through the CLI.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tao_ocrnet.cli import main as cli

from action_fixtures import Workspace


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Tiny models gain nothing from a second thread, and on a loaded 2-core machine OpenMP's barrier
    spinning at 2 threads makes runs up to 10x slower and erratic."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


@dataclass
class Exported:
    onnx: Path
    spec: Path  # the workspace spec plus export.checkpoint (the trained CTC model)


def deploy_spec(ws: Workspace, model_file: Path, out: Path, batch_size: int = 5, **dataset) -> dict:
    """A deploy spec reading raw test images + gt file (as the deploy skill says)."""
    data = ws.data
    return {
        "results_dir": str(out),
        "dataset": {"character_list_file": str(data / "character_list"), "workers": 0, **dataset},
        "evaluate": {
            "trt_engine": str(model_file),
            "test_dataset_dir": str(data / "test"),
            "test_dataset_gt_file": str(data / "test" / "gt_new.txt"),
            "batch_size": batch_size,
        },
        "inference": {
            "trt_engine": str(model_file),
            "inference_dataset_dir": str(data / "test"),
            "batch_size": batch_size,
        },
    }


@pytest.fixture(scope="session")
def exported_ctc(trained_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """The workspace's CTC model exported with `ocrnet export` (read-only for tests)."""
    root = tmp_path_factory.mktemp("exported")
    out = root / "ctc.onnx"
    tree = yaml.safe_load(trained_workspace.spec.read_text())
    tree["export"] = {"checkpoint": str(trained_workspace.best)}
    spec = root / "spec.yaml"
    spec.write_text(yaml.safe_dump(tree))
    args = [f"export.onnx_file={out}", f"export.results_dir={root / 'export'}"]
    with torch_threads(1):
        assert cli(["export", "-e", str(spec), *args]) == 0
    return Exported(out, spec)


@pytest.fixture(scope="session")
def attn_tps_model(trained_workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Attn + TPS model trained for one epoch on the workspace data (labels up to 8 characters)."""
    root = tmp_path_factory.mktemp("attn_tps")
    tree = yaml.safe_load(trained_workspace.spec.read_text())
    tree["model"].update({"prediction": "Attn", "TPS": True, "num_fiducial": 6})
    tree["dataset"]["max_label_length"] = 8
    tree["train"] = {"num_epochs": 1, "results_dir": str(root / "train"), "optim": {"name": "adam", "lr": 0.001}}
    spec = root / "spec.yaml"
    spec.write_text(yaml.safe_dump(tree))
    with torch_threads(1):
        assert cli(["train", "-e", str(spec)]) == 0
    return root / "train" / "best_accuracy.pth"
