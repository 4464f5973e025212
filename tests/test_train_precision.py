# SPDX-License-Identifier: Apache-2.0
"""`train.precision` and `train.channels_last`: the rule per hardware, refusals, fp32 checkpoints, same outputs."""

from __future__ import annotations

import json

import pytest
import torch

from tao_ocrnet.cli import main as cli
from tao_ocrnet.config.spec import ExperimentSpec
from tao_ocrnet.errors import UserError
from tao_ocrnet.model import precision
from tao_ocrnet.model.precision import lightning_precision

from action_fixtures import MODEL

CPU = "this CPU (test)"


@pytest.mark.parametrize(
    ("requested", "accelerator", "bf16", "expected"),
    [
        ("fp32", "cpu", False, "32-true"),
        ("fp32", "gpu", True, "32-true"),
        ("bf16", "cpu", True, "bf16-mixed"),
        ("bf16", "gpu", True, "bf16-mixed"),
        ("fp16", "gpu", False, "16-mixed"),
        ("auto", "cpu", True, "bf16-mixed"),
        ("auto", "cpu", False, "32-true"),
        ("auto", "gpu", False, "32-true"),
    ],
)
def test_precision_rule(requested, accelerator, bf16, expected):
    assert lightning_precision(requested, accelerator, bf16, CPU) == expected


@pytest.mark.parametrize(
    ("requested", "accelerator", "bf16", "words"),
    [
        ("bf16", "cpu", False, ["train.precision", "bf16 instructions", CPU, "train.precision=fp32"]),
        ("bf16", "gpu", False, ["train.precision", "bf16 instructions", "train.precision=auto"]),
        ("fp16", "cpu", True, ["train.precision", "CUDA GPU", "train.precision=fp32"]),
    ],
)
def test_unsupported_precision_is_refused_with_the_fix(requested, accelerator, bf16, words):
    with pytest.raises(UserError) as caught:
        lightning_precision(requested, accelerator, bf16, CPU)
    assert all(w in str(caught.value) for w in words), str(caught.value)


def test_the_spec_default_is_fp32_contiguous():
    train = ExperimentSpec().train
    assert (train.precision, train.channels_last) == ("fp32", False)


def _train_args(ws, tmp_path, *extra: str) -> list[str]:
    return ["train", "-e", str(ws.spec), "train.num_epochs=1", f"train.results_dir={tmp_path / 'train'}", *extra]


@pytest.mark.parametrize("requested", ["bf16", "fp16"])
def test_the_cli_refuses_what_this_cpu_cannot_do(trained_workspace, tmp_path, capsys, requested):
    if requested == "bf16" and precision.cpu_has_bf16():
        pytest.skip("this CPU has bf16 instructions")
    assert cli([*_train_args(trained_workspace, tmp_path, f"train.precision={requested}")]) == 2
    err = capsys.readouterr().err
    assert "`train.precision`" in err and "train.precision=fp32" in err and "Traceback" not in err
    assert not list((tmp_path / "train").glob("*.pth"))  # refused before any training


@pytest.mark.slow
def test_bf16_channels_last_training_writes_fp32_weights_that_evaluate_and_export(
    trained_workspace, tmp_path, monkeypatch
):
    if not precision.cpu_has_bf16():
        # The hardware check is the only thing replaced: the training below is a real bf16-mixed run (emulated here).
        monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    ws = trained_workspace
    args = _train_args(ws, tmp_path, "train.precision=bf16", "train.channels_last=true")
    assert cli(args) == 0
    out = tmp_path / "train"
    assert "Using bfloat16 Automatic Mixed Precision" in (out / "train.log").read_text()
    for name in ("best_accuracy.pth", "ocr_model_latest.pth"):
        state = torch.load(out / name, weights_only=True)["state_dict"]
        floats = [v for v in state.values() if v.is_floating_point()]
        assert floats and all(v.dtype == torch.float32 for v in floats), name
        assert all(v.is_contiguous() for v in floats if v.dim() == 4), name  # the usual layout of conv weights
    best = out / "best_accuracy.pth"
    evaluate = [f"evaluate.checkpoint={best}", f"evaluate.results_dir={tmp_path / 'evaluate'}"]
    assert cli(["evaluate", "-e", str(ws.spec), *evaluate]) == 0
    assert 0.0 <= json.loads((tmp_path / "evaluate" / "results.json").read_text())["Accuracy"] <= 1.0
    onnx = tmp_path / "bf16.onnx"  # export checks ONNX Runtime against PyTorch on the same input
    export = [f"export.checkpoint={best}", f"export.onnx_file={onnx}", f"export.results_dir={tmp_path / 'export'}"]
    assert cli(["export", "-e", str(ws.spec), *export]) == 0 and onnx.is_file()


@pytest.mark.parametrize("tps", [False, True])
def test_channels_last_gives_the_outputs_and_gradients_of_contiguous(tps):
    from tao_ocrnet.config.arch import ModelArch
    from tao_ocrnet.model.lit_module import OCRNetLitModule
    from tao_ocrnet.model.ocrnet import build_model

    spec = ExperimentSpec.model_validate({"model": {**MODEL, "TPS": tps}})
    arch = ModelArch.from_spec(spec.model, tuple("abcdefghij"), 8)
    torch.manual_seed(0)
    weights = build_model(arch).state_dict()
    images = torch.rand(4, 1, 32, 100) * 2 - 1
    labels = ["abc", "hij", "a", "bdfhj"]
    results = []
    for channels_last in (False, True):
        module = OCRNetLitModule(build_model(arch, weights), arch, {}, channels_last=channels_last).train()
        # (a 1-channel image is contiguous in both formats: the convolution weights show the format)
        assert any(p.dim() == 4 and not p.is_contiguous() for p in module.model.parameters()) == channels_last
        logits = module(module.images_of((images.clone(), labels)))
        targets, lengths = module.codec.encode(labels)
        module.codec.loss(logits, targets, lengths).backward()
        grads = {n: p.grad.clone() for n, p in module.model.named_parameters() if p.grad is not None}
        results.append((logits.detach(), grads, module.eval_model_copy().state_dict()))
    (logits_a, grads_a, saved_a), (logits_b, grads_b, saved_b) = results
    torch.testing.assert_close(logits_b, logits_a, rtol=1e-4, atol=1e-4)
    assert grads_a.keys() == grads_b.keys()
    # Per tensor, summation order differs (train-mode BN over 4 images amplifies it): compare the whole gradient.
    flat_a, flat_b = (torch.cat([g[name].flatten() for name in grads_a]) for g in (grads_a, grads_b))
    assert float((flat_b - flat_a).norm() / flat_a.norm()) < 1e-2
    assert {k: v.stride() for k, v in saved_b.items()} == {k: v.stride() for k, v in saved_a.items()}  # saved layout
