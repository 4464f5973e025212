# SPDX-License-Identifier: Apache-2.0
"""FAN_tiny_2X feature extractor (Fully Attentional Network, hybrid ConvNeXt stem).

Layout (reference section 2): ConvNeXt stem with patch 2, stages of depth [3, 3] at widths
[128, 256] (stride 4) -> 2x2 stride-2 conv embedding to 192 (stride 8) -> Fourier positional
encoding -> 8 FAN blocks (dim 192, 8 heads, eta 1.0) -> LayerNorm. Output [B, 192, H/8, W/8], so H
and W must be multiples of 8 (checked by `ModelArch`).

Forward code reads widths from tensor shapes, not from stored ints, so a pruned state_dict can be
loaded after `build_model` resizes the layers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

EMBED_DIM = 192
STEM_DIMS = (128, 256)
STEM_DEPTHS = (3, 3)
NUM_BLOCKS = 8
NUM_HEADS = 8
MLP_RATIO = 4
LN_EPS = 1e-6


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel dim of an NCHW map (ConvNeXt's channels-first variant)."""

    def __init__(self, dim: int, eps: float = LN_EPS) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """7x7 depthwise conv -> LN -> 4x MLP, scaled by a small learnable gamma, plus the input."""

    def __init__(self, dim: int, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)
        self.pwconv1 = nn.Linear(dim, MLP_RATIO * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(MLP_RATIO * dim, dim)
        self.gamma = nn.Parameter(layer_scale * torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


class ConvNeXtStem(nn.Module):
    """Patch-2 stem and two ConvNeXt stages: [B, C, H, W] -> [B, 256, H/4, W/4]."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        d0, d1 = STEM_DIMS
        self.stem = nn.Sequential(nn.Conv2d(in_channels, d0, kernel_size=2, stride=2), LayerNorm2d(d0))
        self.stages = nn.ModuleList(
            [
                nn.Sequential(*[ConvNeXtBlock(d0) for _ in range(STEM_DEPTHS[0])]),
                nn.Sequential(*[ConvNeXtBlock(d1) for _ in range(STEM_DEPTHS[1])]),
            ]
        )
        self.downsample = nn.Sequential(LayerNorm2d(d0), nn.Conv2d(d0, d1, kernel_size=2, stride=2))

    def forward(self, x: Tensor) -> Tensor:
        x = self.stages[0](self.stem(x))
        return self.stages[1](self.downsample(x))


class HybridEmbed(nn.Module):
    """CNN stem then a 2x2 stride-2 projection to the token width: tokens [B, N, 192] and (H', W')."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.backbone = ConvNeXtStem(in_channels)
        self.proj = nn.Conv2d(STEM_DIMS[1], EMBED_DIM, kernel_size=2, stride=2)

    def forward(self, x: Tensor) -> tuple[Tensor, int, int]:
        x = self.proj(self.backbone(x))
        height, width = x.shape[2], x.shape[3]
        return x.flatten(2).transpose(1, 2), height, width


class PositionalEncodingFourier(nn.Module):
    """Sine/cosine features of normalised (y, x) positions, projected to the token width by a 1x1 conv."""

    def __init__(self, hidden_dim: int = 32, dim: int = EMBED_DIM, temperature: float = 10000.0) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.temperature = temperature
        self.token_projection = nn.Conv2d(hidden_dim * 2, dim, kernel_size=1)

    def _axis(self, n: int, device: torch.device) -> Tensor:
        pos = torch.arange(1, n + 1, dtype=torch.float32, device=device) / (n + 1e-6) * (2 * math.pi)
        i = torch.arange(self.hidden_dim, dtype=torch.float32, device=device)
        freq = self.temperature ** (2 * torch.div(i, 2, rounding_mode="floor") / self.hidden_dim)
        angles = pos[:, None] / freq  # [n, hidden]
        # Interleave sin (even features) and cos (odd features).
        return torch.stack([angles[:, 0::2].sin(), angles[:, 1::2].cos()], dim=2).flatten(1)

    def forward(self, height: int, width: int, device: torch.device) -> Tensor:
        pos_y = self._axis(height, device)[:, None, :].expand(height, width, self.hidden_dim)
        pos_x = self._axis(width, device)[None, :, :].expand(height, width, self.hidden_dim)
        pos = torch.cat([pos_y, pos_x], dim=2).permute(2, 0, 1).unsqueeze(0)  # [1, 2h, H, W]
        return self.token_projection(pos)


class TokenMixing(nn.Module):
    """Standard multi-head self-attention over the tokens."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, dim * 2)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        h = self.num_heads
        q = self.q(x).reshape(b, n, h, c // h).transpose(1, 2)
        k, v = self.kv(x).reshape(b, n, 2, h, c // h).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1)) * (c // h) ** -0.5
        out = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(out)


class DWConvMlp(nn.Module):
    """Token MLP with a 3x3 depthwise conv on the hidden features (restores locality)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, kernel_size=3, padding=1, groups=hidden)
        self.gamma = nn.Parameter(torch.ones(hidden))
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor, height: int, width: int) -> Tensor:
        x = self.fc1(x)
        b, _, c = x.shape
        local = self.dwconv(x.transpose(1, 2).reshape(b, c, height, width)).flatten(2).transpose(1, 2)
        return self.fc2(self.act(x + self.gamma * local))


class ChannelProcessing(nn.Module):
    """FAN's channel attention: per-head channel gates (sigmoid) applied to MLP-refined values."""

    def __init__(self, dim: int, num_heads: int, hidden: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.q = nn.Linear(dim, dim)
        self.mlp_v = DWConvMlp(dim, hidden)
        self.norm_v = nn.LayerNorm(dim, eps=LN_EPS)

    def forward(self, x: Tensor, height: int, width: int) -> Tensor:
        b, n, c = x.shape
        h = self.num_heads
        q = self.q(x).reshape(b, n, h, c // h).transpose(1, 2)  # [B, h, N, d]
        k = x.reshape(b, n, h, c // h).transpose(1, 2)
        # Channel-to-token-summary affinity [B, h, d, 1]: softmax over tokens, k averaged over channels.
        gate = torch.sigmoid(q.softmax(dim=-2).transpose(-1, -2) @ k.softmax(dim=-2).mean(dim=-1, keepdim=True))
        gate = gate * self.temperature
        v = self.norm_v(self.mlp_v(x, height, width)).reshape(b, n, h, c // h).permute(0, 2, 3, 1)  # [B,h,d,N]
        return (gate * v).permute(0, 3, 1, 2).reshape(b, n, c)


class FANBlock(nn.Module):
    """Pre-norm residual block: token mixing then channel processing, each scaled by eta-initialised gammas."""

    def __init__(self, dim: int, num_heads: int, eta: float = 1.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = TokenMixing(dim, num_heads)
        self.gamma1 = nn.Parameter(eta * torch.ones(dim))
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.mlp = ChannelProcessing(dim, num_heads, dim * MLP_RATIO)
        self.gamma2 = nn.Parameter(eta * torch.ones(dim))

    def forward(self, x: Tensor, height: int, width: int) -> Tensor:
        x = x + self.gamma1 * self.attn(self.norm1(x))
        return x + self.gamma2 * self.mlp(self.norm2(x), height, width)


class FANTiny2X(nn.Module):
    """[B, C, H, W] -> [B, 192, H/8, W/8]."""

    def __init__(self, in_channels: int, input_height: int, input_width: int) -> None:
        super().__init__()
        self.input_size = (input_height, input_width)
        self.patch_embed = HybridEmbed(in_channels)
        self.pos_embed = PositionalEncodingFourier()
        self.blocks = nn.ModuleList([FANBlock(EMBED_DIM, NUM_HEADS) for _ in range(NUM_BLOCKS)])
        self.norm = nn.LayerNorm(EMBED_DIM, eps=LN_EPS)

    def forward(self, x: Tensor) -> Tensor:
        tokens, height, width = self.patch_embed(x)
        pos = self.pos_embed(height, width, x.device).flatten(2).transpose(1, 2)
        tokens = tokens + pos
        for block in self.blocks:
            tokens = block(tokens, height, width)
        tokens = self.norm(tokens)
        return tokens.transpose(1, 2).reshape(tokens.size(0), -1, height, width)
