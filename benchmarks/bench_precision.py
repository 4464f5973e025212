# SPDX-License-Identifier: Apache-2.0
"""Training images/s and accuracy per `train.precision` / `train.channels_last`, side by side on the same data.

The shipped model's configuration (the small CPU config, batch 64, Adam at lr 1e-3 as in recipes/pretrain_cpu.yaml)
is fine-tuned from the shipped weights for the same number of steps on the same in-memory batches (synthetic crops,
fonts disjoint from the test split) in each variant: fp32, channels_last, bf16, bf16 + channels_last, and fp32 once
more with the batches in another order (the noise yardstick for accuracy). The variants take turns step by step (the
order rotating), so load that comes and goes hits all alike. A step is what Lightning's precision plugin does:
forward and loss under `torch.autocast` (bf16 only), backward, clipping at 5.0, Adam; the memory format is the
LightningModule's own (`OCRNetLitModule(channels_last=...)`). Throughput: batch / median step time; ratios: median
of the per-step ratios to the fp32 step of the same turn. Accuracy: each variant's fp32 weights (what its checkpoint
holds) evaluated on the test split.

bf16 variants train only where the hardware has bf16 instructions (`tao_ocrnet.model.precision.cpu_has_bf16`, the
check `ocrnet train` uses); elsewhere they are refused as `ocrnet train` refuses them, and `--emulated-steps N`
times N emulated steps to show why.

    python benchmarks/bench_precision.py [--quick] [--steps N] [--emulated-steps N]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as C

TARGET = 1.5  # bf16 + channels_last vs fp32 training images/s (issue 17)
PROBE = C.SpeedProbe()
VARIANTS = {  # name -> (bf16, channels_last, batch order seed)
    "fp32": (False, False, 0),
    "channels_last": (False, True, 0),
    "bf16": (True, False, 0),
    "bf16+channels_last": (True, True, 0),
    "fp32, other order": (False, False, 1),
}


def load_batches(root: Path, args: argparse.Namespace) -> tuple[list, list, tuple[str, ...]]:
    """Pre-collated train and test batches (the evaluation transform for both: no augmentation to vary)."""
    from tao_ocrnet.config.spec import ExperimentSpec
    from tao_ocrnet.data.charset import load_charset
    from tao_ocrnet.data.loaders import build_eval_loader

    data = root / "data"
    C.synth(data, args.num_train, args.num_test, seed=5, fonts_split=True)
    charset = load_charset(data / "character_list")
    spec = ExperimentSpec.model_validate({"model": C.cpu_model_section(), "dataset": {"workers": 0}})
    out = []
    for split in ("train", "test"):
        with C.quiet():
            loader, _ = build_eval_loader(
                spec, charset, directory=str(data / split), gt_file=str(data / split / "gt_new.txt"), batch_size=64
            )
            out.append([b for b in loader if len(b[1]) == 64 or split == "test"])
    return out[0], out[1], charset


class Variant:
    def __init__(self, name: str, start: Any, arch: Any, bf16: bool, channels_last: bool, order: list[int]):
        import torch

        from tao_ocrnet.model.lit_module import OCRNetLitModule

        self.name, self.bf16, self.order = name, bf16, order
        self.module = OCRNetLitModule(copy.deepcopy(start).train(), arch, {}, channels_last=channels_last)
        self.optimizer = torch.optim.Adam(self.module.model.parameters(), lr=1e-3)
        self.times: list[float] = []

    def step(self, batch: tuple[Any, list[str]]) -> float:
        import torch

        module = self.module
        started = time.perf_counter()
        images = module.images_of(batch)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()
        with autocast:
            targets, lengths = module.codec.encode(batch[1])
            loss = module.codec.loss(module(images), targets, lengths)
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.model.parameters(), 5.0)
        self.optimizer.step()
        took = time.perf_counter() - started
        self.times.append(took)
        return took

    def accuracy(self, test: list) -> float:
        import torch

        model = self.module.eval_model_copy()  # fp32, usual layout: what the checkpoint holds
        right = total = 0
        with torch.inference_mode():
            for images, labels in test:
                texts, _ = self.module.codec.predict(model(images))
                right += sum(t == g for t, g in zip(texts, labels, strict=True))
                total += len(labels)
        return right / max(total, 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer steps and crops (~3 min on a quiet machine)")
    p.add_argument("--steps", type=int, default=None, help="training steps per variant (120; quick 30)")
    p.add_argument("--warmup", type=int, default=3, help="steps per variant excluded from timing")
    p.add_argument("--num-train", type=int, default=None, help="training crops (2048; quick 640)")
    p.add_argument("--num-test", type=int, default=None, help="test crops (512; quick 256)")
    p.add_argument(
        "--emulated-steps", type=int, default=3, help="without bf16 instructions: bf16 steps timed (no accuracy)"
    )
    args = p.parse_args(argv)
    q = args.quick
    for key, full, quick in (("steps", 120, 30), ("num_train", 2048, 640), ("num_test", 512, 256)):
        if getattr(args, key) is None:
            setattr(args, key, quick if q else full)
    C.header("bench_precision: training images/s and accuracy per precision and memory format", args)
    import torch

    from tao_ocrnet.config.shipped import DEFAULT_MODEL
    from tao_ocrnet.errors import UserError
    from tao_ocrnet.model.checkpoint import load_model_file, resolve_model_path
    from tao_ocrnet.model.precision import cpu_has_bf16, cpu_name, training_precision

    native = cpu_has_bf16()
    try:
        training_precision("bf16", "cpu", 1)
        refusal = ""
    except UserError as exc:
        refusal = str(exc)
    print(f"CPU: {cpu_name()}; bf16 instructions: {'yes' if native else 'no'}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench_precision_") as tmp:
        train, test, charset = load_batches(Path(tmp), args)
        test_crops = sum(len(b[1]) for b in test)
        print(f"data: {len(train)} train batches of 64, {test_crops} test crops")
        start, arch, _ = load_model_file(
            resolve_model_path(DEFAULT_MODEL, key="bench"), expected_charset=charset, key="bench"
        )
        before = Variant("before", start, arch, False, False, []).accuracy(test)
        print(
            f"start: the shipped {DEFAULT_MODEL} ({arch.backbone}, feature_channel {arch.feature_channel}, hidden "
            f"{arch.hidden_size}); test accuracy before fine-tuning {before:.4f}"
        )
        variants = []
        for name, (bf16, channels_last, seed) in VARIANTS.items():
            order = [i % len(train) for i in range(args.steps)]
            if seed:
                random.Random(seed).shuffle(order)
            variants.append(Variant(name, start, arch, bf16, channels_last, order))
        trained = [v for v in variants if native or not v.bf16]
        emulated = [v for v in variants if not native and v.bf16]
        torch.manual_seed(0)
        PROBE.sample()
        ratios: dict[str, list[float]] = {v.name: [] for v in variants}
        for i in range(args.steps):
            turn = trained[i % len(trained) :] + trained[: i % len(trained)]
            took = {v.name: v.step(train[v.order[i]]) for v in turn}
            if i >= args.warmup:
                for name, t in took.items():
                    ratios[name].append(took["fp32"] / t)
            if i % 20 == 19:
                PROBE.sample()
        reference = Variant("fp32 beside emulated bf16", start, arch, False, False, [])
        for i in range(args.emulated_steps if emulated else 0):  # beside steps of a spare fp32 copy, for a ratio
            for v in emulated:
                ratios[v.name].append(reference.step(train[i]) / v.step(train[i]))
        rows = []
        for v in variants:
            timed = v.times[args.warmup :] if v in trained else v.times
            acc = v.accuracy(test) if v in trained else float("nan")
            rows.append(
                [v.name, len(v.times), 64 / C.median(timed) if timed else float("nan"), C.median(ratios[v.name]), acc]
            )
    print()
    C.table(["variant", "steps", "train img/s", "vs fp32", "test accuracy"], rows)
    print(
        "(img/s: 64 / median step time; vs fp32: median of per-turn ratios; accuracy: the fp32 weights after the "
        "same steps)"
    )
    if emulated:
        print(f"bf16 rows: {args.emulated_steps} emulated steps timed, not trained: {refusal}")
    PROBE.sample()
    PROBE.report()
    print()
    by_name = {r[0]: r for r in rows}
    base = by_name["fp32"][4]
    noise = abs(base - by_name["fp32, other order"][4])
    # Noise: two fp32 runs that differ only in batch order, and the test set's own sampling error.
    tolerance = max(2 * noise, 2 * (base * (1 - base) / test_crops) ** 0.5)
    print(f"accuracy noise: fp32 with two batch orders differ by {noise:.4f}; tolerance {tolerance:.4f}")
    for name in ("channels_last", "bf16", "bf16+channels_last"):
        acc = by_name[name][4]
        if acc == acc:
            delta = acc - base
            verdict = "PASS" if abs(delta) <= tolerance else "MISS"
            print(f"{verdict}: {name}: accuracy {delta:+.4f} vs fp32 after the same steps (tolerance {tolerance:.4f})")
    if native:
        C.verdict("bf16+channels_last / fp32 training images/s", by_name["bf16+channels_last"][3], TARGET)
    else:
        print(
            f"SKIP: bf16+channels_last >= {TARGET}x fp32: this CPU has no bf16 instructions (train.precision=bf16 "
            "is refused here)"
        )
    print(f"total time {time.monotonic() - started:.0f} s; {C.machine_line().split(', load ')[1]} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
