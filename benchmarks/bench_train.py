# SPDX-License-Identifier: Apache-2.0
"""Training throughput: the Lightning path (`OCRNetLitModule` in a `pl.Trainer`) vs a plain PyTorch loop.

Two architectures: the spec default (ResNet, feature_channel 512, hidden 256, BiLSTM, CTC, 1x32x100)
and the demo's small CPU config (`tao_ocrnet.actions.demo.CPU_MODEL`). Both paths start from the
same weights and see the same pre-collated in-memory batches (random images in [-1, 1], random
labels: the data loader is not measured here), with Adadelta at the spec's defaults, the codec's
loss and gradient clipping at 5.0. The Trainer is configured as `ocrnet train` configures it
(`actions.train._trainer_kwargs`) minus validation, checkpoints, logger and progress bar.

Side by side at step granularity: after every Lightning step, a callback runs one plain step (a
second copy of the model with its own optimizer) on the same batch, so the two alternate step by
step and load from other processes hits both alike. A Lightning step is the time from the end of
the previous plain step to the end of this Lightning step (fetching the batch, hooks, logging,
training_step, backward, clipping, optimizer: all of Lightning's per-step work); a plain step is
timed end to end. The first `--warmup` pairs of each round (a fresh Trainer each) are dropped;
throughput is batch / median step time; the Lightning/plain ratio is the median over all timed pairs
(each pair is adjacent in time, so load that comes and goes cancels); per-round ratios are shown too.
Target: Lightning >= 0.95x plain.

    python benchmarks/bench_train.py [--quick] [--rounds N] [--configs default,small]
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import _common as C

TARGET = 0.95
PROBE = C.SpeedProbe()


def _identity(batch: Any) -> Any:
    return batch


def _trainer_kwargs(root: Path, clip: float) -> tuple[dict[str, Any], str]:
    """What `ocrnet train` passes to pl.Trainer on a CPU (read from the action when possible)."""
    from tao_ocrnet.config.spec import ExperimentSpec

    spec = ExperimentSpec.model_validate({"train": {"num_gpus": 0, "clip_grad_norm": clip}})
    try:
        from tao_ocrnet.actions.train import _trainer_kwargs as action_kwargs

        kwargs = dict(action_kwargs(SimpleNamespace(spec=spec, results_dir=root)))
        source = "actions.train._trainer_kwargs"
    except (ImportError, AttributeError, TypeError):  # the private helper moved: a hand-written copy
        kwargs = {
            "accelerator": "cpu",
            "devices": 1,
            "gradient_clip_val": clip or None,
            "deterministic": "warn",
            "benchmark": False,
        }
        source = "built-in copy of ocrnet train's settings"
    kwargs.pop("check_val_every_n_epoch", None)
    kwargs.update(
        {
            "default_root_dir": str(root),
            "logger": False,
            "enable_checkpointing": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "limit_val_batches": 0,
            "num_sanity_val_steps": 0,
            "max_epochs": 1,
        }
    )
    return kwargs, source


def run_round(
    model0: Any,
    arch: Any,
    optim: dict,
    batches: list,
    warmup: int,
    root: Path,
    clip: float,
    deterministic: Any = None,
) -> dict:
    """One Trainer.fit with a plain step after every Lightning step; per-step durations of both.

    `deterministic` (not None) replaces the Trainer's `deterministic` setting (a diagnostic variant).
    """
    import pytorch_lightning as pl
    import torch
    from torch.utils.data import DataLoader

    from tao_ocrnet.model.codec import make_codec
    from tao_ocrnet.model.lit_module import OCRNetLitModule

    plain_model = copy.deepcopy(model0).train()
    plain_opt = C.adadelta([p for p in plain_model.parameters() if p.requires_grad], optim)
    codec = make_codec(arch)

    class Pairs(pl.Callback):
        def __init__(self) -> None:
            self.light: list[float] = []
            self.plain: list[float] = []
            self.mark: float | None = None
            self.threads = -1

        def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.threads = torch.get_num_threads()

        def on_train_batch_end(
            self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            light_end = time.perf_counter()
            if self.mark is not None:
                self.light.append(light_end - self.mark)
            images, labels = batch
            # Trainer(deterministic=...) flips a process-wide switch; the plain step runs without it.
            state = (
                torch.are_deterministic_algorithms_enabled(),
                torch.is_deterministic_algorithms_warn_only_enabled(),
            )
            torch.use_deterministic_algorithms(False)
            with torch.enable_grad():
                C.plain_step(plain_model, codec, plain_opt, images, labels, clip)
            torch.use_deterministic_algorithms(state[0], warn_only=state[1])
            self.mark = time.perf_counter()
            self.plain.append(self.mark - light_end)

    class InMemoryData(pl.LightningDataModule):
        def train_dataloader(self) -> Any:
            # batch_size=None: every item already is a collated (images, labels) batch.
            return DataLoader(batches, batch_size=None, shuffle=False, num_workers=0, collate_fn=_identity)

    kwargs, _ = _trainer_kwargs(root, clip)
    kwargs["max_steps"] = len(batches)
    if deterministic is not None:
        kwargs["deterministic"] = deterministic
    pairs = Pairs()
    was = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    module = OCRNetLitModule(copy.deepcopy(model0), arch, optim)
    started = time.perf_counter()
    try:
        with C.quiet():
            trainer = pl.Trainer(callbacks=[pairs], **kwargs)
            trainer.fit(module, datamodule=InMemoryData())
    finally:
        torch.use_deterministic_algorithms(was[0], warn_only=was[1])
    total = time.perf_counter() - started
    batch = len(batches[0][1])
    # light[i] is Lightning step i + 1 (step 0 includes the fit set-up); plain[i] is plain step i.
    light = pairs.light[warmup - 1 :]
    plain = pairs.plain[warmup:]
    return {
        "plain": batch / C.median(plain),
        "lightning": batch / C.median(light),
        "pair_ratios": [p / q for p, q in zip(plain, light, strict=False)],
        "fit_overhead": total - sum(pairs.light) - sum(pairs.plain),  # set-up, first step, teardown
        "threads": pairs.threads,
    }


def bench_config(name: str, section: dict, batch: int, steps: int, args: argparse.Namespace, root: Path) -> list[dict]:
    """The config's row, plus a `deterministic=False` row with --compare-deterministic."""
    import torch

    from tao_ocrnet.model.ocrnet import build_model, count_parameters

    arch = C.arch_for(section)
    model0 = build_model(arch)
    optim = C.default_optim()
    batches = C.random_batches(args.warmup + steps, batch, (arch.input_channel, arch.input_height, arch.input_width))
    variants: dict[str, Any] = {name: None}
    if args.compare_deterministic:
        variants[f"{name}, Trainer deterministic=False"] = False
    rounds: dict[str, list[dict]] = {v: [] for v in variants}
    for r in range(args.rounds):
        for label, deterministic in variants.items():
            PROBE.sample()
            got = run_round(model0, arch, optim, batches, args.warmup, root, args.clip, deterministic)
            got["ratio"] = got["lightning"] / got["plain"]
            rounds[label].append(got)
            print(
                f"  {label} round {r + 1}/{args.rounds}: plain {got['plain']:.1f} img/s, lightning "
                f"{got['lightning']:.1f} img/s, ratio {got['ratio']:.3f} (pairs "
                f"{C.median(got['pair_ratios']):.3f}); fit set-up + first step + teardown {got['fit_overhead']:.1f} s"
            )
            sys.stdout.flush()
    return [
        {
            "config": label,
            "params": count_parameters(model0),
            "batch": batch,
            "pairs": sum(len(g["pair_ratios"]) for g in got_rounds),
            "plain": C.median([g["plain"] for g in got_rounds]),
            "lightning": C.median([g["lightning"] for g in got_rounds]),
            "ratios": [g["ratio"] for g in got_rounds],
            "pair_ratio": C.median([x for g in got_rounds for x in g["pair_ratios"]]),
            "threads": (torch.get_num_threads(), got_rounds[-1]["threads"]),
        }
        for label, got_rounds in rounds.items()
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer, smaller steps (~30 s)")
    p.add_argument("--configs", default="default,small", help="comma list of: default, small")
    p.add_argument("--rounds", type=int, default=None, help="rounds, a fresh Trainer each (3; quick 2)")
    p.add_argument("--warmup", type=int, default=None, help="step pairs excluded from timing (2; quick 1)")
    p.add_argument("--batch-default", type=int, default=None, help="batch, default arch (16 = spec default; quick 8)")
    p.add_argument("--batch-small", type=int, default=64, help="batch, small CPU config (64, as the demo)")
    p.add_argument("--steps-default", type=int, default=None, help="timed step pairs, default arch (6; quick 2)")
    p.add_argument("--steps-small", type=int, default=None, help="timed step pairs, small config (15; quick 6)")
    p.add_argument("--clip", type=float, default=5.0, help="gradient clipping by norm (spec default 5.0)")
    p.add_argument("--target", type=float, default=TARGET, help="Lightning / plain throughput target")
    p.add_argument(
        "--compare-deterministic",
        action="store_true",
        help="diagnostic: also run Lightning with Trainer(deterministic=False) (ocrnet train passes 'warn')",
    )
    p.add_argument(
        "--threads", type=int, default=None, help="diagnostic: torch.set_num_threads(N) (default: left alone)"
    )
    args = p.parse_args(argv)
    if args.warmup is not None and args.warmup < 1:
        p.error("--warmup must be at least 1 (the first Lightning step includes the fit set-up)")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    q = args.quick
    fill = {"rounds": 2 if q else 3, "warmup": 1 if q else 2, "batch_default": 8 if q else 16}
    fill |= {"steps_default": 2 if q else 6, "steps_small": 6 if q else 15}
    for key, value in fill.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    C.header("bench_train: Lightning vs plain PyTorch training throughput", args)
    import torch

    torch.manual_seed(0)
    configs = {
        "default": ({}, args.batch_default, args.steps_default),
        "small": (C.cpu_model_section(), args.batch_small, args.steps_small),
    }
    wanted = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in configs]
    if unknown:
        p.error(f"unknown config(s) {unknown}; use default, small")
    print(f"trainer kwargs from: {_trainer_kwargs(Path('.'), args.clip)[1]}")
    PROBE.samples.clear()
    rows = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_train_") as tmp:
        for name in wanted:
            section, batch, steps = configs[name]
            rows += bench_config(name, section, batch, steps, args, Path(tmp))
    print()
    C.table(
        ["config", "params", "batch", "pairs", "plain img/s", "lightning img/s", "ratio", "per round"],
        [
            [
                r["config"],
                f"{r['params'] / 1e6:.2f}M",
                r["batch"],
                r["pairs"],
                r["plain"],
                r["lightning"],
                r["pair_ratio"],
                " ".join(f"{x:.3f}" for x in r["ratios"]),
            ]
            for r in rows
        ],
    )
    print(
        "(img/s: median over rounds; ratio: lightning/plain, median over all timed step pairs; per round: "
        "ratio of the round's median step times)"
    )
    for r in rows:
        if r["threads"][0] != r["threads"][1]:
            print(f"note: {r['config']}: torch threads differ: plain {r['threads'][0]}, in Lightning {r['threads'][1]}")
    PROBE.sample()
    PROBE.report()
    print()
    for r in rows:
        if "deterministic=False" not in r["config"]:
            C.verdict(f"{r['config']}: Lightning / plain training throughput", r["pair_ratio"], args.target)
        else:
            print(f"info: {r['config']}: Lightning / plain {r['pair_ratio']:.3f}x (diagnostic, not the target)")
    print(f"total time {time.monotonic() - started:.0f} s; {C.machine_line().split(', load ')[1]} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
