# SPDX-License-Identifier: Apache-2.0
"""The four-stage network: reference parameter counts, shapes, initialisation, pruned rebuilds."""

from __future__ import annotations

import pytest
import torch

from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.model.ocrnet import OCRNet, build_model, count_parameters, stage_parameter_counts
from tao_ocrnet.model.transformation import GridGenerator, rare_initial_points, target_points

ALNUM = tuple("0123456789abcdefghijklmnopqrstuvwxyz")
SMALL = tuple("0123456789abc")


def tiny_arch(**overrides: object) -> ModelArch:
    base: dict[str, object] = dict(feature_channel=64, hidden_size=32, max_label_length=8, charset=SMALL)
    base.update(overrides)
    return ModelArch(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tps", "prediction", "total", "head"),
    [
        (False, "CTC", 47_165_701, 9_509),
        (True, "CTC", 48_858_093, 9_509),
        (False, "Attn", 47_862_790, 706_598),
        (True, "Attn", 49_555_182, 706_598),
    ],
)
def test_reference_parameter_counts(tps: bool, prediction: str, total: int, head: int) -> None:
    model = OCRNet(ModelArch(tps=tps, prediction=prediction, charset=ALNUM), init_weights=False)
    counts = stage_parameter_counts(model)
    assert counts == {
        "Transformation": 1_692_392 if tps else 0,
        "FeatureExtraction": 44_263_904,
        "SequenceModeling": 2_892_288,
        "Prediction": head,
        "total": total,
    }


def test_resnet2x_has_the_same_parameters() -> None:
    a = OCRNet(ModelArch(charset=ALNUM), init_weights=False)
    b = OCRNet(ModelArch(backbone="ResNet2X", charset=ALNUM), init_weights=False)
    assert count_parameters(a) == count_parameters(b)


@pytest.mark.parametrize(("backbone", "expected"), [("ResNet", (1, 26)), ("ResNet2X", (3, 51))])
def test_feature_maps_at_reference_width(backbone: str, expected: tuple[int, int]) -> None:
    arch = tiny_arch(backbone=backbone)
    model = build_model(arch).eval()
    with torch.no_grad():
        features = model.FeatureExtraction(torch.randn(2, 1, 32, 100))
    assert tuple(features.shape) == (2, 64, *expected)
    assert arch.feature_size == expected


@pytest.mark.parametrize("tps", [False, True])
@pytest.mark.parametrize("prediction", ["CTC", "Attn"])
@pytest.mark.parametrize("backbone", ["ResNet", "ResNet2X"])
def test_output_shapes(tps: bool, prediction: str, backbone: str) -> None:
    arch = tiny_arch(tps=tps, prediction=prediction, backbone=backbone)
    model = build_model(arch).eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 1, 32, 100))
    assert tuple(logits.shape) == (2, arch.sequence_length, arch.num_class)
    assert torch.isfinite(logits).all()


def test_fan_backbone_shapes() -> None:
    arch = tiny_arch(backbone="FAN_tiny_2X", feature_channel=192, input_width=128, prediction="Attn")
    model = build_model(arch).eval()
    image = torch.randn(2, 1, 32, 128)
    with torch.no_grad():
        assert tuple(model.FeatureExtraction(image).shape) == (2, 192, 4, 16)
        assert tuple(model(image).shape) == (2, 9, arch.num_class)
    ctc = build_model(tiny_arch(backbone="FAN_tiny_2X", feature_channel=192, input_width=128)).eval()
    with torch.no_grad():
        assert tuple(ctc(image).shape) == (2, 16, len(SMALL) + 1)


def test_rgb_input_and_no_sequence_model() -> None:
    arch = tiny_arch(input_channel=3, sequence="None", tps=True)
    model = build_model(arch).eval()
    assert isinstance(model.SequenceModeling, torch.nn.Identity)
    with torch.no_grad():
        assert tuple(model(torch.randn(1, 3, 32, 100)).shape) == (1, 26, arch.num_class)


def test_attn_teacher_forcing_and_text_optional() -> None:
    arch = tiny_arch(prediction="Attn")
    model = build_model(arch)
    image = torch.randn(2, 1, 32, 100)
    text = torch.zeros(2, arch.max_label_length + 2, dtype=torch.long)
    text[:, 1] = 5
    model.train()
    logits = model(image, text, is_train=True)
    assert tuple(logits.shape) == (2, 9, arch.num_class)
    logits.sum().backward()  # gradients flow through the decoder
    assert model.Prediction.generator.weight.grad is not None
    with pytest.raises(ValueError, match="text"):
        model(image, is_train=True)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(image), model(image, text=text))  # text ignored at test time


def test_initialisation_rule() -> None:
    model = build_model(tiny_arch(tps=True, prediction="Attn"))
    fc2 = model.Transformation.LocalizationNetwork.localization_fc2
    assert torch.count_nonzero(fc2.weight) == 0
    assert torch.allclose(fc2.bias.view(-1, 2), rare_initial_points(20))
    for name, param in model.named_parameters():
        if "localization_fc2" in name:
            continue
        if "bias" in name:
            assert torch.count_nonzero(param) == 0, name
        elif param.dim() == 1:
            assert torch.all(param == 1), name
    assert model.FeatureExtraction.ConvNet.conv0_1.weight.std() > 0


def test_tps_grid_is_identity_at_target_points() -> None:
    # With predicted fiducials equal to the targets the spline is the identity on the grid.
    grid = GridGenerator(20, (8, 12))
    points = grid(target_points(20).float().unsqueeze(0))[0]
    xs = (torch.arange(-12, 12, 2, dtype=torch.float32) + 1) / 12
    ys = (torch.arange(-8, 8, 2, dtype=torch.float32) + 1) / 8
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    assert torch.allclose(points, torch.stack([gx, gy], dim=2).reshape(-1, 2), atol=1e-4)
    assert grid.inv_delta_C.shape == (23, 23) and grid.P_hat.shape == (96, 23)


def test_module_names_are_stable() -> None:
    keys = build_model(tiny_arch(tps=True, prediction="Attn")).state_dict().keys()
    for key in (
        "Transformation.LocalizationNetwork.conv.0.weight",
        "Transformation.LocalizationNetwork.localization_fc1.0.weight",
        "Transformation.LocalizationNetwork.localization_fc2.bias",
        "Transformation.GridGenerator.inv_delta_C",
        "Transformation.GridGenerator.P_hat",
        "FeatureExtraction.ConvNet.conv0_1.weight",
        "FeatureExtraction.ConvNet.layer3.4.conv2.weight",
        "FeatureExtraction.ConvNet.bn4_2.running_mean",
        "SequenceModeling.0.rnn.weight_ih_l0_reverse",
        "SequenceModeling.1.linear.weight",
        "Prediction.attention_cell.i2h.weight",
        "Prediction.attention_cell.rnn.weight_ih_l0",
        "Prediction.generator.weight",
    ):
        assert key in keys, key
    assert "Prediction.weight" in build_model(tiny_arch()).state_dict()


def _prune_rows(sd: dict[str, torch.Tensor], prefix: str, keep: int) -> None:
    """Keep the first `keep` output channels of a conv+BN pair (weights and BN entries)."""
    for key in list(sd):
        if key.startswith(prefix) and sd[key].dim() >= 1 and not key.endswith("num_batches_tracked"):
            sd[key] = sd[key][:keep].clone()


def test_pruned_state_dict_rebuild() -> None:
    arch = tiny_arch(tps=True, prediction="Attn")
    sd = {k: v.clone() for k, v in build_model(arch).state_dict().items()}
    cv = "FeatureExtraction.ConvNet."
    # conv0_1 -> bn0_1 -> conv0_2 input
    _prune_rows(sd, cv + "conv0_1.", 3)
    _prune_rows(sd, cv + "bn0_1.", 3)
    sd[cv + "conv0_2.weight"] = sd[cv + "conv0_2.weight"][:, :3].clone()
    # inside a residual block: conv1 -> bn1 -> conv2 input
    blk = cv + "layer2.1."
    _prune_rows(sd, blk + "conv1.", 8)
    _prune_rows(sd, blk + "bn1.", 8)
    sd[blk + "conv2.weight"] = sd[blk + "conv2.weight"][:, :8].clone()
    # TPS: last localisation conv -> BN -> Linear input
    loc = "Transformation.LocalizationNetwork."
    _prune_rows(sd, loc + "conv.12.", 256)
    _prune_rows(sd, loc + "conv.13.", 256)
    sd[loc + "localization_fc1.0.weight"] = sd[loc + "localization_fc1.0.weight"][:, :256].clone()
    # the last conv feeds the first BiLSTM (its input size shrinks)
    _prune_rows(sd, cv + "conv4_2.", 48)
    _prune_rows(sd, cv + "bn4_2.", 48)
    sd["SequenceModeling.0.rnn.weight_ih_l0"] = sd["SequenceModeling.0.rnn.weight_ih_l0"][:, :48].clone()
    sd["SequenceModeling.0.rnn.weight_ih_l0_reverse"] = sd["SequenceModeling.0.rnn.weight_ih_l0_reverse"][
        :, :48
    ].clone()

    model = build_model(arch, sd).eval()
    assert model.FeatureExtraction.ConvNet.conv0_1.out_channels == 3
    assert model.SequenceModeling[0].rnn.input_size == 48
    for key, value in model.state_dict().items():
        assert torch.equal(value, sd[key]), key
    with torch.no_grad():
        assert tuple(model(torch.randn(2, 1, 32, 100)).shape) == (2, 9, arch.num_class)
    assert count_parameters(model) < count_parameters(build_model(arch))


def test_pruned_fan_rebuild() -> None:
    arch = tiny_arch(backbone="FAN_tiny_2X", feature_channel=192, input_width=64)
    sd = {k: v.clone() for k, v in build_model(arch).state_dict().items()}
    # A whole ConvNeXt stage width (residual-coupled): stem conv -> LN -> blocks -> downsample.
    stem = "FeatureExtraction.patch_embed.backbone."
    keep = 96
    for key in list(sd):
        if key.startswith((stem + "stem.", stem + "stages.0.", stem + "downsample.0.")):
            t = sd[key]
            if key.endswith("pwconv1.bias"):
                continue  # the hidden width is unchanged
            if key.endswith("pwconv1.weight"):
                sd[key] = t[:, :keep].clone()
            else:
                sd[key] = t[:keep].clone()
    sd[stem + "downsample.1.weight"] = sd[stem + "downsample.1.weight"][:, :keep].clone()
    model = build_model(arch, sd).eval()
    with torch.no_grad():
        assert tuple(model(torch.randn(1, 1, 32, 64)).shape) == (1, 8, arch.num_class)


def test_shape_mismatch_that_is_not_pruning_fails() -> None:
    sd = build_model(tiny_arch(tps=True)).state_dict()
    with pytest.raises(RuntimeError):
        build_model(tiny_arch(tps=True, input_width=96), sd)  # TPS grid buffer of another size


def test_torch_pruning_result_is_described_by_arch_and_state_dict() -> None:
    """The prune action's contract: a structurally pruned OCRNet rebuilds from arch + state_dict."""
    tp = pytest.importorskip("torch_pruning")
    arch = tiny_arch(tps=True, prediction="Attn")
    model = build_model(arch).eval()
    protected = [
        model.SequenceModeling,
        model.Prediction,
        model.FeatureExtraction.ConvNet.conv4_2,
        model.Transformation.LocalizationNetwork.localization_fc2,
    ]
    pruner = tp.pruner.MagnitudePruner(
        model,
        torch.randn(1, 1, 32, 100),
        importance=tp.importance.MagnitudeImportance(p=1),
        pruning_ratio=0.5,
        ignored_layers=protected,
        round_to=4,
    )
    before = count_parameters(model)
    pruner.step()
    assert count_parameters(model) < before
    rebuilt = build_model(arch, model.state_dict()).eval()
    image = torch.randn(2, 1, 32, 100)
    with torch.no_grad():
        assert torch.allclose(model(image), rebuilt(image), atol=1e-5)
