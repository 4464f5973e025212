# SPDX-License-Identifier: Apache-2.0
"""Helpers shared by the benchmark scripts (not a benchmark itself).

The scripts import this file as a sibling module (`python benchmarks/<name>.py` puts this folder
first on sys.path). Everything heavy (torch, Lightning) is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import platform
import random
import statistics
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

# The tiny test model's settings live in tests/tiny_config.py, shared with the test suite.
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))

# The small CPU configuration comes from the demo; the default architecture is the spec's default.
CHARSET = tuple("0123456789abcdefghijklmnopqrstuvwxyz")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def machine_line() -> str:
    import torch

    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (
        f"machine: {os.cpu_count()} CPU(s), {platform.machine()}, Python {platform.python_version()}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} intra-op threads), "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def header(title: str, args: Any) -> None:
    print(f"== {title} ({time.strftime('%Y-%m-%d %H:%M')})")
    print(machine_line())
    opts = ", ".join(f"{k}={v}" for k, v in sorted(vars(args).items()))
    print(f"options: {opts}")
    sys.stdout.flush()


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain fixed-width table on stdout (floats to 3 significant digits past the point)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            if v != v:  # nan
                return "-"
            return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
        return str(v)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) if text else len(h) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in text:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    sys.stdout.flush()


def verdict(name: str, measured: float, target: float, unit: str = "x", higher_is_better: bool = True) -> bool:
    """Print one `PASS` / `MISS` line; never raises (benchmarks always exit 0)."""
    ok = measured >= target if higher_is_better else measured <= target
    cmp = ">=" if higher_is_better else "<="
    print(f"{'PASS' if ok else 'MISS'}: {name}: measured {measured:.3f}{unit} (target {cmp} {target:g}{unit})")
    sys.stdout.flush()
    return ok


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence progress bars (stderr), Python warnings and library logging inside the block."""
    stderr = io.StringIO()
    levels = {}
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric", "tao_ocrnet"):
        lg = logging.getLogger(name)
        levels[name] = lg.level
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(stderr):
            warnings.simplefilter("ignore")
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


class SpeedProbe:
    """Times a fixed torch workload now and then, to flag runs where the machine's speed changed.

    The benchmarks compare variants side by side, which cancels steady background load; but when
    other work starts and stops mid-run (e.g. other VMs on the host: this shows up as our own CPU
    time inside the guest) single figures swing by 10x and more. A spread above `limit` says so.
    """

    def __init__(self, limit: float = 1.5) -> None:
        self.limit = limit
        self.samples: list[float] = []

    def sample(self) -> float:
        import torch

        a = torch.ones(384, 384)
        started = time.perf_counter()
        for _ in range(12):
            a = torch.mm(a, a).clamp_(-1.0, 1.0)
        ms = (time.perf_counter() - started) * 1e3
        self.samples.append(ms)
        return ms

    def report(self) -> None:
        if len(self.samples) < 2:
            return
        lo, hi = min(self.samples), max(self.samples)
        spread = hi / lo
        line = (
            f"machine speed probe: {len(self.samples)} samples, {lo:.1f}-{hi:.1f} ms (median "
            f"{median(self.samples):.1f} ms), spread {spread:.2f}x"
        )
        if spread > self.limit:
            line += (
                f" > {self.limit:g}x: the machine's speed changed during the run (other load); single figures are "
                "unreliable, side-by-side ratios less so; rerun when the machine is quiet"
            )
            print("WARNING: " + line)
        else:
            print(line)
        sys.stdout.flush()


def synth(out: Path, num_train: int, num_test: int, seed: int = 0, *, fonts_split: bool = False) -> Any:
    """`generate_dataset` with its progress bars silenced (2 worker processes: the machine's cores)."""
    from tao_ocrnet.data.synth.generate import generate_dataset

    with quiet():
        return generate_dataset(
            out, num_train=num_train, num_test=num_test, seed=seed, fonts_split=fonts_split, workers=2
        )


def arch_for(model_section: dict[str, Any], charset: Sequence[str] = CHARSET, max_label_length: int = 25) -> Any:
    """A `ModelArch` from a spec `model:` section (the spec's defaults fill the rest)."""
    from tao_ocrnet.config.arch import ModelArch
    from tao_ocrnet.config.spec import ExperimentSpec

    spec = ExperimentSpec.model_validate({"model": dict(model_section)})
    return ModelArch.from_spec(spec.model, charset, max_label_length)


def cpu_model_section() -> dict[str, Any]:
    from tao_ocrnet.actions.demo import CPU_MODEL

    return dict(CPU_MODEL)


def random_batches(
    num: int, batch: int, shape: tuple[int, int, int], seed: int = 0, charset: Sequence[str] = CHARSET
) -> list[tuple[Any, list[str]]]:
    """`num` pre-collated (images [B, C, H, W] in [-1, 1], labels) batches, like `collate_labeled` output."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    out = []
    for _ in range(num):
        images = torch.rand((batch, *shape), generator=gen) * 2 - 1
        labels = ["".join(rng.choice(charset) for _ in range(rng.randint(3, 12))) for _ in range(batch)]
        out.append((images, labels))
    return out


def adadelta(params: Any, optim: dict[str, Any]) -> Any:
    """The optimizer `OCRNetLitModule.configure_optimizers` builds for `name: adadelta`."""
    import torch

    return torch.optim.Adadelta(params, lr=optim["lr"], rho=0.95, eps=1e-8, weight_decay=optim["weight_decay"])


def default_optim() -> dict[str, Any]:
    """The spec's default `train.optim` section (Adadelta, lr 1.0, weight decay 5e-4)."""
    from tao_ocrnet.config.spec import OptimConfig

    return OptimConfig().model_dump()


def plain_step(model: Any, codec: Any, optimizer: Any, images: Any, labels: list[str], clip: float) -> Any:
    """One plain PyTorch training step: encode, forward, codec loss, backward, clip, Adadelta step."""
    import torch

    targets, lengths = codec.encode(labels, device=images.device)
    logits = model(images, targets, is_train=True) if model.arch.prediction == "Attn" else model(images)
    loss = codec.loss(logits, targets, lengths)
    optimizer.zero_grad()
    loss.backward()
    if clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.detach()


def plain_train(model: Any, codec: Any, optimizer: Any, loader: Any, clip: float) -> list[float]:
    """The plain PyTorch loop over `loader`; returns perf_counter() after each optimizer step."""
    model.train()
    ends: list[float] = []
    for images, labels in loader:
        plain_step(model, codec, optimizer, images, labels, clip)
        ends.append(time.perf_counter())
    return ends


def step_times(ends: Sequence[float], warmup: int) -> list[float]:
    """Durations of the steps after the warm-up (from consecutive end times)."""
    if warmup < 1 or len(ends) - warmup < 1:
        raise ValueError("need at least one warm-up step and one measured step")
    return [b - a for a, b in zip(ends[warmup - 1 : -1], ends[warmup:], strict=True)]


def steady_rate(ends: Sequence[float], warmup: int, batch: int) -> float:
    """Images/s from the median duration of the post-warm-up steps.

    The median (not the mean) so that a burst of load from another process during one step does
    not decide the figure; each step is timed end to end, so per-step overhead is included.
    """
    return batch / median(step_times(ends, warmup))
