# SPDX-License-Identifier: Apache-2.0
"""OCRNet: the four stages assembled, the reference initialisation, and `build_model`.

Top-level module names follow CLOVA (`Transformation`, `FeatureExtraction`, `SequenceModeling`,
`Prediction`); checkpoints and pruning rely on them.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.model.backbones import build_backbone
from tao_ocrnet.model.prediction import build_prediction
from tao_ocrnet.model.sequence import build_sequence_model
from tao_ocrnet.model.transformation import TPSSpatialTransformer

STAGES: tuple[str, ...] = ("Transformation", "FeatureExtraction", "SequenceModeling", "Prediction")


class OCRNet(nn.Module):
    """TPS (optional) -> backbone -> mean over height -> BiLSTM x2 (optional) -> CTC / Attn head."""

    def __init__(self, arch: ModelArch, init_weights: bool = True) -> None:
        super().__init__()
        self.arch = arch
        self.Transformation: nn.Module = (
            TPSSpatialTransformer(arch.num_fiducial, (arch.input_height, arch.input_width), arch.input_channel)
            if arch.tps
            else nn.Identity()
        )
        self.FeatureExtraction = build_backbone(arch)
        self.SequenceModeling, seq_out = build_sequence_model(arch)
        self.Prediction = build_prediction(arch, seq_out)
        if init_weights:
            initialize_weights(self)

    def forward(self, image: Tensor, text: Tensor | None = None, is_train: bool = False) -> Tensor:
        """Logits [B, T, K] on `image`'s device.

        `text` (encoded labels starting with [GO]) is only read by Attn when `is_train` is true
        (teacher forcing); test-time calls may omit it.
        """
        x = self.Transformation(image)
        features = self.FeatureExtraction(x)  # [B, C, H', W']
        # CLOVA pools [B, W', C, H'] to height 1 with AdaptiveAvgPool2d((None, 1)); a mean over H'
        # is the same number and exports to a plain ReduceMean (no fall-through ATen op).
        visual = features.mean(dim=2).transpose(1, 2)  # [B, T=W', C]
        contextual = self.SequenceModeling(visual)
        return self.Prediction(contextual, text=text, is_train=is_train)


class ExportWrapper(nn.Module):
    """The reference ONNX contract: image -> (`output_id` int32 [B, T], `output_prob` float32 [B, T])."""

    def __init__(self, model: OCRNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor]:
        probs = self.model(image).softmax(dim=-1)
        prob, index = probs.max(dim=-1)
        return index.to(torch.int32), prob


def initialize_weights(model: nn.Module) -> None:
    """The reference rule: biases 0, weights Kaiming-normal, 1-D weights 1; `localization_fc2` kept.

    (The reference calls Kaiming on every weight and fills with 1 when it raises, i.e. for 1-D
    BN / LayerNorm weights; LSTM and Linear weights get Kaiming too.)
    """
    for name, param in model.named_parameters():
        if "localization_fc2" in name:
            continue  # RARE initial fiducials
        with torch.no_grad():
            if "bias" in name:
                param.zero_()
            elif "weight" in name:
                if param.dim() < 2:
                    param.fill_(1.0)
                else:
                    nn.init.kaiming_normal_(param)


# ---------------------------------------------------------------------------- pruned shapes
def _own_shapes(state_dict: Mapping[str, Tensor], prefix: str, module: nn.Module) -> dict[str, torch.Size]:
    names = list(module._parameters) + list(module._buffers)
    return {n: state_dict[prefix + n].shape for n in names if prefix + n in state_dict}


def _differs(module: nn.Module, shapes: Mapping[str, torch.Size]) -> bool:
    current = dict(module.named_parameters(recurse=False)) | dict(module.named_buffers(recurse=False))
    return any(n in current and current[n] is not None and current[n].shape != s for n, s in shapes.items())


def _resized_module(module: nn.Module, shapes: Mapping[str, torch.Size]) -> nn.Module | None:
    """A fresh module of the same kind with the widths in `shapes`, or None for unknown kinds."""
    if isinstance(module, nn.Conv2d):
        out_ch, in_per_group = shapes["weight"][0], shapes["weight"][1]
        depthwise = module.groups > 1 and module.groups == module.in_channels == module.out_channels
        groups = out_ch if depthwise else module.groups
        # torch types these attributes tuple[int, ...] but Conv2d's arguments as int | tuple[int, int]:
        # a Conv2d's own values always fit.
        return nn.Conv2d(
            in_per_group * groups,
            out_ch,
            module.kernel_size,  # type: ignore[arg-type]
            module.stride,  # type: ignore[arg-type]
            module.padding,  # type: ignore[arg-type]
            module.dilation,  # type: ignore[arg-type]
            groups,
            bias=module.bias is not None,
            padding_mode=module.padding_mode,
        )
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        features = (shapes.get("weight") or shapes["running_mean"])[0]
        return type(module)(features, module.eps, module.momentum, module.affine, module.track_running_stats)
    if isinstance(module, nn.Linear):
        out_f, in_f = shapes["weight"]
        return type(module)(in_f, out_f, bias=module.bias is not None)
    if isinstance(module, nn.LayerNorm):
        return nn.LayerNorm(tuple(shapes["weight"]), module.eps, module.elementwise_affine)
    if isinstance(module, nn.LSTM):
        return nn.LSTM(
            shapes["weight_ih_l0"][1],
            shapes["weight_hh_l0"][1],
            num_layers=module.num_layers,
            bias=module.bias,
            batch_first=module.batch_first,
            dropout=module.dropout,
            bidirectional=module.bidirectional,
        )
    return None


def resize_to_state_dict(model: nn.Module, state_dict: Mapping[str, Tensor]) -> list[str]:
    """Rebuild every layer whose parameter shapes differ from `state_dict` (a structurally pruned net).

    Handles Conv2d (incl. depthwise), BatchNorm, Linear, LayerNorm and LSTM; loose parameters of
    other modules (e.g. FAN's gammas) are re-allocated. Buffers of other modules (the TPS grid) are
    left alone so a real mismatch still fails in `load_state_dict`. Returns the resized names.
    """
    resized: list[str] = []
    for name, module in list(model.named_modules()):
        prefix = f"{name}." if name else ""
        shapes = _own_shapes(state_dict, prefix, module)
        if not shapes or not _differs(module, shapes):
            continue
        replacement = _resized_module(module, shapes)
        if replacement is None:
            for pname, param in list(module.named_parameters(recurse=False)):
                if pname in shapes and param.shape != shapes[pname]:
                    module._parameters[pname] = nn.Parameter(
                        param.new_empty(shapes[pname]), requires_grad=param.requires_grad
                    )
        elif name:
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, replacement)
        resized.append(name)
    return resized


def build_model(arch: ModelArch, state_dict: Mapping[str, Tensor] | None = None) -> OCRNet:
    """A new OCRNet for `arch`; with `state_dict`, layers are resized to its shapes and it is loaded strictly.

    Keys must be plain module keys (no `model.` / `module.` prefixes: see
    `checkpoint.normalize_state_dict`).
    """
    model = OCRNet(arch, init_weights=state_dict is None)
    if state_dict is not None:
        resize_to_state_dict(model, state_dict)
        model.load_state_dict(state_dict, strict=True)
    return model


# ---------------------------------------------------------------------------- reporting
def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def stage_parameter_counts(model: OCRNet) -> dict[str, int]:
    """Parameters per stage plus "total" (handy for prune reports)."""
    counts = {stage: count_parameters(getattr(model, stage)) for stage in STAGES}
    counts["total"] = count_parameters(model)
    return counts
