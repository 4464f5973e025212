# SPDX-License-Identifier: Apache-2.0
"""`ocrnet train` (and retrain, when `model.pruned_graph_path` is set) with PyTorch Lightning."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger

from tao_ocrnet.actions.common import RunContext, cli_main
from tao_ocrnet.actions.distributed import (
    Processes,
    SeedAcrossRanks,
    check_slurm_allocation,
    processes,
    ranks_stopped_on_failure,
    share_cores,
    strategy,
)
from tao_ocrnet.actions.progress_log import ProgressLog
from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.data.charset import load_charset
from tao_ocrnet.data.datamodule import OCRDataModule
from tao_ocrnet.errors import ModelFileError, SpecError
from tao_ocrnet.model.checkpoint import (
    check_training_checkpoint,
    load_model_file,
    load_pretrained_partial,
    resolve_model_path,
    save_model_file,
)
from tao_ocrnet.model.lit_module import OCRNetLitModule
from tao_ocrnet.model.ocrnet import OCRNet, build_model
from tao_ocrnet.model.precision import training_precision
from tao_ocrnet.results.checkpoints import (
    BEST_NAME,
    LATEST_NAME,
    LATEST_STEM,
    PERIODIC_TEMPLATE,
    parse_periodic,
    periodic_checkpoints,
    periodic_name,
)

log = logging.getLogger(__name__)


def _callbacks(ctx: RunContext):
    """Lightning callbacks: periodic + latest checkpoints, best_accuracy.pth, status.json lines."""
    t = ctx.spec.train
    by_epoch = t.checkpoint_interval_unit == "epoch"
    periodic = ModelCheckpoint(
        dirpath=ctx.results_dir,
        filename=PERIODIC_TEMPLATE,
        auto_insert_metric_name=False,
        save_top_k=-1,
        save_last="link",
        # A resumed run re-points ocr_model_latest.pth (and rewrites a name it saves again) instead of adding
        # ocr_model_latest-v1.pth beside a stale link.
        enable_version_counter=False,
        save_on_train_epoch_end=True,
        every_n_epochs=t.checkpoint_interval if by_epoch else None,
        every_n_train_steps=None if by_epoch else t.checkpoint_interval,
    )
    periodic.CHECKPOINT_NAME_LAST = LATEST_STEM
    periodic.FILE_EXTENSION = ".pth"

    class StatusAndBest(pl.Callback):
        """Writes a KPI line per validation and keeps best_accuracy.pth (state kept across resume)."""

        def __init__(self) -> None:
            self.best = -1.0

        def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            loss = trainer.callback_metrics.get("train_loss_epoch")
            if trainer.is_global_zero and loss is not None:
                ctx.status.write(
                    "RUNNING",
                    f"Train epoch {trainer.current_epoch} finished.",
                    kpi={"train_loss": float(loss)},
                    epoch=trainer.current_epoch,
                )

        def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            if not trainer.is_global_zero or trainer.sanity_checking:
                return
            assert isinstance(module, OCRNetLitModule)  # the module `train` fits
            val = module.last_validation
            if not val:
                return
            ctx.status.write("RUNNING", "Eval metrics generated.", kpi=val, epoch=trainer.current_epoch)
            improved = val["val_acc"] > self.best
            if improved:
                self.best = val["val_acc"]
                save_model_file(
                    ctx.results_dir / BEST_NAME,
                    module.eval_model_copy(),
                    module.arch,
                    val_acc=val["val_acc"],
                    epoch=trainer.current_epoch,
                    step=trainer.global_step,
                )
            lines = [
                f"[{trainer.current_epoch}/{trainer.max_epochs}] Valid loss: {val['val_loss']:.5f}, "
                f"Current_accuracy: {100 * val['val_acc']:.3f}, Best_accuracy: {100 * self.best:.3f}, "
                f"Current_norm_ED: {val['norm_ed']:.4f}"
            ]
            lines += [f"{gt:25s} | {pred:25s} | {conf:.4f} | {gt == pred}" for gt, pred, conf in module.samples[:5]]
            with (ctx.results_dir / "log_val.txt").open("a", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")

        def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            # A run can end between two periodic checkpoints (a step interval, or an epoch count that is
            # not a multiple of the interval): save its last steps too, and point the latest link there.
            saved = periodic_checkpoints(ctx.results_dir)
            last = parse_periodic(saved[-1].name) if saved else None  # every listed name parses
            # Rank zero wrote the files, so its view decides: every rank must take part in the save, or none.
            if trainer.strategy.broadcast(last is not None and last[1] == trainer.global_step, src=0):
                return
            final = ctx.results_dir / periodic_name(max(trainer.current_epoch - 1, 0), trainer.global_step)
            trainer.save_checkpoint(final)  # every rank takes part; rank zero writes
            if trainer.is_global_zero:
                link = ctx.results_dir / f".{LATEST_NAME}.tmp"
                link.unlink(missing_ok=True)
                link.symlink_to(final.name)
                os.replace(link, ctx.results_dir / LATEST_NAME)

        def on_fit_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            # Periodic checkpoints are written at the end of an epoch's training, before its validation,
            # so a resumed run may hold a stale `best`: best_accuracy.pth records the real one.
            if trainer.ckpt_path and (ctx.results_dir / BEST_NAME).is_file():
                self.best = max(self.best, recorded_val_acc(ctx.results_dir / BEST_NAME))

        def state_dict(self) -> dict[str, Any]:
            return {"best": self.best}

        def load_state_dict(self, state_dict: dict[str, Any]) -> None:
            self.best = float(state_dict.get("best", -1.0))

    return [periodic, StatusAndBest(), ProgressLog()]


def recorded_val_acc(path: Path) -> float:
    """The val_acc stored in a best_accuracy.pth (-1 when absent or unreadable)."""
    try:
        return float(torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("val_acc", -1.0))
    except Exception:
        return -1.0


def _initial_model(ctx: RunContext, charset: tuple[str, ...]) -> tuple[OCRNet, ModelArch]:
    """Build the network: pruned graph (retrain) > fresh; pretrained weights copied where shapes match."""
    spec = ctx.spec
    if spec.model.pruned_graph_path:
        model, arch, _ = load_model_file(
            spec.model.pruned_graph_path,
            allow_pickle=ctx.allow_pickle,
            expected_charset=charset,
            key="model.pruned_graph_path",
            allow_quantized=False,
        )
        if spec.train.pretrained_model_path:
            log.warning("train.pretrained_model_path is ignored when model.pruned_graph_path is set (retrain)")
        # The loader returns eval mode; Lightning keeps submodule modes, so BN would stay frozen in retrain.
        return model.train(), arch
    arch = ModelArch.from_spec(spec.model, charset, spec.dataset.max_label_length)
    model = build_model(arch)
    if spec.train.pretrained_model_path:
        path = resolve_model_path(spec.train.pretrained_model_path, key="train.pretrained_model_path")
        loaded, skipped = load_pretrained_partial(model, path, allow_pickle=ctx.allow_pickle, arch=arch)
        _report_pretrained(path, model, arch, loaded, skipped)
    return model, arch


def _report_pretrained(path: Path, model: OCRNet, arch: ModelArch, loaded: list[str], skipped: list[str]) -> None:
    """INFO when every tensor of the model came from the file; else a WARNING naming what did not."""
    key = "train.pretrained_model_path"
    if not loaded:
        raise ModelFileError(
            f"{key}: {path} shares no tensor (name and shape) with this model ({arch.backbone}, {arch.prediction}, "
            f"TPS={arch.tps}); it is not a pretrained OCRNet for these model settings"
        )
    fresh = sorted(set(model.state_dict()) - set(loaded))
    if not fresh and not skipped:
        log.info("pretrained weights: %d tensors loaded, 0 skipped (shape mismatch or absent)", len(loaded))
        return
    reshaped = len(set(skipped) & set(fresh))
    unknown = sorted(set(skipped) - set(fresh))
    log.warning(
        "pretrained weights: only %d of the model's %d tensors loaded from %s; %d keep their random initialisation "
        "(%s)%s%s. Check that %s was trained with these model settings",
        len(loaded),
        len(loaded) + len(fresh),
        path,
        len(fresh),
        _first(fresh),
        f"; {reshaped} of them have another shape in the file" if reshaped else "",
        f"; {len(unknown)} tensors of the file match no tensor of the model ({_first(unknown)})" if unknown else "",
        key,
    )


def _first(names: list[str], n: int = 8) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "") if names else "none"


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest readable training checkpoint in `folder` by (epoch, step) in its name.

    A run killed while saving can leave a torn file or a stale `ocr_model_latest.pth` link, so each
    candidate is opened before it is trusted, newest first.
    """
    candidates = list(reversed(periodic_checkpoints(folder)))
    latest = folder / LATEST_NAME
    if latest.exists():
        candidates.append(latest)
    for path in candidates:
        try:
            torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception as exc:  # torn or foreign file: try the next one
            log.warning("not resuming from %s: %s", path, exc)
            continue
        return path
    return None


def _resume_path(ctx: RunContext, module: OCRNetLitModule) -> str | None:
    """The checkpoint to resume from, checked against the module like every other model key."""
    explicit = ctx.spec.train.resume_training_checkpoint_path
    if explicit:
        if not Path(explicit).is_file():
            raise SpecError([f"`train.resume_training_checkpoint_path` = {explicit!r} does not exist"])
        check_training_checkpoint(
            explicit, module, module.arch, "train.resume_training_checkpoint_path", allow_pickle=ctx.allow_pickle
        )
        return explicit
    found = latest_checkpoint(ctx.results_dir)
    if found is not None:
        log.info("resuming from %s (the latest checkpoint in results_dir)", found)
        key = "train.results_dir (resuming from its latest checkpoint; use a new folder to start afresh)"
        check_training_checkpoint(found, module, module.arch, key, allow_pickle=ctx.allow_pickle)
        return str(found)
    return None


def _trainer_kwargs(ctx: RunContext, procs: Processes | None = None) -> dict[str, Any]:
    t = ctx.spec.train
    procs = procs or processes(t)
    hw: dict[str, Any] = {"accelerator": procs.accelerator, "devices": procs.devices, "num_nodes": procs.num_nodes}
    if procs.world_size > 1:
        hw["strategy"] = strategy(t, procs)
        if not t.use_distributed_sampler:
            log.warning("train.use_distributed_sampler=false: every rank reads the whole dataset")
    return {
        **hw,
        "max_epochs": t.num_epochs,
        "check_val_every_n_epoch": t.validation_interval,
        "num_sanity_val_steps": 0,
        "gradient_clip_val": t.clip_grad_norm or None,
        "precision": training_precision(t.precision, procs.accelerator, procs.devices),  # refused: a UserError
        "deterministic": "warn" if t.cudnn.deterministic else False,
        "benchmark": t.cudnn.benchmark,
        "use_distributed_sampler": t.use_distributed_sampler,
        "default_root_dir": str(ctx.results_dir),
        "enable_model_summary": False,
    }


def _loggers(ctx: RunContext) -> list[Logger]:
    loggers: list[Logger] = [CSVLogger(str(ctx.results_dir), name="lightning_logs")]
    w = ctx.spec.wandb
    if w.enable:
        try:
            import wandb  # noqa: F401  (optional: W&B logging only where it is installed)
        except ImportError:
            log.info("wandb.enable is true but the wandb package is not installed: W&B logging skipped")
        else:
            loggers.append(
                WandbLogger(
                    project=w.project,
                    entity=w.entity or None,
                    name=w.name,
                    tags=w.tags,
                    group=w.group or None,
                    id=w.run_id or None,
                    save_dir=str(ctx.results_dir),
                )
            )
    return loggers


def train(ctx: RunContext) -> dict[str, Any]:
    spec = ctx.spec
    if spec.model.quantize:
        raise SpecError(
            [
                "`model.quantize` (QAT) is not supported by this trainer; train in float and use "
                "`ocrnet quantize` (post-training) instead, or set model.quantize=false"
            ]
        )
    if spec.model.quantize_model_path:
        log.warning("model.quantize_model_path is ignored (the reference never reads it either)")
    procs = processes(spec.train)  # a device or allocation the spec cannot use is refused before any work
    check_slurm_allocation(procs)
    if procs.accelerator == "cpu" and procs.per_node > 1:
        share_cores(procs)
    if spec.train.seed >= 0:
        pl.seed_everything(spec.train.seed, workers=True)
    else:
        pl.seed_everything(random.randrange(2**31), workers=True)
    charset = load_charset(spec.dataset.character_list_file)
    model, arch = _initial_model(ctx, charset)
    module = OCRNetLitModule(
        model, arch, spec.train.optim.model_dump(), use_ema=spec.train.model_ema, channels_last=spec.train.channels_last
    )
    data = OCRDataModule(spec, arch.charset)
    callbacks = _callbacks(ctx)
    extra = [SeedAcrossRanks()] if spec.train.seed < 0 and procs.world_size > 1 else []
    trainer = pl.Trainer(callbacks=callbacks + extra, logger=_loggers(ctx), **_trainer_kwargs(ctx, procs))
    with ranks_stopped_on_failure(trainer):
        trainer.fit(module, datamodule=data, ckpt_path=_resume_path(ctx, module))
    best = callbacks[1].best
    result: dict[str, Any] = {
        "best_val_acc": best,
        "epochs": trainer.current_epoch,
        "global_step": trainer.global_step,
        "best_model": str(ctx.results_dir / BEST_NAME),
        "skipped_samples": data.filter_stats(),
    }
    ctx.status.write("RUNNING", "Training finished.", kpi={"val_acc": best} if best >= 0 else None)
    return result


main = cli_main("train", train)
