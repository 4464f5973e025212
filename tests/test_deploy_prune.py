# SPDX-License-Identifier: Apache-2.0
"""Pruning: the three modes, L1/L2, CTC and Attn + TPS, and the prune -> retrain -> evaluate -> export chain."""

from __future__ import annotations

import json

import pytest
import torch

from tao_ocrnet.cli import main as cli
from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.deploy.prune import PruneSettings, prune_model
from tao_ocrnet.model.checkpoint import load_model_file
from tao_ocrnet.model.ocrnet import build_model
from tao_ocrnet.results.status import read_status

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]

CHARS = tuple("abc123")


def _model(**kw) -> tuple[torch.nn.Module, ModelArch]:
    torch.manual_seed(0)
    arch = ModelArch(**{"feature_channel": 32, "hidden_size": 16, "max_label_length": 6, "charset": CHARS, **kw})
    return build_model(arch), arch


def _widths(model: torch.nn.Module) -> dict[str, int]:
    return {n: m.out_channels for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}


def test_amount_prunes_each_group_once_to_granularity():
    model, arch = _model()
    before = _widths(model)
    pruned, report = prune_model(model, arch, PruneSettings("amount", 0.5, None, 4, "L1"))
    after = _widths(pruned)
    conv = "FeatureExtraction.ConvNet."
    # 32 channels -> 16 kept (not 0.5 ** k compounded over the residual chain); 4 (= granularity) untouched.
    assert after[conv + "layer3.0.conv1"] == 16 and after[conv + "conv3"] == 16 and after[conv + "layer4.2.conv1"] == 16
    assert after[conv + "conv0_2"] == 4 and before[conv + "conv0_2"] == 4
    assert after[conv + "conv4_2"] == 32  # protected: its width is the BiLSTM input
    assert all(w % 4 == 0 for n, w in after.items() if before[n] >= 4)
    assert report.params_after < report.params_before and report.macs_after < report.macs_before


def test_threshold_mode_works():
    model, arch = _model()
    _, keep_all = prune_model(model, arch, PruneSettings("threshold", 0.4, 0.0, 2, "L2"))
    assert keep_all.params_after == keep_all.params_before  # every normalised norm is above 0
    model, arch = _model()
    pruned, _ = prune_model(model, arch, PruneSettings("threshold", 0.4, 1.0, 2, "L2"))
    widths = _widths(pruned)
    assert widths["FeatureExtraction.ConvNet.layer3.0.conv1"] == 2  # only the minimum (granularity) is left


def test_hybrid_honours_the_norm_and_prunes_attn_with_tps():
    results = {}
    for norm in ("L1", "L2"):
        model, arch = _model(prediction="Attn", tps=True, num_fiducial=6)
        # Make L1 and L2 disagree on conv0_2: filter 0 has one large weight, filter 1 many medium ones.
        conv = model.FeatureExtraction.ConvNet.conv0_2
        with torch.no_grad():
            conv.weight.fill_(0.01)
            conv.weight[0].zero_()
            conv.weight[0, 0, 0, 0] = 1.0
            conv.weight[1].fill_(0.2)
        # amount 0.99: the global cut sits at the top scores, so conv0_2 keeps only its best filter.
        pruned, report = prune_model(model, arch, PruneSettings("experimental_hybrid", 0.99, None, 1, norm))
        results[norm] = pruned
        assert report.params_after < report.params_before
        images = torch.rand(2, 1, 32, 100) * 2 - 1
        assert pruned(images).shape == (2, 7, arch.num_class)  # the Attn head and TPS still run
    # L1: filter 1 (sum 0.2 * 18 = 3.6) outranks filter 0 (1.0); L2: filter 0 (1.0) outranks filter 1 (0.85).
    w1 = results["L1"].FeatureExtraction.ConvNet.conv0_2.weight
    w2 = results["L2"].FeatureExtraction.ConvNet.conv0_2.weight
    assert w1.shape[0] == 1 and torch.allclose(w1, torch.tensor(0.2))
    assert w2.shape[0] == 1 and w2.max() == 1.0


def test_prune_retrain_evaluate_export_chain(trained_workspace, tmp_path, capsys):
    ws = trained_workspace
    pruned = tmp_path / "pruned.pth"
    prune_args = [f"prune.checkpoint={ws.best}", f"prune.results_dir={tmp_path / 'prune'}"]
    prune_args += [f"prune.pruned_file={pruned}", "prune.prune_setting.granularity=2"]
    assert cli(["prune", "-e", str(ws.spec), *prune_args]) == 0
    data = torch.load(pruned, weights_only=True)  # safe to load: architecture + state_dict
    report = data["pruned"]
    assert report["params_after"] < report["params_before"] and report["macs_after"] < report["macs_before"]
    kpis = [r["kpi"] for r in read_status(tmp_path / "prune" / "status.json") if "kpi" in r]
    assert any("macs_after" in k and "params_after" in k for k in kpis)
    assert cli(["prune", "-e", str(ws.spec), *prune_args]) == 2  # exists: refused without --overwrite
    assert "prune.pruned_file" in capsys.readouterr().err

    retrain = tmp_path / "retrain"
    train_args = [f"model.pruned_graph_path={pruned}", f"train.results_dir={retrain}", "train.num_epochs=1"]
    assert cli(["train", "-e", str(ws.spec), *train_args]) == 0
    retrained, _, _ = load_model_file(retrain / "best_accuracy.pth")
    assert sum(p.numel() for p in retrained.parameters()) == report["params_after"]

    eval_args = [f"evaluate.checkpoint={retrain / 'best_accuracy.pth'}", f"evaluate.results_dir={tmp_path / 'eval'}"]
    assert cli(["evaluate", "-e", str(ws.spec), *eval_args]) == 0
    assert json.loads((tmp_path / "eval" / "results.json").read_text())["num_samples"] == 24

    onnx_file = tmp_path / "pruned.onnx"
    export_args = [f"export.checkpoint={retrain / 'best_accuracy.pth'}", f"export.onnx_file={onnx_file}"]
    assert cli(["export", "-e", str(ws.spec), *export_args, f"export.results_dir={tmp_path / 'export'}"]) == 0
    assert onnx_file.is_file() and onnx_file.with_name("pruned.onnx.json").is_file()
