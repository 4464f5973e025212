# SPDX-License-Identifier: Apache-2.0
"""The shipped model (`ocrnet_cpu_small`): accuracy on the project's synthetic test set, CPU latency at
batch 1 and throughput at batch 32, PyTorch eager vs ONNX Runtime, side by side in one run.

The test set is rendered here with the pretraining recipe's seed, size and `fonts_split=True`: the
recipe's own test split (font designs and words disjoint from everything the model was trained on;
the 100k training crops are rendered too, because test labels avoid training labels: ~2 minutes).
`--quick` renders no training set, so its test labels may repeat training labels (approximate).
The ONNX file comes from the project's own export (with its parity check). Timing: the two backends
take turns round by round; `--threads` (default 1) for both.

Target (issue: shipped model): word accuracy >= 90% on this test set.

    python benchmarks/bench_shipped.py [--quick] [--num-test 2000] [--threads 1]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import _common as C
import _deploy_common as D

ACCURACY_TARGET = 0.90


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="200 test crops and short timing (smoke test)")
    p.add_argument("--num-test", type=int, default=None, help="test crops (2000 = the recipe's; quick 200)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads for torch and ONNX Runtime")
    p.add_argument("--rounds", type=int, default=None, help="timing rounds (5; quick 2)")
    p.add_argument("--min-seconds", type=float, default=None, help="time per backend per round (1.5; quick 0.5)")
    args = p.parse_args(argv)
    q = args.quick
    for key, value in {
        "num_test": 200 if q else 2000,
        "rounds": 2 if q else 5,
        "min_seconds": 0.5 if q else 1.5,
    }.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    D.set_threads(args.threads)
    C.header("bench_shipped: the shipped ocrnet_cpu_small model, PyTorch vs ONNX Runtime", args)

    import torch

    from tao_ocrnet.config.shipped import DEFAULT_MODEL, shipped_model_facts
    from tao_ocrnet.deploy.onnx_export import export_onnx
    from tao_ocrnet.model.checkpoint import load_model_file, resolve_model_path
    from tao_ocrnet.runtime.ort_backend import ort_predictor
    from tao_ocrnet.runtime.predictor import torch_predictor

    path = resolve_model_path(DEFAULT_MODEL, key="shipped")
    model, arch, _ = load_model_file(path)
    params = sum(t.numel() for t in model.parameters())
    print(f"{DEFAULT_MODEL}: {path.stat().st_size / 2**20:.1f} MiB file, {params / 1e6:.2f} M parameters")
    probe = C.SpeedProbe()
    root = Path(tempfile.mkdtemp(prefix="bench_shipped_"))
    ok: list[bool] = []
    try:
        facts = shipped_model_facts()["data"]
        # The recipe's exact test split needs its training labels planned too (test labels avoid them).
        num_train = 1 if args.quick else facts["num_train"]
        C.synth(root / "data", num_train, args.num_test, seed=facts["seed"], fonts_split=True)
        test_dir = root / "data" / "test"
        print(f"test set: {'approximately ' if args.quick else ''}the recipe's test split, first {args.num_test} crops")
        onnx = root / "model.onnx"
        with C.quiet():
            export_onnx(model, arch, onnx, source=str(path), overwrite=True)
        variants = {
            "PyTorch eager": torch_predictor(model, "cpu"),
            "ONNX Runtime": ort_predictor(D.ort_session(onnx, args.threads)),
        }
        batches = D.test_batches(test_dir, arch)
        images = torch.cat([b for b, _ in batches])[:32]
        probe.sample()
        b1 = D.interleaved_rates(variants, images[:1], args.rounds, args.min_seconds)
        probe.sample()
        b32 = D.interleaved_rates(variants, images[:32], args.rounds, args.min_seconds)
        scores = {name: D.score(fn, arch, batches) for name, fn in variants.items()}
        rows = [[name, 1000 / b1[name], b32[name], scores[name].accuracy, scores[name].norm_ed] for name in variants]
        C.table(["backend", "latency b1 (ms)", "img/s b32", "accuracy", "norm_ed"], rows)
        print(f"({len(scores['PyTorch eager'].texts)} test crops, fonts and words disjoint from training)")
        ok.append(C.verdict("word accuracy (PyTorch)", scores["PyTorch eager"].accuracy, ACCURACY_TARGET, ""))
        print()
        probe.report()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{sum(ok)} of {len(ok)} targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
