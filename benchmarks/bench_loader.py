# SPDX-License-Identifier: Apache-2.0
"""Data pipeline throughput vs the small CPU config's training throughput, in one run.

Synthetic crops are rendered into a temporary folder and converted with `convert_to_lmdb`; the
loader is the real one (`OCRDataModule(spec).train_dataloader()`: LMDB reads, decode, the train
transform, `collate_labeled`, shuffling) with 0, 1 and 2 worker processes, batch 64 as in
`ocrnet demo`. Training throughput is the plain PyTorch loop (Adadelta, clipping 5.0) of the demo's
`CPU_MODEL` on in-memory batches of the same size. The variants alternate within each round and
medians are reported.

Target: loader images/s >= 5x training images/s, for the worker count the demo uses (1) and for
the best worker count. Also printed: training fed by the real loader (workers as the demo) vs
in-memory batches (what the loader costs training when both share the two cores), and a per-sample
cost breakdown of the loader's work in the main process.

    python benchmarks/bench_loader.py [--quick] [--num-images N] [--workers 0,1,2] [--aug-prob P]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as C

TARGET = 5.0
PROBE = C.SpeedProbe()
DEMO_WORKERS = 1  # `ocrnet demo` trains with dataset.workers = 1 (actions/demo.py)
PREFETCH = 2  # DataLoader's default prefetch_factor


def make_lmdb(root: Path, num_images: int) -> tuple[Path, Path]:
    from tao_ocrnet.data.convert import convert_to_lmdb

    data = root / "data"
    C.synth(data, num_images, 8, seed=1)
    lmdb_dir = root / "lmdb_train"
    with C.quiet():
        convert_to_lmdb(data / "train", data / "train" / "gt_new.txt", lmdb_dir, progress=False)
    return lmdb_dir, data / "character_list"


def make_spec(lmdb_dir: Path, charlist: Path, batch: int, workers: int, aug_prob: float) -> Any:
    from tao_ocrnet.config.spec import ExperimentSpec

    return ExperimentSpec.model_validate(
        {
            "model": C.cpu_model_section(),
            "dataset": {
                "train_dataset_dir": [str(lmdb_dir)],
                "character_list_file": str(charlist),
                "batch_size": batch,
                "workers": workers,
                "max_label_length": 25,
                "augmentation": {"aug_prob": aug_prob},
            },
        }
    )


def make_datamodule(lmdb_dir: Path, charlist: Path, batch: int, workers: int, aug_prob: float) -> Any:
    from tao_ocrnet.data.charset import load_charset
    from tao_ocrnet.data.datamodule import OCRDataModule

    dm = OCRDataModule(make_spec(lmdb_dir, charlist, batch, workers, aug_prob), load_charset(charlist))
    with C.quiet():
        dm.setup("fit")
    return dm


def endless(loader: Any) -> Any:
    """Batches across epoch ends (persistent workers are reused by each new epoch)."""
    while True:
        yield from loader


def loader_rate(dm: Any, workers: int, timed: int) -> float:
    """Images/s of the train loader once its prefetch queue has drained (worker start-up excluded)."""
    loader = dm.train_dataloader()
    batches = endless(loader)
    try:
        # The first batch starts the workers; the next ones may already sit in the prefetch queue.
        for _ in range(1 + PREFETCH * workers):
            next(batches)
        images = 0
        started = time.perf_counter()
        for images_batch, _labels in itertools.islice(batches, timed):
            images += len(images_batch)
        return images / (time.perf_counter() - started)
    finally:
        batches.close()
        del loader  # shuts persistent workers down


def train_rate(model0: Any, arch: Any, source: Any, steps: int, warmup: int = 1) -> float:
    import copy

    from tao_ocrnet.model.codec import make_codec

    model = copy.deepcopy(model0)
    optimizer = C.adadelta(model.parameters(), C.default_optim())
    batch_sizes: list[int] = []

    def counted() -> Any:
        for images, labels in itertools.islice(source, warmup + steps):
            batch_sizes.append(len(labels))
            yield images, labels

    ends = C.plain_train(model, make_codec(arch), optimizer, counted(), clip=5.0)
    return C.steady_rate(ends, warmup, max(batch_sizes))


def breakdown(dm: Any, samples: int, batch: int) -> list[list[Any]] | None:
    """Per-sample microseconds of each loader stage, in this process (private API: skipped if changed)."""
    import functools

    from tao_ocrnet.data.collate import collate_labeled
    from tao_ocrnet.data.images import decode_image

    ds = dm.train_dataset
    try:
        read, transform, channel = ds._read, ds.transform, ds.input_channel
    except AttributeError:
        return None
    n = min(samples, len(ds))
    t0 = time.perf_counter()
    raw = [read(j) for j in range(n)]
    t1 = time.perf_counter()
    imgs = [decode_image(data, channel, source=name) for data, _, name in raw]
    t2 = time.perf_counter()
    tensors = [transform(img) for img in imgs]
    t3 = time.perf_counter()
    collate = functools.partial(collate_labeled, image_shape=tuple(tensors[0].shape))
    pairs = [(t, lbl) for t, (_, lbl, _) in zip(tensors, raw, strict=True)]
    for k in range(0, n, batch):
        collate(pairs[k : k + batch])
    t4 = time.perf_counter()
    for j in range(n):
        ds[j]
    t5 = time.perf_counter()
    us = 1e6 / n
    rows = [
        ["LMDB read (dataset._read)", (t1 - t0) * us],
        ["decode_image (PIL, to L)", (t2 - t1) * us],
        ["train transform (resize + normalise)", (t3 - t2) * us],
        ["collate_labeled (per sample)", (t4 - t3) * us],
        ["dataset[i] end to end", (t5 - t4) * us],
    ]
    return [[name, value, 1e6 / value] for name, value in rows]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a smaller LMDB, fewer rounds (~30 s)")
    p.add_argument("--num-images", type=int, default=None, help="images in the LMDB (default 3000, quick 600)")
    p.add_argument("--batch", type=int, default=64, help="batch size (64, as the demo)")
    p.add_argument("--workers", default="0,1,2", help="comma list of loader worker counts")
    p.add_argument("--timed-batches", type=int, default=None, help="batches timed per loader run (24; quick 8)")
    p.add_argument("--train-steps", type=int, default=None, help="training steps timed per run (8; quick 3)")
    p.add_argument("--rounds", type=int, default=None, help="alternating rounds (5; quick 3)")
    p.add_argument("--aug-prob", type=float, default=0.0, help="dataset.augmentation.aug_prob (0 = the demo's)")
    p.add_argument("--no-e2e", action="store_true", help="skip training fed by the real loader")
    p.add_argument("--target", type=float, default=TARGET, help="loader / training throughput target")
    args = p.parse_args(argv)
    q = args.quick
    for key, value in {"num_images": 600 if q else 3000, "timed_batches": 8 if q else 24}.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key, value in {"train_steps": 3 if q else 8, "rounds": 3 if q else 5}.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    workers = sorted({int(w) for w in args.workers.split(",") if w.strip()})
    C.header("bench_loader: data pipeline vs small-config training throughput", args)

    from tao_ocrnet.model.ocrnet import build_model

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_loader_") as tmp:
        t = time.monotonic()
        lmdb_dir, charlist = make_lmdb(Path(tmp), args.num_images)
        print(f"data: {args.num_images} synthetic crops rendered and converted in {time.monotonic() - t:.1f} s")
        arch = C.arch_for(C.cpu_model_section())
        model0 = build_model(arch)
        shape = (arch.input_channel, arch.input_height, arch.input_width)
        memory = C.random_batches(4, args.batch, shape)
        dms = {w: make_datamodule(lmdb_dir, charlist, args.batch, w, args.aug_prob) for w in workers}
        e2e_dm = None if args.no_e2e else make_datamodule(lmdb_dir, charlist, args.batch, DEMO_WORKERS, args.aug_prob)

        results: dict[str, list[float]] = {}
        ratios: dict[str, list[float]] = {}
        variants = ["train (in-memory)", *[f"loader w={w}" for w in workers]]
        if e2e_dm is not None:
            variants.append(f"train (real loader, w={DEMO_WORKERS})")
        for r in range(args.rounds):
            PROBE.sample()
            order = variants if r % 2 == 0 else variants[::-1]
            got = {}
            for v in order:
                if v == "train (in-memory)":
                    got[v] = train_rate(model0, arch, itertools.cycle(memory), args.train_steps)
                elif v.startswith("train (real loader"):
                    loader = e2e_dm.train_dataloader()
                    batches = endless(loader)
                    got[v] = train_rate(model0, arch, batches, args.train_steps)
                    batches.close()
                    del loader
                else:
                    w = int(v.split("=")[1])
                    got[v] = loader_rate(dms[w], w, args.timed_batches)
            for v in variants:
                results.setdefault(v, []).append(got[v])
                ratios.setdefault(v, []).append(got[v] / got["train (in-memory)"])
            print(f"  round {r + 1}/{args.rounds}: " + ", ".join(f"{v} {got[v]:.0f}" for v in order) + " (img/s)")
            sys.stdout.flush()

        print()
        rows = []
        for v in variants:
            rows.append([v, C.median(results[v]), C.median(ratios[v]), " ".join(f"{x:.0f}" for x in results[v])])
        C.table(["variant", "img/s (median)", "x training (median of rounds)", "per round img/s"], rows)

        bd = breakdown(dms[workers[0]], 256 if q else 1024, args.batch)
        if bd:
            print()
            print(f"where a loader worker's time goes (main process, train transform, aug_prob {args.aug_prob:g}):")
            C.table(["stage", "us / sample", "samples/s if alone"], bd)

    PROBE.sample()
    print()
    PROBE.report()
    print()
    loader_ratio = {w: C.median(ratios[f"loader w={w}"]) for w in workers}
    if DEMO_WORKERS in loader_ratio:
        C.verdict(
            f"loader with workers={DEMO_WORKERS} (the demo's) / training", loader_ratio[DEMO_WORKERS], args.target
        )
    best = max(loader_ratio, key=loader_ratio.get)
    C.verdict(f"loader with workers={best} (best) / training", loader_ratio[best], args.target)
    e2e = f"train (real loader, w={DEMO_WORKERS})"
    if e2e in ratios:
        print(
            f"info: training fed by the real loader runs at {C.median(ratios[e2e]):.3f}x the in-memory rate "
            "(loader workers and the model share the cores)"
        )
    print(f"total time {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
