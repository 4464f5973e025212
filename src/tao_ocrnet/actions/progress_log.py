# SPDX-License-Identifier: Apache-2.0
"""A training progress line in the log every so many seconds.

Lightning's progress bar is a terminal widget: a job's log file, `ocrnet jobs logs --follow` and an MCP client
reading logs saw nothing between two checkpoints, which on a CPU can be many minutes. One plain line per
interval says where the epoch is, the loss and the images/s (all ranks together).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytorch_lightning as pl

log = logging.getLogger(__name__)

EVERY_S = 60.0


def progress_line(epoch: int, step: int, steps: int, loss: float | None, images_per_s: float) -> str:
    loss_text = f"train loss {loss:.4f}, " if loss is not None else ""
    return f"epoch {epoch}: step {step} of {steps}, {loss_text}{images_per_s:.0f} images/s"


class ProgressLog(pl.Callback):
    def __init__(self, every_s: float | None = None) -> None:
        self.every_s = EVERY_S if every_s is None else every_s
        self._since = time.monotonic()
        self._images = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._since, self._images = time.monotonic(), 0

    def on_train_batch_end(
        self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._images += len(batch[1]) * trainer.world_size  # every rank reads a batch of this size
        elapsed = time.monotonic() - self._since
        if elapsed < self.every_s or not trainer.is_global_zero:
            return
        loss = trainer.callback_metrics.get("train_loss_step")
        steps = trainer.num_training_batches
        line = progress_line(
            trainer.current_epoch,
            batch_idx + 1,
            int(steps) if steps != float("inf") else 0,
            float(loss) if loss is not None else None,
            self._images / max(elapsed, 1e-9),
        )
        log.info(line)
        self._since, self._images = time.monotonic(), 0
