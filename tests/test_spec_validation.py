# SPDX-License-Identifier: Apache-2.0
"""`ocrnet spec validate`: every spec problem is one clear line, all in one message, exit code 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tao_ocrnet.cli import main

TRAIN_DATA = [
    "dataset.train_dataset_dir=[/data/lmdb_train]",
    "dataset.val_dataset_dir=/data/lmdb_val",
    "dataset.character_list_file=/data/chars.txt",
]


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_valid_spec(tmp_path, capsys):
    spec = write(tmp_path, "train:\n  num_epochs: 3\n")
    code, out, _ = run(capsys, "spec", "validate", "train", "-e", spec, *TRAIN_DATA)
    assert code == 0 and "spec is valid for train" in out


def test_unknown_key_with_did_you_mean(tmp_path, capsys):
    spec = write(tmp_path, "train:\n  num_epoch: 3\nmodel:\n  backbon: ResNet\n")
    code, _, err = run(capsys, "spec", "validate", "train", "-e", spec, *TRAIN_DATA)
    assert code == 2
    assert "unknown key `train.num_epoch`; did you mean `train.num_epochs`?" in err
    assert "unknown key `model.backbon`; did you mean `model.backbone`?" in err


def test_wrong_type(tmp_path, capsys):
    spec = write(tmp_path, "train:\n  num_gpus: two\nmodel:\n  TPS: maybe\n")
    code, _, err = run(capsys, "spec", "validate", "train", "-e", spec, *TRAIN_DATA)
    assert code == 2
    assert "`train.num_gpus` = 'two'" in err and "valid integer" in err
    assert "`model.TPS` = 'maybe'" in err


def test_out_of_range_names_the_allowed_range(tmp_path, capsys):
    spec = write(tmp_path, "dataset:\n  batch_size: 0\ntrain:\n  optim:\n    lr: 0\n")
    code, _, err = run(capsys, "spec", "validate", "train", "-e", spec, *TRAIN_DATA)
    assert code == 2
    assert "`dataset.batch_size` = 0 is out of range; allowed: >= 1 and <= 4096" in err
    assert "`train.optim.lr` = 0 is out of range; allowed: > 0.0 and <= 10.0" in err


def test_bad_choice_lists_the_choices(tmp_path, capsys):
    code, _, err = run(capsys, "spec", "validate", "gen_trt_engine", "gen_trt_engine.onnx_file=m.onnx",
                       "gen_trt_engine.tensorrt.data_type=fp8")  # fmt: skip
    assert code == 2
    assert "`gen_trt_engine.tensorrt.data_type` = 'fp8' is not allowed; choose one of: FP32, FP16, INT8" in err


def test_missing_required_field_names_the_key(tmp_path, capsys):
    spec = write(tmp_path, "evaluate:\n  batch_size: 4\n")
    code, _, err = run(capsys, "spec", "validate", "evaluate", "-e", spec)
    assert code == 2
    assert "`evaluate.checkpoint` is required for evaluate" in err
    assert "`evaluate.test_dataset_dir` is required for evaluate" in err
    assert "evaluate.checkpoint=..." in err


def test_malformed_yaml_gives_the_line(tmp_path, capsys):
    spec = write(tmp_path, "train:\n  num_epochs: 3\n   bad: [\n")
    code, _, err = run(capsys, "spec", "validate", "train", "-e", spec)
    assert code == 2
    assert "is not valid YAML at line 3" in err


def test_missing_spec_file(tmp_path, capsys):
    code, _, err = run(capsys, "spec", "validate", "train", "-e", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "nope.yaml` does not exist" in err


def test_spec_that_is_not_a_mapping(tmp_path, capsys):
    code, _, err = run(capsys, "spec", "validate", "train", "-e", write(tmp_path, "- a\n- b\n"))
    assert code == 2 and "must hold a mapping" in err


def test_conflicting_overrides(tmp_path, capsys):
    spec = write(tmp_path, "train:\n  num_epochs: 3\n")
    code, _, err = run(capsys, "spec", "validate", "train", "-e", spec, "train.num_epochs=5", "num_epochs=7")
    assert code == 2
    assert "`train.num_epochs` is set twice with different values" in err


def test_same_override_twice_is_fine(tmp_path, capsys):
    code, _, _ = run(capsys, "spec", "validate", "train", *TRAIN_DATA, "train.num_epochs=5", "num_epochs=5")
    assert code == 0


def test_unknown_action(capsys):
    code, _, err = run(capsys, "spec", "validate", "trian")
    assert code == 2 and "Did you mean `train`?" in err


def test_all_problems_in_one_message_through_the_real_cli(tmp_path):
    spec = write(tmp_path, "train:\n  num_epoch: 3\n  num_gpus: two\ndataset:\n  workers: 999\n")
    result = subprocess.run(
        [sys.executable, "-m", "tao_ocrnet.cli", "spec", "validate", "evaluate", "-e", spec, "model.backbone=VGG"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    err = result.stderr
    assert "Traceback" not in err
    assert err.startswith("ocrnet spec: error: the spec is not valid:\n")
    problems = [line for line in err.splitlines() if line.startswith("  - ")]
    assert len(problems) == 6, err
    for needle in ("train.num_epoch", "train.num_gpus", "dataset.workers", "model.backbone", "evaluate.checkpoint",
                   "evaluate.test_dataset_dir"):  # fmt: skip
        assert needle in err


@pytest.mark.parametrize("argv", [["spec", "validate", "train", "--bogus"], ["spec", "show"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
