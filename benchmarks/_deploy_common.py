# SPDX-License-Identifier: Apache-2.0
"""Helpers for the deploy benchmarks (bench_deploy.py, bench_prune.py); not a benchmark itself.

Synthetic data, a short training through `ocrnet train` (in-process, the real action), scoring a
backend-neutral predictor on the synthetic test set, and side-by-side timing of predictors.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import _common as C

Predictor = Callable[[Any], tuple[Any, Any]]


@dataclass
class Data:
    root: Path
    lmdb_train: Path
    lmdb_test: Path
    test_dir: Path
    calib_dir: Path
    charlist: Path


def prepare_data(root: Path, num_train: int, num_test: int, seed: int = 0, fonts_split: bool = False) -> Data:
    from tao_ocrnet.data.convert import convert_to_lmdb

    data = root / "data"
    C.synth(data, num_train, num_test, seed=seed, fonts_split=fonts_split)
    lmdb = {}
    for split in ("train", "test"):
        lmdb[split] = root / f"lmdb_{split}"
        with C.quiet():
            convert_to_lmdb(data / split, data / split / "gt_new.txt", lmdb[split], progress=False)
    return Data(root, lmdb["train"], lmdb["test"], data / "test", data / "train", data / "character_list")


def train_spec(data: Data, results: Path, model: dict[str, Any], epochs: int, **train: Any) -> dict[str, Any]:
    return {
        "results_dir": str(results),
        "model": model,
        "dataset": {
            "train_dataset_dir": [str(data.lmdb_train)],
            "val_dataset_dir": str(data.lmdb_test),
            "character_list_file": str(data.charlist),
            "batch_size": 64,
            "workers": 1,
            "max_label_length": 25,
        },
        "train": {
            "num_gpus": 0,
            "num_epochs": epochs,
            "seed": 0,
            "checkpoint_interval": epochs,
            "validation_interval": epochs,
            "optim": {"name": "adam", "lr": 1e-3, "lr_scheduler": "MultiStep", "lr_steps": [10**6]},
            **train,
        },
        "wandb": {"enable": False},
    }


def run_train(tree: dict[str, Any], spec_path: Path) -> Path:
    """`ocrnet train` in-process (the real action); returns best_accuracy.pth."""
    from tao_ocrnet.actions.common import run_action
    from tao_ocrnet.actions.train import train

    spec_path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    # Lightning's progress bar writes to stdout; keep this script's stdout to its tables.
    with C.quiet(), contextlib.redirect_stdout(io.StringIO()):
        result = run_action("train", train, str(spec_path))
    return Path(result["best_model"])


def test_batches(test_dir: Path, arch: Any, batch: int = 64) -> list[tuple[Any, list[str]]]:
    """The synthetic test set, preprocessed for `arch`, as (images, labels) batches (kept in memory)."""
    from tao_ocrnet.config.spec import ExperimentSpec
    from tao_ocrnet.data.loaders import build_eval_loader

    sizes = {k: getattr(arch, k) for k in ("input_channel", "input_height", "input_width")}
    spec = ExperimentSpec.model_validate(
        {"model": sizes, "dataset": {"max_label_length": arch.max_label_length, "workers": 0}}
    )
    with C.quiet():
        loader, _ = build_eval_loader(
            spec,
            arch.charset,
            directory=str(test_dir),
            gt_file=str(test_dir / "gt_new.txt"),
            batch_size=batch,
        )
        return [(images, list(labels)) for images, labels in loader]


@dataclass
class Score:
    accuracy: float  # exact word match
    norm_ed: float  # mean 1 - normalised edit distance (character level; informative for weak models)
    texts: list[str]


def score(predictor: Predictor, arch: Any, batches: Sequence[tuple[Any, list[str]]]) -> Score:
    """Word accuracy, normalised edit-distance similarity and the texts, with the shared decoder."""
    from tao_ocrnet.model.codec import make_codec
    from tao_ocrnet.model.metrics import norm_ed_similarity

    codec = make_codec(arch)
    texts: list[str] = []
    labels: list[str] = []
    for images, batch_labels in batches:
        ids, probs = predictor(images)
        texts += [t for t, _ in codec.decode(ids, probs)]
        labels += batch_labels
    correct = sum(t == g for t, g in zip(texts, labels, strict=True))
    similarity = norm_ed_similarity(texts, labels)
    n = len(labels) or 1
    return Score(correct / n, sum(similarity) / n, texts)


def agreement(a: Sequence[str], b: Sequence[str]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a) if a else float("nan")


def interleaved_rates(
    variants: dict[str, Predictor], images: Any, rounds: int, min_seconds: float, warmup: int = 1
) -> dict[str, float]:
    """Images/s per variant: variants take turns round by round (load from elsewhere hits all alike);
    each turn runs for at least `min_seconds`; the figure is batch / median call time."""
    batch = int(images.shape[0])
    times: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():
        for _ in range(warmup):
            fn(images)
    for _ in range(rounds):
        for name, fn in variants.items():
            started = time.perf_counter()
            while True:
                t0 = time.perf_counter()
                fn(images)
                times[name].append(time.perf_counter() - t0)
                if time.perf_counter() - started >= min_seconds:
                    break
    return {name: batch / statistics.median(values) for name, values in times.items()}


def set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def ort_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
