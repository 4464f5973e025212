# SPDX-License-Identifier: Apache-2.0
"""Stage 1 (optional): the RARE thin-plate-spline spatial transformer network.

A small CNN predicts F fiducial points on the input; a fixed TPS solve maps a regular output grid
onto the input, which is then sampled. Module and buffer names follow CLOVA
(`LocalizationNetwork`, `GridGenerator`, `inv_delta_C`, `P_hat`) so public weights line up.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_RBF_EPS = 1e-6


def _conv_bn_relu(in_ch: int, out_ch: int) -> list[nn.Module]:
    return [nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(True)]


def rare_initial_points(num_fiducial: int) -> Tensor:
    """Initial fiducials [F, 2] (the `localization_fc2` bias): a gentle arc, as RARE initialises it.

    x spreads evenly over [-1, 1]; the top row rises from 0 to -1 and the bottom row falls from 1
    to 0, so the first prediction is a valid, non-degenerate warp.
    """
    half = num_fiducial // 2
    x = torch.linspace(-1.0, 1.0, half, dtype=torch.float64)
    top = torch.stack([x, torch.linspace(0.0, -1.0, half, dtype=torch.float64)], dim=1)
    bottom = torch.stack([x, torch.linspace(1.0, 0.0, half, dtype=torch.float64)], dim=1)
    return torch.cat([top, bottom], dim=0).float()


def target_points(num_fiducial: int) -> Tensor:
    """Fixed target fiducials C [F, 2] (float64): evenly spaced along the top (y=-1) and bottom (y=1)."""
    half = num_fiducial // 2
    x = torch.linspace(-1.0, 1.0, half, dtype=torch.float64)
    top = torch.stack([x, -torch.ones(half, dtype=torch.float64)], dim=1)
    bottom = torch.stack([x, torch.ones(half, dtype=torch.float64)], dim=1)
    return torch.cat([top, bottom], dim=0)


def _rbf(sq_dist_root: Tensor) -> Tensor:
    """TPS kernel U(r) = r^2 log r."""
    return sq_dist_root.square() * torch.log(sq_dist_root)


class LocalizationNetwork(nn.Module):
    """Predicts the F fiducial points [B, F, 2] in normalised input coordinates."""

    def __init__(self, num_fiducial: int, in_channels: int) -> None:
        super().__init__()
        self.num_fiducial = num_fiducial
        # Same Sequential indices as CLOVA (conv.0, conv.1, conv.4, ...); the global pool is done
        # in forward as a mean, which exports to ONNX without a special op.
        self.conv = nn.Sequential(
            *_conv_bn_relu(in_channels, 64),
            nn.MaxPool2d(2, 2),
            *_conv_bn_relu(64, 128),
            nn.MaxPool2d(2, 2),
            *_conv_bn_relu(128, 256),
            nn.MaxPool2d(2, 2),
            *_conv_bn_relu(256, 512),
        )
        self.localization_fc1 = nn.Sequential(nn.Linear(512, 256), nn.ReLU(True))
        self.localization_fc2 = nn.Linear(256, num_fiducial * 2)
        self.reset_fc2()

    def reset_fc2(self) -> None:
        """Zero weight and RARE bias: the initial warp is fixed, whatever the image."""
        nn.init.zeros_(self.localization_fc2.weight)
        with torch.no_grad():
            self.localization_fc2.bias.copy_(rare_initial_points(self.num_fiducial).view(-1))

    def forward(self, image: Tensor) -> Tensor:
        features = self.conv(image).mean(dim=(2, 3))
        points = self.localization_fc2(self.localization_fc1(features))
        return points.view(points.size(0), self.num_fiducial, 2)


class GridGenerator(nn.Module):
    """Maps predicted fiducials C' [B, F, 2] to a sampling grid P' [B, H*W, 2] (fixed TPS solve)."""

    inv_delta_C: Tensor
    P_hat: Tensor
    grid_basis: Tensor

    def __init__(self, num_fiducial: int, output_size: tuple[int, int]) -> None:
        super().__init__()
        self.num_fiducial = num_fiducial
        self.output_size = output_size
        c = target_points(num_fiducial)
        inv_delta_c = torch.linalg.inv(self._delta_c(c))  # float64: the system is poorly conditioned
        p_hat = self._p_hat(c, *output_size)
        # The reference's buffers, kept under their names for checkpoint compatibility.
        self.register_buffer("inv_delta_C", inv_delta_c.float())
        self.register_buffer("P_hat", p_hat.float())
        # P' = P_hat @ inv_delta_C @ [C'; 0]: the three zero rows drop the last 3 columns, so one
        # [H*W, F] matrix, multiplied in float64, does the whole solve. A single float32 matmul at
        # run time is ~50x more accurate than the two-step product and exports as one MatMul.
        self.register_buffer("grid_basis", (p_hat @ inv_delta_c)[:, :num_fiducial].float(), persistent=False)

    @staticmethod
    def _delta_c(c: Tensor) -> Tensor:
        """The (F+3)x(F+3) TPS system matrix [[1, C, R], [0, C^T], [0, 1^T]]."""
        f = c.size(0)
        dist = torch.cdist(c, c)
        dist.fill_diagonal_(1.0)  # log(1) = 0 on the diagonal, as U(0) = 0
        r = _rbf(dist)
        ones = torch.ones(f, 1, dtype=c.dtype)
        return torch.cat(
            [
                torch.cat([ones, c, r], dim=1),
                torch.cat([torch.zeros(2, 3, dtype=c.dtype), c.t()], dim=1),
                torch.cat([torch.zeros(1, 3, dtype=c.dtype), torch.ones(1, f, dtype=c.dtype)], dim=1),
            ],
            dim=0,
        )

    @staticmethod
    def _p_hat(c: Tensor, height: int, width: int) -> Tensor:
        """[H*W, F+3] rows [1, x, y, U(|p - c_i|)...] for every output pixel centre p."""
        xs = (torch.arange(-width, width, 2, dtype=torch.float64) + 1.0) / width
        ys = (torch.arange(-height, height, 2, dtype=torch.float64) + 1.0) / height
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        p = torch.stack([gx, gy], dim=2).reshape(-1, 2)  # row-major over (y, x)
        dist = torch.linalg.norm(p[:, None, :] - c[None, :, :], dim=2)
        rbf = dist.square() * torch.log(dist + _RBF_EPS)
        return torch.cat([torch.ones(p.size(0), 1, dtype=p.dtype), p, rbf], dim=1)

    def forward(self, c_prime: Tensor) -> Tensor:
        return torch.matmul(self.grid_basis, c_prime)  # [H*W, F] @ [B, F, 2] -> [B, H*W, 2]


class TPSSpatialTransformer(nn.Module):
    """Rectifies the input image; the output has the input's size."""

    def __init__(self, num_fiducial: int, image_size: tuple[int, int], in_channels: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.LocalizationNetwork = LocalizationNetwork(num_fiducial, in_channels)
        self.GridGenerator = GridGenerator(num_fiducial, image_size)

    def forward(self, image: Tensor) -> Tensor:
        height, width = self.image_size
        grid = self.GridGenerator(self.LocalizationNetwork(image)).reshape(-1, height, width, 2)
        return F.grid_sample(image, grid, padding_mode="border", align_corners=True)
