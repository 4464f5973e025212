# SPDX-License-Identifier: Apache-2.0
"""ModelEMA: decay ramp, averaging of parameters, copying of buffers."""

from __future__ import annotations

import math

import pytest
import torch

from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.model.ema import ModelEMA
from tao_ocrnet.model.ocrnet import build_model


def _model() -> torch.nn.Module:
    arch = ModelArch(feature_channel=32, hidden_size=16, max_label_length=4, charset=tuple("ab"))
    return build_model(arch)


def test_decay_ramp() -> None:
    ema = ModelEMA(_model())
    assert ema.current_decay() == 0.0
    ema.updates.fill_(2000)
    assert ema.current_decay() == pytest.approx(0.9999 * (1 - math.exp(-1)))


def test_update_averages_parameters_and_copies_buffers() -> None:
    model = _model()
    ema = ModelEMA(model)
    assert not any(p.requires_grad for p in ema.module.parameters())
    before = {k: v.clone() for k, v in ema.module.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.train()
    model(torch.randn(2, 1, 32, 100))  # moves BN running statistics
    ema.update(model)
    d = 0.9999 * (1 - math.exp(-1 / 2000))
    name = "FeatureExtraction.ConvNet.conv0_1.weight"
    expected = before[name] * d + model.state_dict()[name] * (1 - d)
    assert torch.allclose(ema.module.state_dict()[name], expected)
    bn = "FeatureExtraction.ConvNet.bn0_1.running_mean"
    assert torch.equal(ema.module.state_dict()[bn], model.state_dict()[bn])
    assert int(ema.updates) == 1


def test_stays_in_eval_mode_and_keys() -> None:
    ema = ModelEMA(_model())
    ema.train()
    assert not ema.module.training
    keys = ema.state_dict().keys()
    assert "updates" in keys and "module.Prediction.weight" in keys
