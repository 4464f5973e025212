# SPDX-License-Identifier: Apache-2.0
"""dataset_convert, train, evaluate and inference through the `ocrnet` CLI on real files."""

from __future__ import annotations

import csv
import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from tao_ocrnet.cli import main as cli
from tao_ocrnet.results.status import read_status

from action_fixtures import base_spec, convert_split


def kpis(path: Path) -> list[dict]:
    return [line["kpi"] for line in read_status(path) if "kpi" in line]


def test_train_writes_reference_files_and_kpis(trained_workspace):
    train_dir = trained_workspace.results / "train"
    names = {p.name for p in train_dir.iterdir()}
    assert {"best_accuracy.pth", "ocr_model_latest.pth", "experiment.yaml", "status.json", "log_val.txt"} <= names
    periodic = sorted(n for n in names if n.startswith("model_epoch_"))
    assert periodic == ["model_epoch_000_step_00004.pth", "model_epoch_001_step_00008.pth"]
    vals = [k for k in kpis(train_dir / "status.json") if "val_acc" in k]
    assert len(vals) >= 2 and all(0.0 <= k["val_acc"] <= 1.0 for k in vals)
    assert any("train_loss" in k for k in kpis(train_dir / "status.json"))
    statuses = [line["status"] for line in read_status(train_dir / "status.json")]
    assert statuses[0] == "STARTED" and statuses[-1] == "SUCCESS"
    # Our checkpoints are safe to load: weights only, and they carry the architecture.
    for name in ("best_accuracy.pth", periodic[0]):
        data = torch.load(train_dir / name, weights_only=True)
        assert data["format"] == "tao-ocrnet/1" and data["arch"]["feature_channel"] == 16


def test_evaluate_writes_results_and_predictions(trained_workspace):
    assert cli(["evaluate", "-e", str(trained_workspace.spec)]) == 0
    out = trained_workspace.results / "evaluate"
    results = json.loads((out / "results.json").read_text())
    assert 0.0 <= results["Accuracy"] <= 1.0 and results["num_samples"] == 24
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert len(rows) == 24 and set(rows[0]) == {"path", "label", "prediction", "confidence", "correct"}
    assert sum(int(r["correct"]) for r in rows) / 24 == results["Accuracy"]
    by_length = json.loads((out / "metrics.json").read_text())["by_length"]
    assert sum(b["num_samples"] for b in by_length.values()) == 24  # every labelled crop in one length bucket
    test_acc = [k["test_acc"] for k in kpis(out / "status.json") if "test_acc" in k]
    assert test_acc and test_acc[-1] == round(100 * results["Accuracy"], 4)  # percent, as the reference


def test_inference_reads_every_image_sorted(trained_workspace, capsys):
    assert cli(["inference", "-e", str(trained_workspace.spec), "inference.batch_size=5"]) == 0
    rows = list(csv.DictReader((trained_workspace.results / "inference" / "inference.csv").open()))
    images = sorted(str(p) for p in (trained_workspace.data / "test").iterdir() if p.suffix in (".jpg", ".png"))
    assert [r["path"] for r in rows] == images  # every image, including the last partial batch
    assert all(0.0 <= float(r["confidence"]) <= 1.0 for r in rows)
    assert "predicted_labels" in capsys.readouterr().out


def test_same_spec_evaluates_from_raw_images_and_gt(trained_workspace):
    data = trained_workspace.data
    code = cli(
        [
            "evaluate",
            "-e",
            str(trained_workspace.spec),
            f"evaluate.test_dataset_dir={data / 'test'}",
            f"evaluate.test_dataset_gt_file={data / 'test' / 'gt_new.txt'}",
            f"evaluate.results_dir={trained_workspace.root / 'eval_raw'}",
        ]
    )
    assert code == 0
    assert json.loads((trained_workspace.root / "eval_raw" / "results.json").read_text())["num_samples"] == 24


def test_pickled_checkpoint_needs_explicit_opt_in(trained_workspace, tmp_path, capsys):
    from tao_ocrnet.model.checkpoint import load_model_file

    model, _, _ = load_model_file(trained_workspace.best)
    pickled = tmp_path / "whole_model.pth"
    torch.save({"whole_model": model}, pickled)  # what the reference writes
    args = [
        "evaluate",
        "-e",
        str(trained_workspace.spec),
        f"evaluate.checkpoint={pickled}",
        f"evaluate.results_dir={tmp_path / 'eval'}",
    ]
    assert cli(args) == 2
    err = capsys.readouterr().err
    assert "--allow-pickle" in err and "evaluate.checkpoint" in err and "Traceback" not in err
    assert cli([*args, "--allow-pickle"]) == 0


def test_not_a_model_file_is_a_clear_error(trained_workspace, tmp_path, capsys):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(pickle.dumps("not a model") + b"\x00garbage")
    code = cli(
        [
            "inference",
            "-e",
            str(trained_workspace.spec),
            f"inference.checkpoint={junk}",
            f"inference.results_dir={tmp_path / 'inf'}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "inference.checkpoint" in err and "Traceback" not in err


def test_missing_paths_name_the_key(trained_workspace, tmp_path, capsys):
    code = cli(
        [
            "evaluate",
            "-e",
            str(trained_workspace.spec),
            f"evaluate.test_dataset_dir={tmp_path / 'nope'}",
            f"evaluate.results_dir={tmp_path / 'e'}",
        ]
    )
    assert code == 2 and "evaluate.test_dataset_dir" in capsys.readouterr().err
    code = cli(
        [
            "train",
            "-e",
            str(trained_workspace.spec),
            f"dataset.character_list_file={tmp_path / 'none'}",
            f"train.results_dir={tmp_path / 't'}",
        ]
    )
    assert code == 2 and "dataset.character_list_file" in capsys.readouterr().err


def test_bad_training_labels_are_skipped_and_counted(tmp_path, monkeypatch):
    """Labels outside the character list or longer than max_label_length never reach the loss; the log shows
    the epoch moving (a line per interval, here every step)."""
    from tao_ocrnet.actions import progress_log
    from tao_ocrnet.data.synth.generate import generate_dataset

    monkeypatch.setattr(progress_log, "EVERY_S", 0.0)

    data, results = tmp_path / "data", tmp_path / "results"
    generate_dataset(data, 40, 8, seed=5)
    gt = data / "train" / "gt_new.txt"
    lines = gt.read_text(encoding="utf-8").splitlines()
    first = lines[0].split("\t")[0]
    lines += [f"{first}\tUPPER-case!", f"{first}\t{'a' * 40}"]
    gt.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")  # with a BOM, as real gt files have
    spec = tmp_path / "spec.yaml"
    tree = base_spec(data, results)
    tree["dataset"]["train_gt_file"] = str(gt)
    tree["dataset"]["train_dataset_dir"] = [str(data / "train")]
    tree["train"]["num_epochs"] = 1
    spec.write_text(yaml.safe_dump(tree))
    assert convert_split(spec, data, results, "test") == 0
    assert cli(["train", "-e", str(spec)]) == 0
    final = read_status(results / "train" / "status.json")[-1]
    assert final["status"] == "SUCCESS"
    log_text = (results / "train" / "train.log").read_text()
    assert "char_not_in_charset" in log_text or "not in the character list" in log_text
    assert re.search(r"epoch 0: step 1 of [1-9]\d*, train loss \d+\.\d{4}, [1-9]\d* images/s", log_text)


def test_dataset_convert_reports_skipped_images(tmp_path):
    from data_fixtures import make_raw_set

    raw = make_raw_set(tmp_path / "raw", ["abc", "def", "ghi"])
    gt_lines = [*raw.gt_file.read_text().splitlines(), "missing.png\tzzz"]
    raw.gt_file.write_text("\n".join(gt_lines) + "\n")
    (raw.img_dir / "corrupt.png").write_bytes(b"not an image")
    with raw.gt_file.open("a") as fh:
        fh.write("corrupt.png\tyyy\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "dataset_convert": {
                    "input_img_dir": str(raw.img_dir),
                    "gt_file": str(raw.gt_file),
                    "results_dir": str(tmp_path / "lmdb"),
                }
            }
        )
    )
    assert cli(["dataset_convert", "-e", str(spec)]) == 0
    out = tmp_path / "lmdb"
    assert (out / "data.mdb").is_file()
    log_lines = (out / "error_image_log.txt").read_text().splitlines()
    assert len(log_lines) == 2 and any("missing.png" in line for line in log_lines)
    final = read_status(out / "status.json")[-1]
    assert final["status"] == "SUCCESS" and final["kpi"]["written"] == 3 and final["kpi"]["skipped"] == 2
    # A second run refuses to overwrite the LMDB unless asked, and leaves it intact.
    before = (out / "data.mdb").read_bytes()
    assert cli(["dataset_convert", "-e", str(spec)]) == 2
    assert (out / "data.mdb").read_bytes() == before
    assert cli(["dataset_convert", "-e", str(spec), "--overwrite"]) == 0


def test_interrupted_training_resumes_without_losing_epochs(tmp_path):
    """kill -9 during epoch 2 of 4; running the same command again resumes from the latest checkpoint."""
    from tao_ocrnet.data.synth.generate import generate_dataset

    data, results = tmp_path / "data", tmp_path / "results"
    generate_dataset(data, 96, 16, seed=7)
    spec = tmp_path / "spec.yaml"
    tree = base_spec(data, results)
    tree["train"]["num_epochs"] = 4
    spec.write_text(yaml.safe_dump(tree))
    for split in ("train", "test"):
        assert convert_split(spec, data, results, split) == 0
    train_dir = results / "train"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tao_ocrnet", "train", "-e", str(spec)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = train_dir / "model_epoch_000_step_00006.pth"
    try:
        import time

        deadline = time.monotonic() + 120
        while not first.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.wait()
    assert first.is_file()
    assert not (train_dir / "model_epoch_003_step_00024.pth").exists(), "the run finished before it was killed"
    first_bytes = first.read_bytes()
    assert cli(["train", "-e", str(spec)]) == 0
    periodic = sorted(p.name for p in train_dir.glob("model_epoch_*.pth"))
    assert periodic[-1] == "model_epoch_003_step_00024.pth"
    assert first.read_bytes() == first_bytes  # finished epochs are kept as they were
    log_text = (train_dir / "train.log").read_text()
    assert "resuming from" in log_text
    # best_accuracy.pth holds the best validation of both runs, not a stale best from the checkpoint.
    vals = [k["val_acc"] for k in kpis(train_dir / "status.json") if "val_acc" in k and "val_loss" in k]
    assert torch.load(train_dir / "best_accuracy.pth", weights_only=True)["val_acc"] == max(vals)


def test_quick_demo_runs_end_to_end(tmp_path, capsys):
    assert cli(["demo", "--quick", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out
    assert (tmp_path / "demo" / "results" / "evaluate" / "results.json").is_file()
    assert (tmp_path / "demo" / "results" / "inference" / "inference.csv").is_file()
