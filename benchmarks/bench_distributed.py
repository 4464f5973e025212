# SPDX-License-Identifier: Apache-2.0
"""Distributed CPU training: 2 processes with 1 thread each (DDP over gloo) vs 1 process with 2 threads.

Every variant is the real `ocrnet train`: the demo's small CPU config (`CPU_MODEL`), Adam, the same synthetic raw
images, validation only after the last timed step, the loader in the training process (workers 0), and the same
global batch (2 ranks x B/2 vs 1 x B). The job gets its cores as OMP_NUM_THREADS, as the job runner gives a job
its share: 2, which `train.num_cpu_processes=2` splits into one thread per rank. 1 process x 1 thread runs too,
for reading the others. A timing callback on rank zero records the end of every training step; a step's time is
the gap between two step ends within an epoch (each epoch's first step, which includes its set-up, is dropped),
and throughput is global batch / median step time, so process start-up, rendezvous and checkpoint writes are not
measured. The order of the variants turns around every round; the ratio is taken per round and its median
reported. Target: 2 processes x 1 thread / 1 process x 2 threads > 1.

    python benchmarks/bench_distributed.py [--quick] [--rounds N] [--batch B] [--images N] [--epochs E]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

import _common as C

TARGET = 1.0
PROBE = C.SpeedProbe()
WORKER_FLAG = "--worker"


def worker(times_file: str, argv: list[str]) -> int:
    """`ocrnet <argv>` with a step clock on rank zero. Lightning starts the other rank by re-running this very
    command line, so every rank runs the same code."""
    import time

    import pytorch_lightning as pl
    import torch

    from tao_ocrnet.actions import train as train_action
    from tao_ocrnet.cli import main as cli

    class StepClock(pl.Callback):
        def __init__(self) -> None:
            self.epochs: list[list[float]] = []

        def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.epochs.append([])

        def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
            self.epochs[-1].append(time.perf_counter())

        def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            if trainer.is_global_zero:
                record = {"epochs": self.epochs, "threads": torch.get_num_threads(), "ranks": trainer.world_size}
                Path(times_file).write_text(json.dumps(record))

    callbacks = train_action._callbacks
    train_action._callbacks = lambda ctx: [*callbacks(ctx), StepClock()]  # type: ignore[assignment]
    return cli(argv)


DDP, ONE, SERIAL = "2 processes x 1 thread (DDP, gloo)", "1 process x 2 threads", "1 process x 1 thread"
# name -> (CPU processes (ranks), each taking global batch / ranks; the job's cores, OMP_NUM_THREADS). The last
# is for reading the others: what a second thread, or a second process, adds to one.
VARIANTS = {DDP: (2, 2), ONE: (1, 2), SERIAL: (1, 1)}


def write_spec(root: Path, data: Path, args: argparse.Namespace) -> Path:
    from tao_ocrnet.actions.demo import CPU_MODEL

    tree = {
        "model": CPU_MODEL,
        "dataset": {
            "train_dataset_dir": [str(data / "train")],
            "train_gt_file": str(data / "train" / "gt_new.txt"),
            "val_dataset_dir": str(data / "test"),
            "val_gt_file": str(data / "test" / "gt_new.txt"),
            "character_list_file": str(data / "character_list"),
            "batch_size": args.batch,
            "workers": 0,
            "max_label_length": 25,
        },
        "train": {
            "num_gpus": 0,
            "num_epochs": args.epochs,
            "validation_interval": args.epochs,  # once, after the last timed step
            "optim": {"name": "adam", "lr": 0.001},
        },
        "wandb": {"enable": False},
    }
    path = root / "spec.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def run_variant(spec: Path, processes: int, cores: int, batch: int, folder: Path) -> dict[str, Any]:
    """One `ocrnet train` in a fresh results folder; step times (s) of rank zero, threads, ranks."""
    folder.mkdir(parents=True)
    times = folder / "times.json"
    overrides = [
        f"results_dir={folder}",
        f"train.num_cpu_processes={processes}",
        f"dataset.batch_size={batch // processes}",
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(cores))
    command = [sys.executable, str(Path(__file__).resolve()), WORKER_FLAG, str(times), "train", "-e", str(spec)]
    done = subprocess.run([*command, *overrides], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not times.is_file():
        sys.exit(f"ocrnet train failed ({processes} processes): {done.stderr[-2000:]}")
    record = json.loads(times.read_text())
    steps = [b - a for ends in record["epochs"] for a, b in itertools.pairwise(ends)]
    return {"steps": steps, "threads": record["threads"], "ranks": record["ranks"]}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == WORKER_FLAG:
        sys.exit(worker(sys.argv[2], sys.argv[3:]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 round, 1 epoch of 320 images")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32, help="global batch (each of 2 ranks takes half)")
    parser.add_argument("--images", type=int, default=960, help="training images (a multiple of --batch)")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.images, args.epochs = 1, 320, 1
    C.header("distributed CPU training: 2 processes x 1 thread vs 1 process x 2 threads", args)

    from tao_ocrnet.data.synth.generate import generate_dataset

    rounds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    seen: dict[str, dict[str, Any]] = {}
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_dataset(root / "data", args.images, 4, seed=0)
        spec = write_spec(root, root / "data", args)
        for r in range(args.rounds):
            order = list(VARIANTS) if r % 2 == 0 else list(reversed(VARIANTS))
            PROBE.sample()
            got = {}
            for name in order:
                processes, cores = VARIANTS[name]
                result = run_variant(spec, processes, cores, args.batch, root / f"round{r}-{processes}x{cores}")
                got[name] = args.batch / C.median(result["steps"])
                rounds[name].append(got[name])
                seen[name] = result
            ratios.append(got[DDP] / got[ONE])
            figures = ", ".join(f"{name} {value:.1f} img/s" for name, value in got.items())
            print(f"  round {r + 1}/{args.rounds}: {figures}; ratio {ratios[-1]:.3f}")
            sys.stdout.flush()
        PROBE.sample()
    rows = [
        (
            name,
            seen[name]["ranks"],
            seen[name]["threads"],
            args.batch // VARIANTS[name][0],
            len(seen[name]["steps"]),
            1e3 * args.batch / C.median(rounds[name]),
            C.median(rounds[name]),
        )
        for name in VARIANTS
    ]
    headers = ["variant", "ranks", "threads/rank", "batch/rank", "steps/round", "median step ms", "images/s"]
    C.table(headers, rows)
    PROBE.report()
    C.verdict("2 processes x 1 thread / 1 process x 2 threads, images/s", C.median(ratios), TARGET)


if __name__ == "__main__":
    main()
