# SPDX-License-Identifier: Apache-2.0
"""`ocrnet quantize`: torchao and ONNX Runtime static INT8 artifacts consumed by evaluate, inference and export."""

from __future__ import annotations

import csv
import json

import onnx
import pytest
import torch

from tao_ocrnet.cli import main as cli
from tao_ocrnet.model.checkpoint import load_model_file
from tao_ocrnet.model.quantized import quantized_modules

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]


def _consume(ws, artifact, tmp_path) -> list[str]:
    """evaluate + inference (PyTorch actions) + export on `artifact`; returns the inference texts."""
    spec = str(ws.spec)
    assert (
        cli(["evaluate", "-e", spec, f"evaluate.checkpoint={artifact}", f"evaluate.results_dir={tmp_path / 'e'}"]) == 0
    )
    assert json.loads((tmp_path / "e" / "results.json").read_text())["num_samples"] == 24
    args = [f"inference.checkpoint={artifact}", f"inference.results_dir={tmp_path / 'i'}"]
    assert cli(["inference", "-e", spec, *args]) == 0
    rows = list(csv.DictReader((tmp_path / "i" / "inference.csv").open()))
    out = tmp_path / "x.onnx"
    args = [f"export.checkpoint={artifact}", f"export.onnx_file={out}", f"export.results_dir={tmp_path / 'x'}"]
    assert cli(["export", "-e", spec, *args]) == 0
    assert out.is_file() and json.loads(out.with_name("x.onnx.json").read_text())["quantization"]
    return [r["text"] for r in rows]


def test_torchao_weight_only_int8(trained_workspace, tmp_path):
    ws = trained_workspace
    args = [f"quantize.model_path={ws.best}", f"quantize.results_dir={tmp_path / 'q'}", "quantize.device=cpu"]
    assert cli(["quantize", "-e", str(ws.spec), *args]) == 0
    artifact = tmp_path / "q" / "quantized_model_torchao.pth"
    model, _, raw = load_model_file(artifact)  # weights-only, rebuilt quantized
    assert raw["quantization"]["backend"] == "torchao"
    assert set(quantized_modules(model)) == set(raw["quantization"]["modules"]) and quantized_modules(model)
    float_model, _, _ = load_model_file(ws.best)
    images = torch.rand(4, 1, 32, 100) * 2 - 1
    with torch.no_grad():
        assert (model(images) - float_model(images)).abs().max() < 0.5  # int8 weights: close, not equal
    _consume(ws, artifact, tmp_path)
    # Pruning (like retraining) needs the float model.
    assert (
        cli(["prune", "-e", str(ws.spec), f"prune.checkpoint={artifact}", f"prune.results_dir={tmp_path / 'p'}"]) == 2
    )


def test_onnxruntime_static_int8(trained_workspace, tmp_path, capsys):
    ws = trained_workspace
    args = [f"quantize.model_path={ws.best}", f"quantize.results_dir={tmp_path / 'q'}", "quantize.backend=onnxruntime"]
    args += ["quantize.mode=static_ptq", f"dataset.quant_calibration_dataset.images_dir={ws.data / 'train'}"]
    assert cli(["quantize", "-e", str(ws.spec), *args]) == 0
    artifact = tmp_path / "q" / "quantized_model.onnx"
    ops = {n.op_type for n in onnx.load(str(artifact)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    side = json.loads(artifact.with_name("quantized_model.onnx.json").read_text())
    assert side["quantization"]["format"] == "QDQ" and side["quantization"]["calibration_images"] == 64
    texts = _consume(ws, artifact, tmp_path)
    deploy_args = [f"evaluate.trt_engine={artifact}", f"evaluate.results_dir={tmp_path / 'd'}"]
    deploy_args += [
        f"evaluate.test_dataset_dir={ws.data / 'test'}",
        f"evaluate.test_dataset_gt_file={ws.data / 'test' / 'gt_new.txt'}",
    ]
    assert cli(["deploy", "evaluate", "-e", str(ws.spec), *deploy_args]) == 0
    assert json.loads((tmp_path / "d" / "results.json").read_text())["num_samples"] == len(texts) == 24


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["quantize.backend=onnxruntime"], "quantize.mode"),
        (["quantize.backend=onnxruntime", "quantize.mode=static_ptq"], "dataset.quant_calibration_dataset.images_dir"),
        (["quantize.backend=onnxruntime", "quantize.mode=static_ptq", "EMPTY"], "holds no"),
        (["quantize.backend=modelopt.pytorch", "quantize.mode=static_ptq", "CAL"], "nvidia-modelopt"),
        (
            ["quantize.algorithm=awq_full", "quantize.backend=onnxruntime", "quantize.mode=static_ptq", "CAL"],
            "algorithm",
        ),
    ],
)
def test_bad_requests_fail_clearly_without_output(trained_workspace, tmp_path, capsys, overrides, expected):
    ws = trained_workspace
    empty = tmp_path / "empty"
    empty.mkdir()
    cal = {"EMPTY": str(empty), "CAL": str(ws.data / "test")}
    args = [f"dataset.quant_calibration_dataset.images_dir={cal[o]}" if o in cal else o for o in overrides]
    out = tmp_path / "q"
    assert (
        cli(["quantize", "-e", str(ws.spec), f"quantize.model_path={ws.best}", f"quantize.results_dir={out}", *args])
        == 2
    )
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not any(p.name.startswith("quantized_model") for p in out.iterdir())


def test_layer_rules_pick_modules_like_the_reference():
    from tao_ocrnet.deploy.quantize import module_plan

    named = [("SequenceModeling.0.linear", "Linear"), ("Prediction", "CTCHead"), ("Prediction.generator", "Linear")]
    rules = [{"module_name": "Prediction*", "weights": {"dtype": "native"}}, {"module_name": "Linear"}]
    assert module_plan(named, rules, []) == {"SequenceModeling.0.linear": "int8"}  # first match wins, by name
    assert module_plan(named, [], ["SequenceModeling.*"]) == {"Prediction": "int8", "Prediction.generator": "int8"}
