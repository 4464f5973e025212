# SPDX-License-Identifier: Apache-2.0
"""Cores shared by jobs: images/s of two tiny-model trainings side by side, all the cores each vs a share each.

Each training is its own process, as two jobs are: the plain training step (`_common.plain_step`) of the
tiny test model (`tests/tiny_config.py`: feature_channel 16, hidden 16, batch 16, Adam 1e-3, clip 5) on
pre-collated in-memory batches (the loader is not measured), for a fixed time after a warm-up. Its threads
come from OMP_NUM_THREADS, which is how the job runner gives a job its share (`jobs/queue.py`). Variants,
interleaved in every round because the machine is shared:

- alone: one training with all the cores (the reference);
- 2 x all: two side by side with all the cores each (every job before the job limit: the two processes'
  OpenMP threads spin against each other on the same cores);
- 2 x share: two side by side with cores // 2 threads each (what the runner gives with 2 jobs at once).

Per process: batch / median step time over the measured window; the table shows each process's figure
(median over the rounds) and the two processes' sum. Figures are printed, not asserted.

    python benchmarks/bench_job_cores.py [--quick] [--rounds N] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import _common as C

BATCH = 16
CLIP = 5.0


def child(seconds: float, warmup: int) -> None:
    """One training: set up, wait for the word on stdin (so that both start together), train, print JSON."""
    import torch

    from tao_ocrnet.model.codec import make_codec
    from tao_ocrnet.model.ocrnet import build_model

    from tiny_config import TINY_MODEL

    torch.manual_seed(0)
    arch = C.arch_for(TINY_MODEL)
    model = build_model(arch).train()
    codec = make_codec(arch)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    shape = (arch.input_channel, arch.input_height, arch.input_width)
    batches = C.random_batches(8, BATCH, shape, seed=os.getpid())
    sys.stdin.readline()
    ends: list[float] = []
    stop = None
    while stop is None or time.perf_counter() < stop:
        images, labels = batches[len(ends) % len(batches)]
        C.plain_step(model, codec, optimizer, images, labels, CLIP)
        ends.append(time.perf_counter())
        if len(ends) == warmup:
            stop = ends[-1] + seconds
    print(json.dumps({"threads": torch.get_num_threads(), "rate": C.steady_rate(ends, warmup, BATCH)}))


def side_by_side(threads: list[int], seconds: float, warmup: int) -> list[dict]:
    """Start one training per entry of `threads` (its OMP_NUM_THREADS), together; their results."""
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", "--seconds", str(seconds), "--warmup", str(warmup)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "OMP_NUM_THREADS": str(n), "MKL_NUM_THREADS": str(n)},
        )
        for n in threads
    ]  # fmt: skip
    time.sleep(8.0)  # their imports and set-up (a few seconds), before either starts training
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=seconds * 10 + 300)
        if proc.returncode != 0:
            raise RuntimeError(f"a training process failed (exit code {proc.returncode})")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 5 s")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured training time per process")
    parser.add_argument("--warmup", type=int, default=10, help="steps before the measured window")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.seconds, args.warmup)
        return 0
    if args.quick:
        args.rounds, args.seconds = 1, 5.0
    C.header("cores shared by two training jobs", args)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    share = max(1, cores // 2)
    variants = {
        f"alone, {cores} thread(s)": [cores],
        f"2 side by side, {cores} thread(s) each": [cores, cores],
        f"2 side by side, {share} thread(s) each": [share, share],
    }
    probe = C.SpeedProbe()
    rates: dict[str, list[list[float]]] = {name: [] for name in variants}
    for round_ in range(args.rounds):
        names = list(variants) if round_ % 2 == 0 else list(reversed(variants))
        for name in names:
            probe.sample()
            results = side_by_side(variants[name], args.seconds, args.warmup)
            assert [r["threads"] for r in results] == variants[name], results  # OMP_NUM_THREADS reached torch
            rates[name].append([r["rate"] for r in results])
            print(f"round {round_ + 1} {name}: " + ", ".join(f"{r['rate']:.0f}" for r in results) + " images/s")
            sys.stdout.flush()
    probe.sample()
    rows = []
    for name, per_round in rates.items():
        each = [C.median([r[i] for r in per_round]) for i in range(len(per_round[0]))]
        total = C.median([sum(r) for r in per_round])
        rows.append((name, " / ".join(f"{v:.0f}" for v in each), total))
    C.table(("variant", "images/s per process (median)", "sum images/s (median)"), rows)
    probe.report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
