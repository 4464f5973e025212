# SPDX-License-Identifier: Apache-2.0
"""The CPU recipe's accuracy-vs-minutes curve on synthetic data (a long benchmark: run it by hand).

Renders a train and a test set with `fonts_split=True` (disjoint font designs and labels: an honest
test set), converts both to LMDB, then runs `ocrnet train` (the CLI, in a child process) on the
demo's small CPU config with the demo's recipe (Adam 1e-3, MultiStep decay x0.1 at 75% of the
epochs, batch 64, 1 loader worker) and validation every epoch. The number of epochs is planned
from a short throughput calibration so that training fits in `--minutes`; the child is stopped if
it overruns the budget by more than 25% + 30 s. The table is read from the run's status.json:
(minutes since the launch of `ocrnet train`, epoch, train_loss, val_loss, val_acc, norm_ed).

The default (10 minutes, 6000 training crops) is meant for occasional manual runs; `--quick`
(about 1.5 minutes of training on 1000 crops) only checks that the pipeline works end to end.

    python benchmarks/bench_cpu_recipe.py [--quick] [--minutes 10] [--num-train 6000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

import _common as C

STARTUP_S = 10.0  # child start-up: imports, dataset scan, Trainer set-up
OVERRUN = (1.25, 30.0)  # the child is stopped after minutes * 1.25 + 30 s


def prepare_data(root: Path, num_train: int, num_test: int, seed: int) -> tuple[Path, Path, Path, Any]:
    from tao_ocrnet.data.convert import convert_to_lmdb

    data = root / "data"
    summary = C.synth(data, num_train, num_test, seed=seed, fonts_split=True)
    lmdb = {}
    for split in ("train", "test"):
        lmdb[split] = root / f"lmdb_{split}"
        with C.quiet():
            convert_to_lmdb(data / split, data / split / "gt_new.txt", lmdb[split], progress=False)
    return lmdb["train"], lmdb["test"], data / "character_list", summary


def calibrate(batch: int, steps: int = 6) -> float:
    """Training images/s of the small config on in-memory batches (plain loop, Adam as the recipe).

    From the fastest step: bursts of load from elsewhere only ever slow steps down, and the plan
    should not shrink because one happened during the calibration (the overrun guard still holds).
    """
    import torch

    from tao_ocrnet.model.codec import make_codec
    from tao_ocrnet.model.ocrnet import build_model

    arch = C.arch_for(C.cpu_model_section())
    model = build_model(arch)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = C.random_batches(2, batch, (arch.input_channel, arch.input_height, arch.input_width))
    source = itertools.islice(itertools.cycle(batches), steps + 1)
    ends = C.plain_train(model, make_codec(arch), optimizer, source, clip=5.0)
    return batch / min(C.step_times(ends, 1))


def plan_epochs(minutes: float, rate: float, num_train: int, num_test: int) -> tuple[int, float]:
    # Validation runs forward only (~1/3 of a training step); the loader and hooks add ~10%.
    epoch_s = 1.1 * (num_train + num_test / 3) / rate
    return max(1, int((minutes * 60 - STARTUP_S) // epoch_s)), epoch_s


def write_spec(path: Path, results: Path, lmdb_train: Path, lmdb_test: Path, charlist: Path, args: Any) -> None:
    epochs = args.epochs
    tree = {
        "results_dir": str(results),
        "model": C.cpu_model_section(),
        "dataset": {
            "train_dataset_dir": [str(lmdb_train)],
            "val_dataset_dir": str(lmdb_test),
            "character_list_file": str(charlist),
            "batch_size": args.batch,
            "workers": args.workers,
            "max_label_length": 25,
        },
        "train": {
            "num_gpus": 0,
            "num_epochs": epochs,
            "seed": args.seed,
            "validation_interval": 1,
            "checkpoint_interval": epochs,
            "optim": {
                "name": "adam",
                "lr": args.lr,
                "lr_scheduler": "MultiStep",
                "lr_steps": [max(1, int(epochs * 0.75))],
                "lr_decay": 0.1,
            },
        },
        "wandb": {"enable": False},
    }
    path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")


def curve(status_path: Path, launched: dt.datetime) -> tuple[list[list[Any]], float | None]:
    """Rows (minutes since `launched`, epoch, train_loss, val_loss, val_acc, norm_ed) from status.json,
    and the minutes from launch to the action's STARTED line (process start-up and imports)."""
    from tao_ocrnet.results.status import read_status, status_time

    records = read_status(status_path)
    start = next((status_time(r) for r in records if r.get("status") == "STARTED"), None)
    if start is None:
        return [], None
    train_loss = {
        r["epoch"]: r["kpi"]["train_loss"]
        for r in records
        if "epoch" in r and "train_loss" in r.get("kpi", {}) and "val_acc" not in r.get("kpi", {})
    }
    rows = []
    for r in records:
        kpi = r.get("kpi", {})
        if "epoch" in r and "val_acc" in kpi:
            rows.append(
                [
                    (status_time(r) - launched).total_seconds() / 60,
                    r["epoch"],
                    train_loss.get(r["epoch"], float("nan")),
                    kpi.get("val_loss", float("nan")),
                    kpi["val_acc"],
                    kpi.get("norm_ed", float("nan")),
                ]
            )
    return rows, (start - launched).total_seconds() / 60


def run_training(spec: Path, log_path: Path, limit_s: float) -> tuple[int | None, float, bool, dt.datetime]:
    """`python -m tao_ocrnet train -e spec` in its own session; stopped after `limit_s`."""
    started = time.monotonic()
    launched = dt.datetime.now().replace(microsecond=0)  # status.json has whole seconds
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tao_ocrnet", "train", "-e", str(spec)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its DataLoader workers share the group: stopped together
        )
        status = spec.parent / "results" / "train" / "status.json"
        shown = 0
        stopped = False
        while proc.poll() is None:
            time.sleep(2)
            rows, _ = curve(status, launched)
            for row in rows[shown:]:
                print(f"  {row[0]:5.2f} min  epoch {row[1]:3d}  val_acc {row[4]:.3f}  norm_ed {row[5]:.3f}")
                sys.stdout.flush()
            shown = len(rows)
            if time.monotonic() - started > limit_s:
                print(f"  budget overrun: stopping the training (process group {proc.pid})")
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                stopped = True
        return proc.returncode, time.monotonic() - started, stopped, launched


def print_existing(status_path: Path) -> int:
    """The curve of a run that already happened (a long recipe run: hours, with resumptions)."""
    from tao_ocrnet.results.status import read_status, status_time

    first = next((r for r in read_status(status_path) if r.get("status") == "STARTED"), None)
    if first is None:
        print(f"{status_path}: no STARTED line: not a training status.json")
        return 2
    rows, _ = curve(status_path, status_time(first))
    print(f"bench_cpu_recipe: the curve of {status_path}")
    C.table(["minutes", "epoch", "train_loss", "val_loss", "val_acc", "norm_ed"], rows)
    print("(minutes since the first start of the action, pauses between resumptions included)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="~1.5 minutes of training on 1000 crops (smoke test)")
    p.add_argument("--minutes", type=float, default=None, help="training budget in minutes (10; quick 1.5)")
    p.add_argument("--num-train", type=int, default=None, help="training crops (6000; quick 1000)")
    p.add_argument("--num-test", type=int, default=None, help="test crops (500; quick 200)")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: planned to fit the budget)")
    p.add_argument("--batch", type=int, default=64, help="batch size (64, as the demo)")
    p.add_argument("--workers", type=int, default=1, help="loader workers (1, as the demo)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (1e-3, as the demo)")
    p.add_argument("--seed", type=int, default=0, help="data and training seed")
    p.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it (default: a temp dir)")
    p.add_argument(
        "--from-status",
        type=Path,
        default=None,
        help="print the curve of an existing run's status.json instead (e.g. the pretraining's results/train)",
    )
    args = p.parse_args(argv)
    if args.from_status is not None:
        return print_existing(args.from_status)
    q = args.quick
    fill = {"minutes": 1.5 if q else 10.0, "num_train": 1000 if q else 6000, "num_test": 200 if q else 500}
    for key, value in fill.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    C.header("bench_cpu_recipe: small CPU config, accuracy vs minutes on synthetic data", args)
    probe = C.SpeedProbe()
    probe.sample()
    started = time.monotonic()
    if args.keep is not None:
        if args.keep.exists() and any(args.keep.iterdir()):
            p.error(f"--keep {args.keep} exists and is not empty")
        args.keep.mkdir(parents=True, exist_ok=True)
        root = args.keep
    else:
        root = Path(tempfile.mkdtemp(prefix="bench_cpu_recipe_"))
    try:
        t = time.monotonic()
        lmdb_train, lmdb_test, charlist, summary = prepare_data(root, args.num_train, args.num_test, args.seed)
        print(
            f"data: {args.num_train} train / {args.num_test} test crops, {len(summary.train_fonts)} train fonts and "
            f"{len(summary.test_fonts)} test fonts (disjoint designs and labels), rendered and converted in "
            f"{time.monotonic() - t:.1f} s"
        )
        rate = calibrate(args.batch)
        planned, epoch_s = plan_epochs(args.minutes, rate, args.num_train, args.num_test)
        if args.epochs is None:
            args.epochs = planned
        print(
            f"plan: calibration {rate:.0f} train img/s -> ~{epoch_s:.0f} s per epoch -> {args.epochs} epochs "
            f"(lr x0.1 after epoch {max(1, int(args.epochs * 0.75))}) in a {args.minutes:g}-minute budget"
        )
        spec = root / "train.yaml"
        write_spec(spec, root / "results", lmdb_train, lmdb_test, charlist, args)
        limit = args.minutes * 60 * OVERRUN[0] + OVERRUN[1]
        print(f"training: ocrnet train -e {spec} (log: {root / 'train.log'})")
        sys.stdout.flush()
        code, seconds, stopped, launched = run_training(spec, root / "train.log", limit)
        rows, startup = curve(root / "results" / "train" / "status.json", launched)
        print()
        if rows:
            C.table(["minutes", "epoch", "train_loss", "val_loss", "val_acc", "norm_ed"], rows)
            print(f"(minutes since `ocrnet train` was launched; the action started after {startup:.2f} min)")
        else:
            print("no validation finished (see the training log)")
        probe.sample()
        print()
        probe.report()
        print()
        best = max((r[4] for r in rows), default=float("nan"))
        last = rows[-1] if rows else None
        outcome = "stopped at the budget" if stopped else f"exit code {code}"
        print(
            f"result: {len(rows)} validations in {seconds / 60:.2f} min of training ({outcome}); best val_acc "
            f"{best:.3f}; last: epoch {last[1] if last else '-'}, val_acc {last[4] if last else float('nan'):.3f}, "
            f"norm_ed {last[5] if last else float('nan'):.3f}"
        )
        if code not in (0, None) and not stopped:
            tail = (root / "train.log").read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
            print("training failed; last log lines:\n  " + "\n  ".join(tail))
        print(f"total time {time.monotonic() - started:.0f} s")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept: {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
