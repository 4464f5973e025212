# SPDX-License-Identifier: Apache-2.0
"""ModelArch: spec conversion, serialisation and input-size validation (no torch needed)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.config.backbones import BACKBONE_NAMES, feature_map_size
from tao_ocrnet.errors import SpecError

CHARSET = tuple("0123456789abcdefghijklmnopqrstuvwxyz")


def model_cfg(**overrides: object) -> SimpleNamespace:
    base = dict(
        TPS=False,
        num_fiducial=20,
        backbone="ResNet",
        feature_channel=512,
        sequence="BiLSTM",
        hidden_size=256,
        prediction="CTC",
        input_width=100,
        input_height=32,
        input_channel=1,
    )
    base.update(overrides)
    return SimpleNamespace(**base)


def test_from_spec_defaults_and_num_class() -> None:
    arch = ModelArch.from_spec(model_cfg(), CHARSET, 25)
    assert arch.backbone == "ResNet" and not arch.tps and arch.charset == CHARSET
    assert arch.num_class == 37
    assert arch.feature_size == (1, 26)
    assert arch.sequence_length == 26
    attn = ModelArch.from_spec(model_cfg(prediction="Attn", TPS=True), CHARSET, 25)
    assert attn.num_class == 38 and attn.sequence_length == 26 and attn.tps


def test_round_trip_dict() -> None:
    arch = ModelArch.from_spec(model_cfg(prediction="Attn", TPS=True, hidden_size=64), list(CHARSET), 10)
    data = arch.to_dict()
    assert isinstance(data["charset"], list)
    assert ModelArch.from_dict(data) == arch
    assert ModelArch.from_dict({**data, "future_key": 1}) == arch
    with pytest.raises(SpecError, match="backbone"):
        ModelArch.from_dict({k: v for k, v in data.items() if k != "backbone"})


def test_feature_map_sizes() -> None:
    assert feature_map_size("ResNet", 32, 100) == (1, 26)
    assert feature_map_size("ResNet2X", 32, 100) == (3, 51)
    assert feature_map_size("FAN_tiny_2X", 64, 200) == (8, 25)
    assert feature_map_size("ResNet", 16, 100)[0] == 0


def test_fan_forces_feature_channel_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tao_ocrnet.config.arch"):
        arch = ModelArch.from_spec(model_cfg(backbone="FAN_tiny_2X", input_width=128), CHARSET, 25)
    assert arch.feature_channel == 192
    assert "feature_channel" in caplog.text and "192" in caplog.text


def test_fan_rejects_32x100_naming_the_key_and_fix() -> None:
    with pytest.raises(SpecError) as info:
        ModelArch.from_spec(model_cfg(backbone="FAN_tiny_2X"), CHARSET, 25)
    message = str(info.value)
    assert "model.input_width=100" in message and "multiple of 8" in message and "104" in message
    assert "model.input_height" not in message


def test_resnet_rejects_too_small_height() -> None:
    with pytest.raises(SpecError) as info:
        ModelArch.from_spec(model_cfg(input_height=16), CHARSET, 25)
    assert "model.input_height=16" in str(info.value) and "at least 32" in str(info.value)
    # ResNet2X keeps more resolution, so 16 works there.
    assert ModelArch.from_spec(model_cfg(backbone="ResNet2X", input_height=16), CHARSET, 25).feature_size[0] == 1


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"backbone": "VGG"}, "model.backbone"),
        ({"prediction": "Transformer"}, "model.prediction"),
        ({"input_channel": 2}, "model.input_channel"),
        ({"TPS": True, "num_fiducial": 3}, "model.num_fiducial"),
        ({"feature_channel": 100}, "model.feature_channel"),
        ({"input_width": 3}, "model.input_width"),
    ],
)
def test_invalid_values(overrides: dict[str, object], fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment.replace(".", r"\.")):
        ModelArch.from_spec(model_cfg(**overrides), CHARSET, 25)


def test_charset_problems() -> None:
    with pytest.raises(SpecError, match="duplicate"):
        ModelArch.from_spec(model_cfg(), ("a", "b", "a"), 25)
    with pytest.raises(SpecError, match="empty"):
        ModelArch.from_spec(model_cfg(), (), 25)


def test_ctc_short_sequence_warning() -> None:
    arch = ModelArch.from_spec(model_cfg(input_width=32), CHARSET, 25)
    assert arch.sequence_length < 25 and arch.warnings()


def test_arch_module_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, tao_ocrnet.config.arch, tao_ocrnet.model; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_every_backbone_of_the_registry_builds_and_the_spec_offers_it() -> None:
    import typing

    from tao_ocrnet.config.spec import ModelConfig
    from tao_ocrnet.model.backbones import BUILDERS
    from tao_ocrnet.model.ocrnet import build_model

    assert set(BUILDERS) == set(BACKBONE_NAMES)
    assert typing.get_args(ModelConfig.model_fields["backbone"].annotation) == BACKBONE_NAMES
    for name in BACKBONE_NAMES:
        arch = ModelArch(backbone=name, feature_channel=192 if name == "FAN_tiny_2X" else 32, hidden_size=8,
                         input_height=32, input_width=128, charset=tuple("ab"))  # fmt: skip
        assert build_model(arch).FeatureExtraction is not None
