# SPDX-License-Identifier: Apache-2.0
"""Every backbone's facts in one registry, without torch: the spec's `model.backbone` values, the feature-map
size rule that input sizes are checked against, fixed widths, and whether `prune` supports it.

The networks themselves are built by `tao_ocrnet.model.backbones` (one builder per name here; a test keeps
the two in step). A new backbone is one entry here and one builder there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backbone:
    name: str
    resnet_first_pool: bool | None  # CLOVA ResNet family: whether maxpool1 is there; None for other families
    downsample: int  # non-ResNet families: input height and width are divided by this (and must be multiples)
    fixed_feature_channel: int | None  # the width model.feature_channel is forced to, if the design fixes it
    prunable: bool


BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in (
        Backbone("ResNet", resnet_first_pool=True, downsample=1, fixed_feature_channel=None, prunable=True),
        # the same parameters without maxpool1: twice the output resolution
        Backbone("ResNet2X", resnet_first_pool=False, downsample=1, fixed_feature_channel=None, prunable=True),
        Backbone("FAN_tiny_2X", resnet_first_pool=None, downsample=8, fixed_feature_channel=192, prunable=False),
    )
}
BACKBONE_NAMES: tuple[str, ...] = tuple(BACKBONES)
PRUNABLE_BACKBONES: tuple[str, ...] = tuple(name for name, b in BACKBONES.items() if b.prunable)


def _pool_out(n: int, kernel: int, stride: int, pad: int) -> int:
    """Output length of a conv/pool along one axis (floor mode, as PyTorch)."""
    return (n + 2 * pad - kernel) // stride + 1


def resnet_feature_size(size: int, axis: str, first_pool: bool = True) -> int:
    """Feature-map length along `axis` ("h" or "w") of the CLOVA ResNet; 0 when the input is too small.

    Mirrors the down-sampling of `model.backbones.ResNet`: 3x3 convs keep the size, so only the pools and
    the two last convs (kernel 2) matter. Height: /2, /2, stride 2, stride 2, -1. Width: /2, /2,
    +1, +1, -1.
    """
    steps: list[tuple[int, int, int]] = []  # (kernel, stride, pad) for this axis
    if first_pool:
        steps.append((2, 2, 0))  # maxpool1 (absent in ResNet2X)
    steps.append((2, 2, 0))  # maxpool2
    if axis == "h":
        steps += [(2, 2, 0), (2, 2, 0), (2, 1, 0)]  # maxpool3, conv4_1, conv4_2
    else:
        steps += [(2, 1, 1), (2, 1, 1), (2, 1, 0)]
    n = size
    for kernel, stride, pad in steps:
        if n + 2 * pad < kernel:
            return 0
        n = _pool_out(n, kernel, stride, pad)
    return max(n, 0)


def feature_map_size(backbone: str, height: int, width: int) -> tuple[int, int]:
    """(H', W') of the backbone output for an input of `height` x `width`; 0 means "too small"."""
    facts = BACKBONES[backbone]
    if facts.resnet_first_pool is None:
        step = facts.downsample
        if height % step or width % step:
            return 0, 0
        return height // step, width // step
    return (
        resnet_feature_size(height, "h", facts.resnet_first_pool),
        resnet_feature_size(width, "w", facts.resnet_first_pool),
    )
