# SPDX-License-Identifier: Apache-2.0
"""Package a model trained by recipes/pretrain_cpu.sh as the shipped `ocrnet_cpu_small`.

    python recipes/ship_model.py OUT [--checkpoint PATH]

Takes the newest checkpoint of the recipe's last training phase (OUT/results_more/train, else
OUT/results/train; not the best by validation: the recipe validates on its test split, so picking by
it would flatter the reported accuracy), writes the
weights-only model file into the package (src/tao_ocrnet/assets/), evaluates that file with
`ocrnet evaluate` on the recipe's test split (fonts and words disjoint from training), and records the
facts the model card is generated from (`ocrnet skill generate` renders references/pretrained_model_card.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ASSETS = HERE.parent / "src" / "tao_ocrnet" / "assets"
NAME = "ocrnet_cpu_small"
DATA_SEED = 20261124  # the --seed of `ocrnet synth` in recipes/pretrain_cpu.sh
SIZE_LIMIT = 20 * 2**20


def training_hours(status_path: Path, until: dt.datetime) -> float:
    """Hours spent training up to `until`: each run from its STARTED line to its last line (pauses between
    a stopped run and its resumption are not counted)."""
    from tao_ocrnet.results.status import read_status, status_time

    spans: list[list[dt.datetime]] = []
    for record in read_status(status_path):
        when = status_time(record)
        if when > until:
            break
        if record.get("status") == "STARTED" or not spans:
            spans.append([when, when])
        spans[-1][1] = when
    spans[-1][1] = until
    return sum((end - start).total_seconds() for start, end in spans) / 3600


def _count_crops(gt: Path) -> int:
    from tao_ocrnet.data.gt import parse_gt_file

    return len(parse_gt_file(gt).entries)


def data_facts(out: Path, seed: int) -> dict[str, Any]:
    from tao_ocrnet.data.synth.fonts import font_family
    from tao_ocrnet.data.synth.generate import generate_dataset

    counts = {s: _count_crops(out / "data" / s / "gt_new.txt") for s in ("train", "test")}
    more = out / "data_more" / "train" / "gt_new.txt"
    with tempfile.TemporaryDirectory() as tmp:  # the recipe's font split, recomputed (it depends on the seed only)
        summary = generate_dataset(tmp, num_train=1, num_test=0, seed=seed, fonts_split=True)
    return {
        "generator": "ocrnet synth (tao_ocrnet.data.synth.generate)",
        "seed": seed,
        "fonts_split": True,
        "num_train": counts["train"],  # phase 1's crops; with the seed they define the test split
        "num_more": _count_crops(more) if more.is_file() else 0,
        "num_test": counts["test"],
        "train_fonts": len(summary.train_fonts),
        "test_fonts": len(summary.test_fonts),
        "test_font_families": sorted({font_family(f) for f in summary.test_fonts}),
    }


def phase_facts(train_dir: Path, source: Path, num_crops: int) -> dict[str, Any]:
    """What one `ocrnet train` run of the recipe did, up to checkpoint `source`."""
    import torch

    spec = yaml.safe_load((train_dir / "experiment.yaml").read_text(encoding="utf-8"))
    steps = int(torch.load(source, map_location="cpu", weights_only=True)["global_step"])
    batch = int(spec["dataset"]["batch_size"])
    per_epoch = -(-num_crops // batch)  # the last batch of an epoch is short (not dropped)
    samples = steps // per_epoch * num_crops + steps % per_epoch * batch
    until = dt.datetime.fromtimestamp(source.stat().st_mtime).replace(microsecond=0)
    start = str(spec["train"].get("pretrained_model_path") or "")
    return {
        "results": train_dir.parent.name,
        "start": start or "random weights",
        "train_crops": num_crops,
        "optimizer": spec["train"]["optim"],
        "checkpoint": source.name,
        "steps": steps,
        "samples_seen": samples,
        "epochs": round(samples / num_crops, 2),
        "wall_time_hours": round(training_hours(train_dir / "status.json", until), 2),
        "finished": until.isoformat(),
    }


def evaluate(model_file: Path, out: Path) -> dict[str, Any]:
    from tao_ocrnet.actions.common import run_action
    from tao_ocrnet.actions.evaluate import evaluate as evaluate_action

    spec = {
        "results_dir": str(out / "ship"),
        "dataset": {"character_list_file": str(out / "data" / "character_list"), "workers": 1},
        "evaluate": {"checkpoint": str(model_file), "test_dataset_dir": str(out / "lmdb_test"), "batch_size": 64},
    }
    path = out / "ship_evaluate.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return run_action("evaluate", evaluate_action, str(path))


LENGTHS = ((1, 5), (6, 8), (9, 11), (12, 25))  # label length buckets of the per-length accuracy


def accuracy_by_length(predictions_csv: Path) -> list[dict[str, Any]]:
    """Word accuracy per label-length bucket (a 100-pixel-wide input squeezes long labels the most)."""
    import csv

    rows = list(csv.DictReader(predictions_csv.open(encoding="utf-8")))
    out = []
    for lo, hi in LENGTHS:
        picked = [r for r in rows if lo <= len(r["label"]) <= hi]
        if picked:
            correct = sum(int(r["correct"]) for r in picked)
            out.append({"lengths": f"{lo}-{hi}", "samples": len(picked), "accuracy": round(correct / len(picked), 4)})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="the folder recipes/pretrain_cpu.sh trained in")
    p.add_argument("--checkpoint", type=Path, help="a training checkpoint (default: the newest of the last phase)")
    args = p.parse_args(argv)
    from tao_ocrnet.actions.train import latest_checkpoint
    from tao_ocrnet.model.checkpoint import load_model_file, save_model_file

    out = args.out.resolve()
    data = data_facts(out, DATA_SEED)
    dirs = [d for d in (out / "results" / "train", out / "results_more" / "train") if latest_checkpoint(d)]
    if not dirs:
        print(f"no training checkpoint in {out}/results*/train", file=sys.stderr)
        return 2
    source = args.checkpoint or latest_checkpoint(dirs[-1])
    crops = (data["num_train"], data["num_train"] + data["num_more"])
    phases = [phase_facts(d, source if d == dirs[-1] else latest_checkpoint(d), crops[i]) for i, d in enumerate(dirs)]
    for ph in phases:  # name the phase a fine-tune started from rather than a machine-specific path
        for i, d in enumerate(dirs):
            if Path(ph["start"]).resolve().parent == d.resolve():
                ph["start"] = f"phase {i + 1}'s last checkpoint"
    model, arch, _ = load_model_file(source)
    target = ASSETS / f"{NAME}.pth"
    save_model_file(target, model, arch)
    if target.stat().st_size > SIZE_LIMIT:
        print(f"{target} is larger than 20 MiB", file=sys.stderr)
        return 1
    spec = yaml.safe_load((dirs[0] / "experiment.yaml").read_text(encoding="utf-8"))
    result = evaluate(target, out)
    facts = {
        "name": NAME,
        "file": target.name,
        "bytes": target.stat().st_size,
        "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        "parameters": sum(t.numel() for t in model.parameters()),
        "architecture": {k: v for k, v in arch.to_dict().items() if k != "charset"},
        "charset": "".join(arch.charset),
        "recipe": {
            "spec": "recipes/pretrain_cpu.yaml",
            "command": "nohup nice -n 19 bash recipes/pretrain_cpu.sh ~/ocrnet-pretrain > pretrain.log 2>&1 &",
            "batch_size": spec["dataset"]["batch_size"],
            "augmentation": spec["dataset"]["augmentation"],
        },
        "data": data,
        "training": {
            "checkpoint": f"{phases[-1]['results']}/train/{source.name}",
            "steps": sum(ph["steps"] for ph in phases),
            "samples_seen": sum(ph["samples_seen"] for ph in phases),
            "wall_time_hours": round(sum(ph["wall_time_hours"] for ph in phases), 2),
            "machine": "2 CPU cores (no GPU), shared with other work during the run",
            "phases": phases,
        },
        "test": {
            "accuracy": round(float(result["accuracy"]), 4),
            "norm_ed": round(float(result["norm_ed"]), 4),
            "num_samples": int(result.get("num_samples", 0)),
            "by_label_length": accuracy_by_length(out / "ship" / "evaluate" / "predictions.csv"),
        },
    }
    (ASSETS / f"{NAME}.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(facts["test"]), f"-> {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
