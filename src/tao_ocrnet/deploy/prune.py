# SPDX-License-Identifier: Apache-2.0
"""Structured channel pruning of the convolutions, with torch-pruning's dependency graph.

torch-pruning finds the coupled groups (conv -> BN -> next conv input, residual adds, the TPS
localisation conv -> Linear); each group is scored and pruned once (the reference compounded
`amount` over residual groups). Protected, for CTC and Attn alike (the reference pruned the Attn head): the
sequence model, the heads, the last backbone conv (its width is the BiLSTM input) and the TPS `localization_fc2`.

Scores: each conv's filter Lp norms (`raw_prune_score` L1 or L2, also in hybrid mode, which the reference
ignored) are normalised per conv, and a coupled group takes the element-wise max over its convs.

* `amount`: every group keeps ceil((1 - amount) * C) channels (rounded up to `granularity`).
* `threshold`: norms / max norm; a group keeps the channels scoring above `threshold` (the
  reference crashed), rounded up to `granularity`.
* `experimental_hybrid`: each conv's sorted norms are divided by the sum of the norms not yet
  passed; one global threshold at the `amount` quantile of all scores decides every group.

A group always keeps at least min(granularity, C) channels.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch_pruning as tp
from torch import nn

from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.config.backbones import PRUNABLE_BACKBONES
from tao_ocrnet.errors import ModelFileError
from tao_ocrnet.model.ocrnet import OCRNet, build_model

log = logging.getLogger(__name__)

PROTECTED = (
    "SequenceModeling",
    "Prediction",
    "FeatureExtraction.ConvNet.conv4_2",
    "Transformation.LocalizationNetwork.localization_fc2",
)


@dataclass(frozen=True)
class PruneSettings:
    mode: str = "amount"
    amount: float = 0.4
    threshold: float | None = None
    granularity: int = 8
    norm: str = "L1"

    @property
    def p(self) -> int:
        return 1 if self.norm == "L1" else 2

    @classmethod
    def from_spec(cls, ps: Any) -> PruneSettings:
        return cls(ps.mode, ps.amount, ps.threshold, ps.granularity, ps.raw_prune_score)


@dataclass
class PruneReport:
    params_before: int
    params_after: int
    macs_before: int
    macs_after: int
    groups: list[tuple[str, int, int]] = field(default_factory=list)  # (root conv, before, after)

    def summary(self) -> dict[str, Any]:
        return {
            "params_before": self.params_before,
            "params_after": self.params_after,
            "macs_before": self.macs_before,
            "macs_after": self.macs_after,
            "param_ratio": self.params_after / self.params_before if self.params_before else 1.0,
            "mac_ratio": self.macs_after / self.macs_before if self.macs_before else 1.0,
            "groups_pruned": sum(1 for _, before, after in self.groups if after < before),
        }


def _macs_hook(totals: list[int]):
    """Forward hook adding a layer's multiply-accumulates (batch 1) to totals[0]."""

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        if isinstance(module, nn.Conv2d):
            per_position = module.in_channels // module.groups * int(math.prod(module.kernel_size))
            totals[0] += output.numel() * per_position
        elif isinstance(module, nn.Linear):
            totals[0] += output.numel() * module.in_features
        elif isinstance(module, nn.LSTM):
            x = inputs[0]
            steps = x.shape[0] * x.shape[1]  # time x batch, whichever order (batch 1 here)
            directions = 2 if module.bidirectional else 1
            h = module.hidden_size
            for layer in range(module.num_layers):
                width = module.input_size if layer == 0 else h * directions
                totals[0] += steps * directions * 4 * h * (width + h)

    return hook


def count_macs_params(model: nn.Module, arch: ModelArch) -> tuple[int, int]:
    """(multiply-accumulates, parameters) of one image at the model's input size.

    Conv2d, Linear and LSTM (both directions, every step, the Attn decoder's steps included);
    element-wise ops are not counted. (torch-pruning's counter reads batch-first LSTM inputs as
    time-first and over-counts them, hence our own hooks.)
    """
    totals = [0]
    handles = [
        m.register_forward_hook(_macs_hook(totals))
        for m in model.modules()
        if isinstance(m, nn.Conv2d | nn.Linear | nn.LSTM)
    ]
    example = torch.zeros(1, arch.input_channel, arch.input_height, arch.input_width)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return totals[0], sum(p.numel() for p in model.parameters())


def _conv_norms(group: Any, channels: int, p: int, hybrid: bool) -> torch.Tensor:
    """Group score per root channel: per-conv normalised filter norms, element-wise max over the convs."""
    score = torch.zeros(channels)
    for i, (dep, idxs) in enumerate(group):
        layer = dep.layer
        # Bound methods: compare with ==, never `is` (each attribute access makes a new method object).
        if not isinstance(layer, nn.Conv2d) or dep.pruning_fn != tp.function.prune_conv_out_channels:
            continue
        root_idxs = group[i].root_idxs
        if any(r is None for r in root_idxs):
            continue
        norms = layer.weight.detach()[idxs].flatten(1).abs().pow(p).sum(1).pow(1.0 / p).float()
        if hybrid:
            order = torch.argsort(norms)
            ascending = norms[order]
            remaining = torch.flip(torch.cumsum(torch.flip(ascending, [0]), 0), [0])  # sum of norms not yet passed
            normalised = torch.empty_like(norms)
            normalised[order] = ascending / remaining.clamp_min(1e-12)
        else:
            normalised = norms / norms.max().clamp_min(1e-12)
        target = torch.tensor(root_idxs, dtype=torch.long)
        score[target] = torch.maximum(score[target], normalised)
    return score


def _round_keep(wanted: int, channels: int, granularity: int) -> int:
    keep = math.ceil(max(wanted, 0) / granularity) * granularity
    return max(min(granularity, channels), min(keep, channels))


def _keep_counts(scores: list[torch.Tensor], settings: PruneSettings) -> list[int]:
    g = settings.granularity
    if settings.mode == "amount":
        return [_round_keep(math.ceil(len(s) * (1.0 - settings.amount) - 1e-9), len(s), g) for s in scores]
    if settings.mode == "threshold":
        if settings.threshold is None:
            raise ValueError("threshold mode needs a threshold")
        return [_round_keep(int((s > settings.threshold).sum()), len(s), g) for s in scores]
    everything = torch.sort(torch.cat(scores)).values if scores else torch.zeros(0)
    if everything.numel() == 0:
        return []
    cut = everything[min(int(everything.numel() * settings.amount), everything.numel() - 1)]
    if settings.amount <= 0:
        cut = everything[0]
    return [_round_keep(int((s >= cut).sum()), len(s), g) for s in scores]


def _protected_modules(model: OCRNet) -> list[nn.Module]:
    modules: list[nn.Module] = []
    for name in PROTECTED:
        try:
            modules.extend(model.get_submodule(name).modules())
        except AttributeError:
            continue  # e.g. no TPS
    return modules


def prune_model(model: OCRNet, arch: ModelArch, settings: PruneSettings) -> tuple[OCRNet, PruneReport]:
    """Prune `model` in place; return a model rebuilt from (arch, pruned state_dict) and the report."""
    if arch.backbone not in PRUNABLE_BACKBONES:
        raise ModelFileError(
            f"`prune.checkpoint`: pruning supports the {' and '.join(PRUNABLE_BACKBONES)} backbones; "
            f"this model uses {arch.backbone}"
        )
    model = model.cpu().eval()
    macs_before, params_before = count_macs_params(model, arch)
    example = torch.zeros(1, arch.input_channel, arch.input_height, arch.input_width)
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example)
    groups = list(graph.get_all_groups(ignored_layers=_protected_modules(model), root_module_types=[nn.Conv2d]))
    names = {m: n for n, m in model.named_modules()}
    scores = [_conv_norms(g, len(g[0].idxs), settings.p, settings.mode == "experimental_hybrid") for g in groups]
    report = PruneReport(params_before, 0, macs_before, 0)
    for group, score, keep in zip(groups, scores, _keep_counts(scores, settings), strict=True):
        channels = len(score)
        report.groups.append((names.get(group[0].dep.layer, "?"), channels, keep))
        if keep < channels:
            drop = torch.argsort(score, stable=True)[: channels - keep]
            group.prune(sorted(drop.tolist()))
    rebuilt = build_model(arch, {k: v.detach().clone() for k, v in model.state_dict().items()}).eval()
    _check_rebuild(model, rebuilt, arch)
    report.macs_after, report.params_after = count_macs_params(rebuilt, arch)
    return rebuilt, report


def _check_rebuild(pruned: nn.Module, rebuilt: nn.Module, arch: ModelArch) -> None:
    """The saved file must reproduce the pruned network exactly (it is rebuilt from arch + state_dict)."""
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(2, arch.input_channel, arch.input_height, arch.input_width, generator=gen) * 2 - 1
    with torch.no_grad():
        if not torch.allclose(pruned.eval()(images), rebuilt(images), atol=1e-5, rtol=1e-4):
            raise ModelFileError("the pruned network does not rebuild from its state_dict (please report this bug)")
