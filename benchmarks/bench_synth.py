# SPDX-License-Identifier: Apache-2.0
"""The synthetic generator's speed beside the training it feeds, measured in one run.

Crops/s of `ocrnet synth` (render + encode + write, the real path) with 1 and 2 processes, with the system
wallpapers as photo backgrounds and with procedural backgrounds only; then the training images/s of the shipped
CPU config (batch 64, fp32, 2 threads) on random batches. The recipe renders ahead of training; rendering never
starves it when the two cores render at least as many crops per second as they train on. A first run also fills
the wallpaper cache (~0.3 s per 4K photograph, once).

    python benchmarks/bench_synth.py [--num N] [--steps N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import _common as C


def crops_per_s(out: Path, num: int, workers: int, backgrounds: list[str] | None) -> float:
    from tao_ocrnet.data.synth.generate import generate_dataset

    started = time.perf_counter()
    with C.quiet():
        generate_dataset(out, num, 0, seed=5, workers=workers, backgrounds=backgrounds, overwrite=True)
    return num / (time.perf_counter() - started)


def train_images_per_s(steps: int) -> float:
    import torch

    from tao_ocrnet.model.codec import make_codec
    from tao_ocrnet.model.ocrnet import build_model

    torch.set_num_threads(2)
    arch = C.arch_for(C.cpu_model_section())
    model = build_model(arch)
    codec = make_codec(arch)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = C.random_batches(steps + 3, 64, (arch.input_channel, arch.input_height, arch.input_width))
    model.train()
    ends = []
    for images, labels in batches:
        C.plain_step(model, codec, optimizer, images, labels, 5.0)
        ends.append(time.perf_counter())
    return C.steady_rate(ends, 3, 64)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--num", type=int, default=1000, help="crops per measurement")
    p.add_argument("--steps", type=int, default=20, help="training steps measured")
    args = p.parse_args()
    C.header("synthetic generator vs training", args)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:
        crops_per_s(Path(tmp) / "warm", 50, 1, None)  # imports, font discovery
        rates = {}
        for name, backgrounds in (("photos + procedural", None), ("procedural only", [])):
            for workers in (1, 2):
                rate = crops_per_s(Path(tmp) / f"{workers}", args.num, workers, backgrounds)
                rates[(name, workers)] = rate
                rows.append([name, workers, rate])
    C.table(["backgrounds", "processes", "crops/s"], rows)
    train = train_images_per_s(args.steps)
    print(f"training, shipped CPU config, batch 64, 2 threads: {train:.0f} images/s")
    both = rates[("photos + procedural", 2)]
    print(f"two cores render {both:.0f} crops/s = {both / train:.2f}x what they train (>= 1: an epoch renders in no "
          "more time than it trains)")  # fmt: skip
    C.verdict("rendering / training, 2 cores each", both / train, 1.0, "x", True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
