# SPDX-License-Identifier: Apache-2.0
"""Stage 2: feature extraction. Image [B, C, H, W] -> feature map [B, C_feat, H', W'].

The ResNet follows CLOVA's "ResNet_FeatureExtractor" (layer names included, so public weights
line up). Widths scale with `feature_channel` (512 by default): stem feature_channel/16 and /8,
blocks /4, /2, /1, /1.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.config.backbones import BACKBONES


def _conv3x3(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=1, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv+BN with an identity (or 1x1 projection) shortcut."""

    def __init__(self, inplanes: int, planes: int, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


def _make_layer(inplanes: int, planes: int, blocks: int) -> nn.Sequential:
    downsample = None
    if inplanes != planes:
        downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, 1, bias=False), nn.BatchNorm2d(planes))
    layers: list[nn.Module] = [BasicBlock(inplanes, planes, downsample)]
    layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class ResNet(nn.Module):
    """CLOVA's text ResNet (BasicBlock, layers [1, 2, 5, 3]); height 32 -> 1, width 100 -> 26.

    `first_pool=False` is ResNet2X: the same parameters, twice the output resolution
    (32x100 -> 3x51).
    """

    def __init__(
        self,
        input_channel: int,
        output_channel: int,
        layers: tuple[int, int, int, int] = (1, 2, 5, 3),
        first_pool: bool = True,
    ) -> None:
        super().__init__()
        widths = [output_channel // 4, output_channel // 2, output_channel, output_channel]
        stem = output_channel // 8
        self.conv0_1 = _conv3x3(input_channel, output_channel // 16)
        self.bn0_1 = nn.BatchNorm2d(output_channel // 16)
        self.conv0_2 = _conv3x3(output_channel // 16, stem)
        self.bn0_2 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)

        self.maxpool1: nn.Module = nn.MaxPool2d(2, 2) if first_pool else nn.Identity()
        self.layer1 = _make_layer(stem, widths[0], layers[0])
        self.conv1 = _conv3x3(widths[0], widths[0])
        self.bn1 = nn.BatchNorm2d(widths[0])

        self.maxpool2 = nn.MaxPool2d(2, 2)
        self.layer2 = _make_layer(widths[0], widths[1], layers[1])
        self.conv2 = _conv3x3(widths[1], widths[1])
        self.bn2 = nn.BatchNorm2d(widths[1])

        # Halve the height only: text lines need horizontal resolution for the sequence.
        self.maxpool3 = nn.MaxPool2d(kernel_size=2, stride=(2, 1), padding=(0, 1))
        self.layer3 = _make_layer(widths[1], widths[2], layers[2])
        self.conv3 = _conv3x3(widths[2], widths[2])
        self.bn3 = nn.BatchNorm2d(widths[2])

        self.layer4 = _make_layer(widths[2], widths[3], layers[3])
        self.conv4_1 = nn.Conv2d(widths[3], widths[3], kernel_size=2, stride=(2, 1), padding=(0, 1), bias=False)
        self.bn4_1 = nn.BatchNorm2d(widths[3])
        self.conv4_2 = nn.Conv2d(widths[3], widths[3], kernel_size=2, stride=1, padding=0, bias=False)
        self.bn4_2 = nn.BatchNorm2d(widths[3])

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn0_1(self.conv0_1(x)))
        x = self.relu(self.bn0_2(self.conv0_2(x)))
        x = self.layer1(self.maxpool1(x))
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.maxpool2(x))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.layer3(self.maxpool3(x))
        x = self.relu(self.bn3(self.conv3(x)))
        x = self.layer4(x)
        x = self.relu(self.bn4_1(self.conv4_1(x)))
        return self.relu(self.bn4_2(self.conv4_2(x)))


class ResNetFeatureExtractor(nn.Module):
    """Wrapper kept for CLOVA's key names (`FeatureExtraction.ConvNet.*`)."""

    def __init__(self, input_channel: int, output_channel: int, first_pool: bool = True) -> None:
        super().__init__()
        self.ConvNet = ResNet(input_channel, output_channel, first_pool=first_pool)

    def forward(self, x: Tensor) -> Tensor:
        return self.ConvNet(x)


def _resnet(arch: ModelArch) -> nn.Module:
    first_pool = BACKBONES[arch.backbone].resnet_first_pool
    return ResNetFeatureExtractor(arch.input_channel, arch.feature_channel, first_pool=bool(first_pool))


def _fan_tiny_2x(arch: ModelArch) -> nn.Module:
    from tao_ocrnet.model.fan import FANTiny2X  # only FAN users pay for it

    return FANTiny2X(arch.input_channel, arch.input_height, arch.input_width)


# One builder per backbone of the registry (`tao_ocrnet.config.backbones`).
BUILDERS: dict[str, Callable[[ModelArch], nn.Module]] = {
    "ResNet": _resnet,
    "ResNet2X": _resnet,
    "FAN_tiny_2X": _fan_tiny_2x,
}


def build_backbone(arch: ModelArch) -> nn.Module:
    """The feature extractor for `arch.backbone`; its output has `arch.feature_channel` channels."""
    return BUILDERS[arch.backbone](arch)
