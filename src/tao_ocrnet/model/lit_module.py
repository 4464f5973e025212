# SPDX-License-Identifier: Apache-2.0
"""The LightningModule: losses, optimiser and LR schedule, validation metrics, EMA.

Data loading lives in `tao_ocrnet.data.datamodule`; checkpoint files and status.json lines are
written by callbacks in `tao_ocrnet.actions.train`, so this module only computes.
"""

from __future__ import annotations

import copy
from typing import Any

import pytorch_lightning as pl
import torch

from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.model.codec import make_codec
from tao_ocrnet.model.ema import ModelEMA
from tao_ocrnet.model.metrics import norm_ed_similarity
from tao_ocrnet.model.ocrnet import OCRNet
from tao_ocrnet.model.precision import in_memory_format


class OCRNetLitModule(pl.LightningModule):
    def __init__(
        self,
        model: OCRNet,
        arch: ModelArch,
        optim: dict[str, Any],
        use_ema: bool = False,
        channels_last: bool = False,
    ):
        super().__init__()
        # `train.channels_last`: convolution weights (the only 4-D tensors) and input batches in NHWC; the saved
        # weights go back to the usual layout (`on_save_checkpoint`, `eval_model_copy`).
        self.channels_last = channels_last
        self.model = in_memory_format(model, True) if channels_last else model
        self.arch = arch
        self.optim_cfg = dict(optim)
        self.codec = make_codec(arch)
        self.model_ema = ModelEMA(model) if use_ema else None  # reference key names: model_ema.module.*
        self._val: dict[str, float] = {}
        self.samples: list[tuple[str, str, float]] = []  # a few (label, prediction, confidence) per validation

    # -- steps -------------------------------------------------------------------------------

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)

    def images_of(self, batch: tuple[torch.Tensor, list[str]]) -> torch.Tensor:
        """The batch's images in the module's memory format."""
        return batch[0].contiguous(memory_format=torch.channels_last) if self.channels_last else batch[0]

    def _loss(self, model: OCRNet, images: torch.Tensor, labels: list[str]) -> torch.Tensor:
        targets, lengths = self.codec.encode(labels, device=images.device)
        logits = model(images, targets, is_train=True) if self.arch.prediction == "Attn" else model(images)
        return self.codec.loss(logits, targets, lengths)

    def training_step(self, batch: tuple[torch.Tensor, list[str]], batch_idx: int) -> torch.Tensor:
        images, labels = self.images_of(batch), batch[1]
        loss = self._loss(self.model, images, labels)
        self.log("train_loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(labels), sync_dist=True)
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.model_ema is not None:
            self.model_ema.update(self.model)

    def _eval_model(self) -> OCRNet:
        # With EMA, val_acc (and best_accuracy.pth) belong to the averaged weights, as in the reference.
        return self.model_ema.module if self.model_ema is not None else self.model

    def on_validation_epoch_start(self) -> None:
        self._val = {"correct": 0.0, "total": 0.0, "norm_ed": 0.0, "loss": 0.0, "batches": 0.0}
        self.samples = []

    def validation_step(self, batch: tuple[torch.Tensor, list[str]], batch_idx: int) -> None:
        images, labels = self.images_of(batch), batch[1]
        model = self._eval_model()
        loss = self._loss(model, images, labels)
        texts, confidences = self.codec.predict(model(images))
        correct = [t == g for t, g in zip(texts, labels, strict=True)]
        self._val["correct"] += sum(correct)
        self._val["total"] += len(labels)
        self._val["norm_ed"] += sum(norm_ed_similarity(texts, labels))
        self._val["loss"] += float(loss) * len(labels)
        if len(self.samples) < 5:
            self.samples.extend(zip(labels[:5], texts[:5], confidences[:5], strict=True))

    def on_validation_epoch_end(self) -> None:
        # Every metric is a sum over all ranks' samples divided by their count (each sample validated once: the
        # DataModule's shards do not pad), so it equals a single-process evaluation of the same weights.
        stats = torch.tensor(
            [self._val["correct"], self._val["total"], self._val["norm_ed"], self._val["loss"]], device=self.device
        )
        if self.trainer.world_size > 1:
            gathered = self.all_gather(stats)
            assert isinstance(gathered, torch.Tensor)  # one tensor in, one stacked tensor out
            stats = gathered.reshape(-1, 4).sum(0)
        total = max(float(stats[1]), 1.0)
        self.log("val_acc", float(stats[0]) / total, prog_bar=True, sync_dist=False)
        self.log("val_acc_1", float(stats[0]) / total, sync_dist=False)  # the reference's progress alias
        self.log("norm_ed", float(stats[2]) / total, sync_dist=False)
        self.log("val_loss", float(stats[3]) / total, sync_dist=False)
        self._val_epoch = {
            "val_acc": float(stats[0]) / total,
            "val_loss": float(stats[3]) / total,
            "norm_ed": float(stats[2]) / total,
        }

    @property
    def last_validation(self) -> dict[str, float]:
        return dict(getattr(self, "_val_epoch", {}))

    # -- optimisation ------------------------------------------------------------------------

    def configure_optimizers(self) -> Any:
        o = self.optim_cfg
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer: torch.optim.Optimizer
        if o["name"] == "adam":
            # The reference ignores momentum; we use it as Adam's beta1 (same 0.9 default).
            optimizer = torch.optim.Adam(
                params, lr=o["lr"], betas=(o["momentum"], 0.999), weight_decay=o["weight_decay"]
            )
        else:
            optimizer = torch.optim.Adadelta(params, lr=o["lr"], rho=0.95, eps=1e-8, weight_decay=o["weight_decay"])
        if o["lr_scheduler"] == "AutoReduce":
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="min", factor=o["lr_decay"], patience=o["patience"], min_lr=o["min_lr"]
            )
            # strict=False: with validation_interval > 1 the monitored metric is absent on some epochs.
            return {
                "optimizer": optimizer,
                "lr_scheduler": {
                    "scheduler": plateau,
                    "monitor": o["lr_monitor"],
                    "interval": "epoch",
                    "strict": False,
                },
            }
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(o["lr_steps"]), gamma=o["lr_decay"])
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}

    # -- checkpoint content ------------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Our training checkpoints rebuild without pickled classes (weights_only-safe).
        checkpoint["format"] = "tao-ocrnet/1"
        checkpoint["arch"] = self.arch.to_dict()
        if self.channels_last:
            checkpoint["state_dict"] = {k: v.contiguous() for k, v in checkpoint["state_dict"].items()}

    def eval_model_copy(self) -> OCRNet:
        model = copy.deepcopy(self._eval_model()).eval()
        return in_memory_format(model, False) if self.channels_last else model
