# SPDX-License-Identifier: Apache-2.0
"""The CUDA paths: train, evaluate, inference and export on a GPU, mixed precision, every visible GPU at once,
TensorRT. Marked `gpu`, skipped where CUDA is not visible; `scripts/gpu_check.sh` runs them.

Self-contained so that the script can run it with `--noconftest` on a GPU machine that lacks the test-only packages
the other fixtures need: the data are noise crops with random labels (no fonts needed), the model the tiny one.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tao_ocrnet.cli import main as cli

from action_fixtures import base_spec, convert_split

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA visible")
ROOT = Path(__file__).resolve().parent.parent
CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _noise_split(folder: Path, count: int, rng: random.Random) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    lines = []
    for i in range(count):
        name = f"word_{i:05d}.png"
        Image.frombytes("L", (100, 32), rng.randbytes(3200)).save(folder / name)
        lines.append(f"{name}\t{''.join(rng.choice(CHARS) for _ in range(rng.randint(2, 8)))}")
    (folder / "gt_new.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def gpu_workspace(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Noise crops (48 train, 16 test) converted to LMDB, and a GPU spec for the tiny model."""
    root = tmp_path_factory.mktemp("gpu")
    data, results = root / "data", root / "results"
    rng = random.Random(0)
    for split, count in (("train", 48), ("test", 16)):
        _noise_split(data / split, count, rng)
    (data / "character_list").write_text("\n".join(CHARS) + "\n")
    tree = base_spec(data, results)
    tree["train"].update({"num_gpus": 1, "gpu_ids": [0], "num_epochs": 1})
    tree["evaluate"].update({"num_gpus": 1})
    tree["inference"].update({"num_gpus": 1})
    spec = root / "spec.yaml"
    spec.write_text(yaml.safe_dump(tree))
    for split in ("train", "test"):
        assert convert_split(spec, data, results, split) == 0
    return {"root": root, "data": data, "results": results, "spec": spec}


def _train(ws: dict, folder: Path, *extra: str) -> Path:
    assert cli(["train", "-e", str(ws["spec"]), f"train.results_dir={folder}", *extra]) == 0
    assert "GPU available: True, used: True" in (folder / "train.log").read_text()
    return folder / "best_accuracy.pth"


def _fp32_weights(path: Path) -> bool:
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    return all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())


@pytest.fixture(scope="module")
def gpu_trained(gpu_workspace: dict) -> Path:
    return _train(gpu_workspace, gpu_workspace["results"] / "train")


@pytest.mark.gpu
@needs_cuda
def test_train_evaluate_inference_export_on_cuda(gpu_workspace, gpu_trained):
    ws, spec = gpu_workspace, str(gpu_workspace["spec"])
    assert _fp32_weights(gpu_trained)
    assert cli(["evaluate", "-e", spec, f"evaluate.checkpoint={gpu_trained}"]) == 0
    assert json.loads((ws["results"] / "evaluate" / "results.json").read_text())["num_samples"] == 16
    assert cli(["inference", "-e", spec, f"inference.checkpoint={gpu_trained}"]) == 0
    assert (ws["results"] / "inference" / "inference.csv").is_file()
    onnx = ws["root"] / "gpu.onnx"  # export compares ONNX Runtime with PyTorch on the same input
    assert cli(["export", "-e", spec, f"export.checkpoint={gpu_trained}", f"export.onnx_file={onnx}"]) == 0
    assert onnx.is_file()


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("precision", ["bf16", "fp16", "auto"])
def test_mixed_precision_on_cuda_keeps_fp32_weights(gpu_workspace, precision):
    from tao_ocrnet.model.precision import gpus_have_bf16

    if precision == "bf16" and not gpus_have_bf16([0]):
        pytest.skip(f"{torch.cuda.get_device_name(0)} has no native bf16")
    folder = gpu_workspace["root"] / f"train_{precision}"
    best = _train(gpu_workspace, folder, f"train.precision={precision}", "train.channels_last=true")
    log = (folder / "train.log").read_text()
    bf16 = precision == "bf16" or (precision == "auto" and gpus_have_bf16([0]))
    amp = "Using bfloat16 Automatic Mixed Precision" if bf16 else "Using 16bit Automatic Mixed Precision"
    assert (amp in log) == (precision != "auto" or bf16), log[-2000:]
    assert _fp32_weights(best)
    spec = str(gpu_workspace["spec"])
    assert cli(["evaluate", "-e", spec, f"evaluate.checkpoint={best}", f"evaluate.results_dir={folder}_eval"]) == 0


@pytest.mark.gpu
@needs_cuda
def test_distributed_training_on_every_visible_gpu(gpu_workspace):
    count = torch.cuda.device_count()
    if count < 2:
        pytest.skip(f"{count} GPU visible; distributed training needs 2 or more")
    folder = gpu_workspace["root"] / "train_ddp"
    _train(gpu_workspace, folder, f"train.num_gpus={count}", f"train.gpu_ids={list(range(count))}")
    assert len(list(folder.glob("status.json"))) == 1 and _fp32_weights(folder / "best_accuracy.pth")


@pytest.mark.gpu
@needs_cuda
def test_tensorrt_engine_build_and_deploy_evaluate(gpu_workspace, gpu_trained):
    pytest.importorskip("tensorrt", reason="the tensorrt package is not installed")
    ws, spec = gpu_workspace, str(gpu_workspace["spec"])
    onnx = ws["root"] / "trt.onnx"
    assert cli(["export", "-e", spec, f"export.checkpoint={gpu_trained}", f"export.onnx_file={onnx}"]) == 0
    engine = ws["root"] / "trt.engine"
    profile = [f"gen_trt_engine.tensorrt.{k}_batch_size=8" for k in ("opt", "max")]
    gen = [f"gen_trt_engine.onnx_file={onnx}", f"gen_trt_engine.trt_engine={engine}", *profile]
    assert cli(["gen_trt_engine", "-e", spec, *gen]) == 0 and engine.is_file()
    out = ws["root"] / "trt_eval"
    deploy = [f"evaluate.trt_engine={engine}", f"evaluate.results_dir={out}", "evaluate.batch_size=8"]
    assert cli(["deploy", "evaluate", "-e", spec, *deploy]) == 0
    assert json.loads((out / "results.json").read_text())["num_samples"] == 16


@pytest.mark.skipif(CUDA, reason="CUDA is visible: the script runs the GPU tests themselves (minutes)")
def test_gpu_check_script_says_clearly_that_nothing_ran_without_cuda():
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=420
    )
    assert done.returncode == 0, done.stdout + done.stderr
    gpu_tests = 6  # the `gpu` tests of this file, parametrized cases counted
    assert f"no CUDA visible; {gpu_tests} gpu tests skipped" in done.stdout, done.stdout
    assert "dependencies: all present" in done.stdout, done.stdout
