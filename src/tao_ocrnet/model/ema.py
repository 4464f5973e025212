# SPDX-License-Identifier: Apache-2.0
"""Exponential moving average of the model's weights (train.model_ema)."""

from __future__ import annotations

import copy
import math
from typing import Generic, Self, TypeVar

import torch
from torch import Tensor, nn

ModelT = TypeVar("ModelT", bound=nn.Module)


class ModelEMA(nn.Module, Generic[ModelT]):
    """An eval-mode copy of the model whose parameters track an EMA of the trained ones.

    decay(n) = 0.9999 * (1 - exp(-n / 2000)) after n updates: the ramp lets the average follow the
    fast early changes. Floating-point parameters are averaged; buffers (BatchNorm statistics, TPS
    grids, counters) are copied from the live model.

    Assigned as `self.model_ema` in a LightningModule, its weights appear in checkpoints as
    `model_ema.module.*` (which `checkpoint.load_model_file(..., use_ema=True)` reads) and Lightning
    moves it with the module. Its parameters never require grad; keep them out of the optimiser by
    building it from `self.model.parameters()` only.
    """

    updates: Tensor

    def __init__(self, model: ModelT, decay: float = 0.9999, tau: float = 2000.0, updates: int = 0) -> None:
        super().__init__()
        self.module: ModelT = copy.deepcopy(model).eval()
        for param in self.module.parameters():
            param.requires_grad_(False)
        self.decay = decay
        self.tau = tau
        # A buffer so that resuming from a checkpoint continues the decay ramp.
        self.register_buffer("updates", torch.tensor(updates, dtype=torch.long))

    def current_decay(self) -> float:
        return self.decay * (1.0 - math.exp(-int(self.updates) / self.tau))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Call after every optimiser step with the trained model."""
        self.updates += 1
        d = self.current_decay()
        live_params = dict(model.named_parameters())
        for name, ema_param in self.module.named_parameters():
            src = live_params[name].detach()
            if ema_param.dtype.is_floating_point:
                ema_param.mul_(d).add_(src.to(ema_param.dtype), alpha=1.0 - d)
            else:
                ema_param.copy_(src)
        live_buffers = dict(model.named_buffers())
        for name, ema_buffer in self.module.named_buffers():
            ema_buffer.copy_(live_buffers[name])

    def train(self, mode: bool = True) -> Self:
        """The averaged copy always stays in eval mode (no BN statistic updates, no dropout)."""
        super().train(mode)
        self.module.eval()
        return self

    def forward(self, *args: object, **kwargs: object) -> Tensor:
        return self.module(*args, **kwargs)
