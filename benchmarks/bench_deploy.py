# SPDX-License-Identifier: Apache-2.0
"""Inference throughput and accuracy: PyTorch eager fp32 vs ONNX Runtime fp32 vs ONNX Runtime INT8
(static QDQ, `ocrnet quantize` backend onnxruntime) vs torchao int8 weight-only, side by side.

Two configurations: the spec default (ResNet 512, BiLSTM 256, CTC) and the small CPU config
(`actions.demo.CPU_MODEL`). Every variant is built with the project's own code (export with its
parity check, the quantize backends), fed the same preprocessed synthetic word crops, and decoded
by the shared decoder. Throughput = batch / median call time, at batch 1 and 32, the variants
taking turns round by round so that load from other processes hits all of them alike. Threads:
`--threads` (default 1) for torch and ONNX Runtime alike; on a loaded 2-core machine torch's
OpenMP pool at 2 threads collapses (up to 100x slower), which would flatter ONNX Runtime.

Accuracy on the synthetic test set needs a trained model: `--checkpoint` (default: the shipped
small-config model `ocrnet_cpu_small`) or `--checkpoint-default`; with `--checkpoint ''` the small
config is trained for `--epochs` here (short: expect a low accuracy) and the default config keeps random weights
(its accuracy is then not measurable; agreement with fp32 is reported instead).

Targets: ORT fp32 >= 1.5x eager at batch 32; ORT INT8 >= 1.3x ORT fp32 at batch 32 with at most
1 point of accuracy lost.

    python benchmarks/bench_deploy.py [--quick] [--checkpoint PATH] [--threads 1] [--configs small,default]
"""

from __future__ import annotations

import argparse
import copy
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as C
import _deploy_common as D

SPEED_TARGET = 1.5
INT8_TARGET = 1.3
ACCURACY_DROP = 0.01  # 1 point
MEASURABLE = 0.2  # below this fp32 accuracy, an accuracy comparison says nothing


def load_or_build(args: Any, name: str, data: D.Data, root: Path) -> tuple[Any, Any, bool]:
    """(model, arch, trained?) for a configuration."""
    from tao_ocrnet.data.charset import load_charset
    from tao_ocrnet.model.checkpoint import load_model_file, resolve_model_path
    from tao_ocrnet.model.ocrnet import build_model

    given = args.checkpoint if name == "small" else args.checkpoint_default
    if given:
        model, arch, _ = load_model_file(resolve_model_path(given, key="--checkpoint"))
        return model, arch, True
    section = C.cpu_model_section() if name == "small" else {}
    if name == "small" and args.epochs > 0:
        tree = D.train_spec(data, root / "train_small", section, args.epochs)
        best = D.run_train(tree, root / "train_small.yaml")
        if args.save_model:
            shutil.copyfile(best, args.save_model)
            print(f"trained small-config model saved to {args.save_model} (reuse it with --checkpoint)")
        model, arch, _ = load_model_file(best)
        return model, arch, True
    arch = C.arch_for(section, load_charset(data.charlist))
    return build_model(arch).eval(), arch, False


def build_variants(model: Any, arch: Any, data: D.Data, work: Path, threads: int) -> dict[str, D.Predictor]:
    from types import SimpleNamespace

    from tao_ocrnet.data.transforms import ImageTransform
    from tao_ocrnet.deploy.calibration import iter_batches, plan_calibration
    from tao_ocrnet.deploy.onnx_export import export_onnx
    from tao_ocrnet.deploy.quantize import quantize_onnxruntime, quantize_torchao
    from tao_ocrnet.runtime.ort_backend import ort_predictor
    from tao_ocrnet.runtime.predictor import torch_predictor

    fp32 = work / "model.onnx"
    int8 = work / "model_int8.onnx"
    with C.quiet():
        export_onnx(model, arch, fp32, source="bench", overwrite=True)
        cfg = SimpleNamespace(backend_kwargs={}, algorithm="minmax", layers=[], skip_names=[])
        keys = {"dir_key": "calibration", "size_keys": ("batch", "batches")}
        plan = plan_calibration([data.calib_dir], 16, 8, **keys)
        transform = ImageTransform(arch.input_channel, arch.input_height, arch.input_width)
        quantize_onnxruntime(fp32, int8, iter_batches(plan, transform, arch.input_channel), cfg)
        ao_model, _ = quantize_torchao(copy.deepcopy(model), cfg, "cpu")
    return {
        "eager fp32": torch_predictor(model, "cpu"),
        "ORT fp32": ort_predictor(D.ort_session(fp32, threads)),
        "ORT int8": ort_predictor(D.ort_session(int8, threads)),
        "torchao int8": torch_predictor(ao_model, "cpu"),
    }


def run_config(args: Any, name: str, data: D.Data, root: Path, probe: C.SpeedProbe) -> list[bool]:
    import torch

    started = time.monotonic()
    model, arch, trained = load_or_build(args, name, data, root)
    params = sum(p.numel() for p in model.parameters())
    work = root / name
    work.mkdir(exist_ok=True)
    variants = build_variants(model, arch, data, work, args.threads)
    batches = D.test_batches(data.test_dir, arch)
    images = torch.cat([b for b, _ in batches])[:32]
    print(f"\n-- {name} config: {params / 1e6:.2f} M parameters, {'trained' if trained else 'random'} weights")
    rows: dict[str, list[Any]] = {v: [v] for v in variants}
    for batch in (1, 32):
        probe.sample()
        rates = D.interleaved_rates(variants, images[:batch], args.rounds, args.min_seconds)
        for v, rate in rates.items():
            rows[v] += [rate, rate / rates["eager fp32"]]
        if batch == 32:
            rate32 = rates
    scores = {v: D.score(fn, arch, batches) for v, fn in variants.items()}
    accuracy = {v: s.accuracy for v, s in scores.items()}
    texts = {v: s.texts for v, s in scores.items()}
    for v in variants:
        rows[v] += [accuracy[v], scores[v].norm_ed, D.agreement(texts[v], texts["eager fp32"])]
    headers = ["variant", "img/s b1", "x eager", "img/s b32", "x eager", "accuracy", "norm_ed", "agree fp32"]
    C.table(headers, list(rows.values()))
    print(f"({len(texts['eager fp32'])} test crops, {time.monotonic() - started:.0f} s for this config)")
    ok = [
        C.verdict(f"{name}: ORT fp32 vs eager at batch 32", rate32["ORT fp32"] / rate32["eager fp32"], SPEED_TARGET),
        C.verdict(f"{name}: ORT int8 vs ORT fp32 at batch 32", rate32["ORT int8"] / rate32["ORT fp32"], INT8_TARGET),
    ]
    drop = accuracy["ORT fp32"] - accuracy["ORT int8"]
    if trained and accuracy["ORT fp32"] >= MEASURABLE:
        ok.append(C.verdict(f"{name}: ORT int8 accuracy lost (points)", 100 * drop, 100 * ACCURACY_DROP, "", False))
    else:
        print(
            f"MISS: {name}: ORT int8 accuracy lost: not measurable (fp32 accuracy {accuracy['ORT fp32']:.3f} < "
            f"{MEASURABLE}; pass a trained --checkpoint); INT8 agrees with fp32 on "
            f"{D.agreement(texts['ORT int8'], texts['ORT fp32']):.3f} of the crops, norm_ed "
            f"{scores['ORT fp32'].norm_ed:.3f} -> {scores['ORT int8'].norm_ed:.3f}"
        )
        ok.append(False)
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer rounds and crops, no training (smoke test)")
    p.add_argument("--configs", default="small,default", help="comma-separated: small, default")
    p.add_argument("--checkpoint", default="ocrnet_cpu_small", help="a trained small-config model ('' trains one here)")
    p.add_argument("--checkpoint-default", default="", help="a trained default-config model")
    p.add_argument("--epochs", type=int, default=None, help="train the small config this long without --checkpoint")
    p.add_argument("--save-model", default="", help="keep the small model trained here at this path")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads for torch and ONNX Runtime")
    p.add_argument("--rounds", type=int, default=None, help="timing rounds (5; quick 2)")
    p.add_argument("--min-seconds", type=float, default=None, help="time per variant per round (1.5; quick 0.5)")
    p.add_argument("--num-test", type=int, default=None, help="synthetic test crops (500; quick 64)")
    args = p.parse_args(argv)
    q = args.quick
    fill = {"rounds": 2 if q else 5, "min_seconds": 0.5 if q else 1.5, "num_test": 64 if q else 500}
    fill["epochs"] = 0 if q else 4
    for key, value in fill.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    D.set_threads(args.threads)  # before the header, which prints the thread count
    C.header("bench_deploy: eager vs ONNX Runtime fp32 / int8 vs torchao int8", args)
    probe = C.SpeedProbe()
    root = Path(tempfile.mkdtemp(prefix="bench_deploy_"))
    results: list[bool] = []
    try:
        num_train = 256 if q or args.checkpoint else 4000
        data = D.prepare_data(root, num_train, args.num_test)
        for name in [c.strip() for c in args.configs.split(",") if c.strip()]:
            results += run_config(args, name, data, root, probe)
        print()
        probe.report()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{sum(results)} of {len(results)} targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
