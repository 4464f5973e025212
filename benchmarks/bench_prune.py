# SPDX-License-Identifier: Apache-2.0
"""Pruning at amount=0.4 (experimental_hybrid, L1, granularity 8): parameters, MACs, CPU latency and
accuracy before pruning, after pruning and after a short retrain.

Runs the real actions in-process: `ocrnet prune` on the model, then `ocrnet train` with
`model.pruned_graph_path` (the retrain), both on synthetic data. Latency is measured side by side
(unpruned and pruned taking turns) in PyTorch eager and in ONNX Runtime fp32 at batch 1 and 32,
with `--threads` (default 1) for both runtimes.

Accuracy needs a trained model: `--checkpoint` (default: the shipped small-config model
`ocrnet_cpu_small`); with `--checkpoint ''` the small config is trained here for `--epochs` (short:
expect a low accuracy). The default config is measured for size and latency only (random weights), unless
`--configs default --checkpoint PATH` names a trained default model.

Targets: latency (eager, batch 32) at least 2x lower; at most 1 point of accuracy lost after the retrain.

    python benchmarks/bench_prune.py [--quick] [--checkpoint PATH] [--configs small,default] [--threads 1]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

import _common as C
import _deploy_common as D

LATENCY_TARGET = 2.0
ACCURACY_DROP = 0.01
MEASURABLE = 0.2


def prune_spec(model_path: Path, out: Path, amount: float) -> dict[str, Any]:
    setting = {"mode": "experimental_hybrid", "amount": amount, "granularity": 8, "raw_prune_score": "L1"}
    return {
        "results_dir": str(out),
        "prune": {"checkpoint": str(model_path), "pruned_file": str(out / "pruned.pth"), "prune_setting": setting},
    }


def run_prune(tree: dict[str, Any], spec_path: Path) -> dict[str, Any]:
    from tao_ocrnet.actions.common import run_action
    from tao_ocrnet.actions.prune import prune

    spec_path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    with C.quiet():
        return run_action("prune", prune, str(spec_path))


def base_model(args: Any, name: str, data: D.Data, root: Path) -> tuple[Path, bool]:
    """A model file for the configuration, and whether it is trained."""
    from tao_ocrnet.data.charset import load_charset
    from tao_ocrnet.model.checkpoint import save_model_file
    from tao_ocrnet.model.ocrnet import build_model

    if args.checkpoint and (name == "small" or args.configs.strip() == name):
        from tao_ocrnet.model.checkpoint import resolve_model_path

        return resolve_model_path(args.checkpoint, key="--checkpoint"), True
    section = C.cpu_model_section() if name == "small" else {}
    if name == "small" and args.epochs > 0:
        tree = D.train_spec(data, root / f"train_{name}", section, args.epochs)
        return D.run_train(tree, root / f"train_{name}.yaml"), True
    arch = C.arch_for(section, load_charset(data.charlist))
    return save_model_file(root / f"{name}_random.pth", build_model(arch), arch), False


def latencies(models: dict[str, Any], arch: Any, work: Path, args: Any) -> dict[tuple[str, str, int], float]:
    """ms per image for (model name, runtime, batch), measured side by side."""
    import torch

    from tao_ocrnet.deploy.onnx_export import export_onnx
    from tao_ocrnet.runtime.ort_backend import ort_predictor
    from tao_ocrnet.runtime.predictor import torch_predictor

    variants: dict[str, D.Predictor] = {}
    for name, model in models.items():
        path = work / f"{name}.onnx"
        with C.quiet():
            export_onnx(model, arch, path, source=name, overwrite=True)
        variants[f"{name}|eager"] = torch_predictor(model, "cpu")
        variants[f"{name}|ORT"] = ort_predictor(D.ort_session(path, args.threads))
    images = torch.rand(32, arch.input_channel, arch.input_height, arch.input_width) * 2 - 1
    out: dict[tuple[str, str, int], float] = {}
    for batch in (1, 32):
        rates = D.interleaved_rates(variants, images[:batch], args.rounds, args.min_seconds)
        for key, rate in rates.items():
            name, runtime = key.split("|")
            out[(name, runtime, batch)] = 1000.0 / rate
    return out


def run_config(args: Any, name: str, data: D.Data, root: Path, probe: C.SpeedProbe) -> list[bool]:
    from tao_ocrnet.deploy.prune import count_macs_params
    from tao_ocrnet.model.checkpoint import load_model_file

    started = time.monotonic()
    work = root / name
    work.mkdir()
    source, trained = base_model(args, name, data, root)
    report = run_prune(prune_spec(source, work, args.amount), work / "prune.yaml")
    before, arch, _ = load_model_file(source)
    pruned, _, _ = load_model_file(report["pruned_file"])
    models = {"unpruned": before, "pruned": pruned}
    retrained_path = None
    if trained and args.retrain_epochs > 0:
        section = {k: getattr(arch, k) for k in ("input_channel", "input_height", "input_width")}
        section["pruned_graph_path"] = report["pruned_file"]
        # A fine-tune, not a fresh start: a lower learning rate than training from scratch, cut x0.1 for
        # the last epoch so the retrain ends settled rather than mid-step.
        last = [args.retrain_epochs - 1] if args.retrain_epochs > 1 else [10**6]
        optim = {"name": "adam", "lr": args.retrain_lr, "lr_scheduler": "MultiStep", "lr_steps": last}
        tree = D.train_spec(data, work / "retrain", section, args.retrain_epochs, optim=optim)
        retrained_path = D.run_train(tree, work / "retrain.yaml")
        models["retrained"] = load_model_file(retrained_path)[0]
    probe.sample()
    ms = latencies({k: models[k] for k in ("unpruned", "pruned")}, arch, work, args)
    batches = D.test_batches(data.test_dir, arch)
    from tao_ocrnet.runtime.predictor import torch_predictor

    scores = {k: D.score(torch_predictor(m, "cpu"), arch, batches) for k, m in models.items()}
    acc = {k: s.accuracy for k, s in scores.items()}
    rows = []
    for k, m in models.items():
        macs, params = count_macs_params(m, arch)
        timed = "pruned" if k == "retrained" else k  # same shapes, same latency
        lat = [ms[(timed, rt, b)] for rt in ("eager", "ORT") for b in (1, 32)]
        rows.append([k, params / 1e6, macs / 1e9, *lat, acc[k], scores[k].norm_ed])
    print(f"\n-- {name} config ({'trained' if trained else 'random'} weights), hybrid amount {args.amount}")
    headers = ["model", "params M", "GMACs", "eager b1 ms", "eager b32 ms", "ORT b1 ms", "ORT b32 ms", "accuracy"]
    headers.append("norm_ed")
    C.table(headers, rows)
    print(f"(latency per image; {len(batches)} test batches; {time.monotonic() - started:.0f} s for this config)")
    ok = [
        C.verdict(
            f"{name}: eager latency unpruned/pruned at batch 32",
            ms[("unpruned", "eager", 32)] / ms[("pruned", "eager", 32)],
            LATENCY_TARGET,
        )
    ]
    ort_ratio = ms[("unpruned", "ORT", 32)] / ms[("pruned", "ORT", 32)]
    print(f"info: {name}: ONNX Runtime latency unpruned/pruned at batch 32: {ort_ratio:.3f}x")
    if "retrained" in acc and acc["unpruned"] >= MEASURABLE:
        drop = 100 * (acc["unpruned"] - acc["retrained"])
        ok.append(C.verdict(f"{name}: accuracy lost after retrain (points)", drop, 100 * ACCURACY_DROP, "", False))
    else:
        print(
            f"MISS: {name}: accuracy after retrain: not measurable (unpruned accuracy {acc['unpruned']:.3f} < "
            f"{MEASURABLE}; pass a trained --checkpoint)"
        )
        ok.append(False)
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="no training, fewer rounds (smoke test)")
    p.add_argument("--configs", default="small,default", help="comma-separated: small, default")
    p.add_argument(
        "--checkpoint",
        default="ocrnet_cpu_small",
        help="a trained model of the (first) configuration (default: the shipped model; '' trains one here)",
    )
    p.add_argument("--amount", type=float, default=0.4, help="hybrid pruning amount (0.4)")
    p.add_argument("--epochs", type=int, default=None, help="train the small config this long without --checkpoint")
    p.add_argument("--retrain-epochs", type=int, default=None, help="retrain epochs after pruning (4; quick 1)")
    p.add_argument(
        "--retrain-lr", type=float, default=3e-4, help="Adam learning rate of the retrain, x0.1 for its last epoch"
    )
    p.add_argument("--num-train", type=int, default=None, help="synthetic training crops (8000; quick 256)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads for torch and ONNX Runtime")
    p.add_argument("--rounds", type=int, default=None, help="timing rounds (5; quick 2)")
    p.add_argument("--min-seconds", type=float, default=None, help="time per variant per round (1.5; quick 0.5)")
    args = p.parse_args(argv)
    q = args.quick
    fill = {"rounds": 2 if q else 5, "min_seconds": 0.5 if q else 1.5, "epochs": 0 if q else 4}
    fill |= {"retrain_epochs": 1 if q else 4, "num_train": 256 if q else 8000}
    for key, value in fill.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    D.set_threads(args.threads)  # before the header, which prints the thread count
    C.header("bench_prune: hybrid pruning, size / latency / accuracy before and after retrain", args)
    probe = C.SpeedProbe()
    root = Path(tempfile.mkdtemp(prefix="bench_prune_"))
    results: list[bool] = []
    try:
        data = D.prepare_data(root, args.num_train, 64 if q else 500)
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
