# SPDX-License-Identifier: Apache-2.0
"""`ocrnet demo`: the whole skill on an embedded default, on a CPU.

synthetic data -> dataset_convert (train and test) -> a short fine-tuning of the shipped CPU-size
model (`ocrnet_cpu_small`, references/pretrained_model_card.md) -> evaluate -> inference. Every step
runs through the same entry point as `ocrnet <action> -e spec.yaml`, with the spec files written into
the demo folder so a user can re-run or edit any step.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tao_ocrnet.actions.common import run_action
from tao_ocrnet.actions.dataset_convert import dataset_convert
from tao_ocrnet.actions.evaluate import evaluate
from tao_ocrnet.actions.inference import inference
from tao_ocrnet.actions.train import train
from tao_ocrnet.config.shipped import DEFAULT_MODEL, shipped_model_facts
from tao_ocrnet.data.synth.generate import generate_dataset
from tao_ocrnet.errors import UserError

log = logging.getLogger(__name__)

# The small CPU configuration (README "The shipped model and the CPU recipe"): the shipped model's, as packaged,
# so the demo fine-tunes at the input size the model learned.
_SECTION = ("backbone", "feature_channel", "hidden_size", "prediction", "input_width", "input_height", "input_channel")
CPU_MODEL = {key: shipped_model_facts(DEFAULT_MODEL)["architecture"][key] for key in _SECTION}


def demo_sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"num_train": 200, "num_test": 40, "epochs": 1, "batch": 32}
    return {"num_train": 8000, "num_test": 500, "epochs": 4, "batch": 64}


def write_spec(path: Path, tree: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    return path


MARKER = ".ocrnet-demo"


def _fresh_folder(out: Path) -> Path:
    """Re-running the demo replaces its own previous folder, and nothing else."""
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise UserError(f"demo folder `{out}` exists and was not made by `ocrnet demo`; pass --out NEW_FOLDER")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by ocrnet demo\n")
    return out


def run_demo(out: Path, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    sizes = demo_sizes(quick)
    out = _fresh_folder(out.resolve())
    data, results, specs = out / "data", out / "results", out / "specs"
    specs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    log.info("demo 1/5: rendering %d + %d synthetic word crops", sizes["num_train"], sizes["num_test"])
    generate_dataset(data, num_train=sizes["num_train"], num_test=sizes["num_test"], seed=seed)

    lmdb = {}
    for split in ("train", "test"):
        log.info("demo 2/5: dataset_convert %s", split)
        lmdb[split] = results / f"lmdb_{split}"
        spec = write_spec(
            specs / f"dataset_convert_{split}.yaml",
            {
                "results_dir": str(results),
                "dataset_convert": {
                    "input_img_dir": str(data / split),
                    "gt_file": str(data / split / "gt_new.txt"),
                    "results_dir": str(lmdb[split]),
                },
            },
        )
        run_action("dataset_convert", dataset_convert, str(spec))

    common = {
        "results_dir": str(results),
        "model": CPU_MODEL,
        "dataset": {
            "train_dataset_dir": [str(lmdb["train"])],
            "val_dataset_dir": str(lmdb["test"]),
            "character_list_file": str(data / "character_list"),
            "batch_size": sizes["batch"],
            "workers": 1,
            "max_label_length": 25,
        },
    }
    log.info("demo 3/5: fine-tuning the shipped model %s for %d epochs", DEFAULT_MODEL, sizes["epochs"])
    train_spec = write_spec(
        specs / "train.yaml",
        {
            **common,
            "train": {
                "num_epochs": sizes["epochs"],
                "seed": seed,
                "checkpoint_interval": sizes["epochs"],
                # From scratch, this CPU config needs hours to leave the CTC plateau; fine-tuning needs minutes.
                "pretrained_model_path": DEFAULT_MODEL,
                "optim": {
                    "name": "adam",
                    "lr": 3e-4,
                    "lr_scheduler": "MultiStep",
                    "lr_steps": [max(1, int(sizes["epochs"] * 0.75))],
                    "lr_decay": 0.1,
                },
            },
        },
    )
    trained = run_action("train", train, str(train_spec))
    best = trained["best_model"]

    log.info("demo 4/5: evaluate")
    eval_spec = write_spec(
        specs / "evaluate.yaml",
        {**common, "evaluate": {"checkpoint": best, "test_dataset_dir": str(lmdb["test"]), "batch_size": 64}},
    )
    evaluated = run_action("evaluate", evaluate, str(eval_spec))

    log.info("demo 5/5: inference")
    infer_spec = write_spec(
        specs / "inference.yaml",
        {**common, "inference": {"checkpoint": best, "inference_dataset_dir": str(data / "test"), "batch_size": 64}},
    )
    inferred = run_action("inference", inference, str(infer_spec))

    summary = {
        "accuracy": evaluated["accuracy"],
        "norm_ed": evaluated["norm_ed"],
        "best_val_acc": trained["best_val_acc"],
        "images_read": inferred["num_images"],
        "minutes": round((time.monotonic() - started) / 60, 2),
        "results_dir": str(results),
    }
    return summary


def main(args: argparse.Namespace) -> int:
    summary = run_demo(Path(args.out), quick=args.quick)
    print(
        f"demo finished in {summary['minutes']} min: test accuracy {100 * summary['accuracy']:.1f}% "
        f"(normalised edit distance {summary['norm_ed']:.3f}) on synthetic data; results in {summary['results_dir']}",
        file=sys.stdout,
    )
    return 0
