# SPDX-License-Identifier: Apache-2.0
"""Package a model trained by recipes/pretrain_cpu.sh as the shipped `ocrnet_cpu_small`.

    python recipes/ship_model.py OUT [--checkpoint PATH] [--external DIR ...]

Takes the newest checkpoint of the recipe's last training phase (OUT/results_narrow/train, else
OUT/results_world/train, else OUT/results_more/train, else OUT/results/train; not the best by validation: the
recipe validates on its test split, so picking by it would flatter the reported accuracy), writes the
weights-only model file into the package (src/tao_ocrnet/assets/), evaluates that file with `ocrnet evaluate`
on the last phase's test split (fonts, words and photographs disjoint from training) and on each external
evaluation set (`--external`: folders written by recipes/external_sets.py, never trained on), and records the
facts the model card is generated from (`ocrnet skill generate` renders references/pretrained_model_card.md).
When phase 3 started from the previous shipped model (START_WORLD), phases 1-2 are carried over from the
previous facts file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ASSETS = HERE.parent / "src" / "tao_ocrnet" / "assets"
NAME = "ocrnet_cpu_small"
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


def recipe_setting(name: str) -> str:
    """A `NAME=value` line of recipes/pretrain_cpu.sh: the recipe is the one place its settings are written."""
    match = re.search(rf"^{name}=(\S+)$", (HERE / "pretrain_cpu.sh").read_text(encoding="utf-8"), re.MULTILINE)
    if not match:
        raise SystemExit(f"recipes/pretrain_cpu.sh sets no {name}")
    return match.group(1)


def data_facts(folder: Path, seed: int, train_designs: list[str]) -> dict[str, Any]:
    """What `ocrnet synth --fonts-split` wrote to `folder`, and its split (recomputed: it depends on the seed, the
    held designs and the machine's fonts and wallpapers only)."""
    from tao_ocrnet.data.synth.fonts import design_group, font_family
    from tao_ocrnet.data.synth.generate import generate_dataset

    counts = {s: _count_crops(folder / s / "gt_new.txt") for s in ("train", "test")}
    with tempfile.TemporaryDirectory() as tmp:
        summary = generate_dataset(tmp, 1, 0, seed=seed, fonts_split=True, train_designs=train_designs)
    return {
        "generator": "ocrnet synth (tao_ocrnet.data.synth.generate)",
        "seed": seed,
        "fonts_split": True,
        "train_designs_held": train_designs,
        "num_train": counts["train"],
        "num_more": 0,
        "num_test": counts["test"],
        "train_fonts": len(summary.train_fonts),
        "test_fonts": len(summary.test_fonts),
        "train_designs": len({design_group(f) for f in summary.train_fonts}),
        "test_font_families": sorted({font_family(f) for f in summary.test_fonts}),
        "train_backgrounds": len(summary.train_backgrounds),
        "test_backgrounds": len(summary.test_backgrounds),
    }


def phase_device(train_log: Path) -> str:
    """Where a training run ran, from Lightning's "GPU available: ..., used: ..." line of its log."""
    used = re.findall(r"GPU available: \w+, used: (\w+)", train_log.read_text(encoding="utf-8", errors="replace"))
    return "GPU" if used and used[-1] == "True" else "CPU"


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
        "input_width": int(spec["model"]["input_width"]),
        "device": phase_device(train_dir / "train.log"),
        "checkpoint": source.name,
        "steps": steps,
        "samples_seen": samples,
        "epochs": round(samples / num_crops, 2),
        "wall_time_hours": round(training_hours(train_dir / "status.json", until), 2),
        "finished": until.isoformat(),
    }


def evaluate(model_file: Path, test: Path, gt_file: Path | None, charlist: Path, results: Path) -> dict[str, Any]:
    """`ocrnet evaluate` of the model file on an LMDB (gt_file None) or an image folder with its gt file."""
    from tao_ocrnet.actions.common import run_action
    from tao_ocrnet.actions.evaluate import evaluate as evaluate_action

    section: dict[str, Any] = {"checkpoint": str(model_file), "test_dataset_dir": str(test), "batch_size": 64}
    if gt_file is not None:
        section["test_dataset_gt_file"] = str(gt_file)
    spec = {
        "results_dir": str(results),
        "dataset": {"character_list_file": str(charlist), "workers": 1},
        "evaluate": section,
    }
    path = results.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    kpi = run_action("evaluate", evaluate_action, str(path))
    return {
        "accuracy": round(float(kpi["accuracy"]), 4),
        "norm_ed": round(float(kpi["norm_ed"]), 4),
        "num_samples": int(kpi.get("num_samples", 0)),
        "by_label_length": by_label_length(results / "evaluate" / "metrics.json"),
    }


def by_label_length(metrics_json: Path) -> list[dict[str, Any]]:
    """`ocrnet evaluate`'s accuracy by label length (metrics.json `by_length`), as the model card's rows."""
    buckets = json.loads(metrics_json.read_text(encoding="utf-8"))["by_length"]
    return [
        {"lengths": name, "samples": b["num_samples"], "accuracy": round(b["accuracy"], 4)}
        for name, b in buckets.items()
        if b["num_samples"]
    ]


def external_facts(model_file: Path, folder: Path, charlist: Path, out: Path) -> dict[str, Any]:
    """The model on one external set, with what made the set (its manifest)."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    result = evaluate(model_file, folder, folder / "gt_new.txt", charlist, out / f"ship_external_{folder.name}")
    keep = ("generator", "version", "seed", "settings", "font_families")
    return {"name": folder.name, **{k: manifest[k] for k in keep if k in manifest}, **result}


PHASES = ("results", "results_more", "results_world", "results_narrow")
WORLD_PHASES = PHASES[2:]  # the phases that train on data_world (today's generator)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="the folder recipes/pretrain_cpu.sh trained in")
    p.add_argument("--checkpoint", type=Path, help="a training checkpoint (default: the newest of the last phase)")
    p.add_argument("--external", type=Path, nargs="*", default=[], help="external evaluation sets (folders)")
    args = p.parse_args(argv)
    from tao_ocrnet.actions.train import latest_checkpoint
    from tao_ocrnet.model.checkpoint import load_model_file, save_model_file

    out = args.out.resolve()
    seed, designs = int(recipe_setting("SEED")), recipe_setting("SEEN_DESIGNS").split(",")
    previous = json.loads((ASSETS / f"{NAME}.json").read_text(encoding="utf-8"))
    dirs = [out / name / "train" for name in PHASES if latest_checkpoint(out / name / "train")]
    if not dirs:
        print(f"no training checkpoint in {out}/results*/train", file=sys.stderr)
        return 2
    world = dirs[-1].parent.name in WORLD_PHASES
    source = args.checkpoint or latest_checkpoint(dirs[-1])
    carried: list[dict[str, Any]] = []
    if world:
        data = data_facts(out / "data_world", seed, designs)
        earlier = [d for d in dirs if d.parent.name not in WORLD_PHASES]
        if not earlier:  # phase 3 started from the previous release: its phases are that release's facts
            # Packaging again (the facts file is then this run's own) carries only the phases not trained here.
            here = {d.parent.name for d in dirs}
            width = previous["architecture"]["input_width"]
            carried = [
                {"input_width": width, "device": "CPU", **ph, "ran_for": "the previous release"}
                for ph in previous["training"]["phases"]
                if ph["results"] not in here
            ]
            data["earlier"] = previous["data"].get("earlier", previous["data"])
        crops = [_count_crops(out / "data" / "train" / "gt_new.txt") if d.parent.name == "results" else 0
                 for d in earlier] + [data["num_train"]] * (len(dirs) - len(earlier))  # fmt: skip
    else:
        data = data_facts(out / "data", seed, designs)
        more = out / "data_more" / "train" / "gt_new.txt"
        data["num_more"] = _count_crops(more) if more.is_file() else 0
        crops = [data["num_train"], data["num_train"] + data["num_more"]][: len(dirs)]
    phases = [phase_facts(d, source if d == dirs[-1] else latest_checkpoint(d), crops[i]) for i, d in enumerate(dirs)]
    for ph in phases:  # name the phase a fine-tune started from rather than a machine-specific path
        for i, d in enumerate(dirs):
            if Path(ph["start"]).resolve().parent == d.resolve():
                ph["start"] = f"phase {len(carried) + i + 1}'s last checkpoint"
        if ph["start"] == NAME:
            ph["start"] = f"the previous {NAME} (phases {', '.join(str(i + 1) for i in range(len(carried)))})"
    phases = carried + phases
    model, arch, _ = load_model_file(source)
    target = ASSETS / f"{NAME}.pth"
    save_model_file(target, model, arch)
    if target.stat().st_size > SIZE_LIMIT:
        print(f"{target} is larger than 20 MiB", file=sys.stderr)
        return 1
    spec = yaml.safe_load((dirs[-1] / "experiment.yaml").read_text(encoding="utf-8"))
    data_dir = out / ("data_world" if world else "data")
    charlist = data_dir / "character_list"
    test = evaluate(target, out / ("lmdb_world_test" if world else "lmdb_test"), None, charlist, out / "ship")
    external = [external_facts(target, folder.resolve(), charlist, out) for folder in args.external]
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
            "command": ("START_WORLD=ocrnet_cpu_small " if carried else "")
            + "nohup nice -n 19 bash recipes/pretrain_cpu.sh ~/ocrnet-pretrain > pretrain.log 2>&1 &",
            "batch_size": spec["dataset"]["batch_size"],
            "augmentation": spec["dataset"]["augmentation"],
        },
        "data": data,
        "training": {
            "checkpoint": f"{dirs[-1].parent.name}/train/{source.name}",
            "steps": sum(ph["steps"] for ph in phases),
            "samples_seen": sum(ph["samples_seen"] for ph in phases),
            "wall_time_hours": round(sum(ph["wall_time_hours"] for ph in phases), 2),
            "machine": "2 CPU cores (no GPU), shared with other work during the run",
            "phases": phases,
        },
        "test": test,
        "external": external,
    }
    (ASSETS / f"{NAME}.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({"test": test["accuracy"], **{e["name"]: e["accuracy"] for e in external}}), f"-> {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
