# SPDX-License-Identifier: Apache-2.0
"""`ocrnet deploy evaluate|inference` on ONNX Runtime: same images, decoding and files as PyTorch; bad inputs."""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from tao_ocrnet.cli import main as cli

from deploy_fixtures import deploy_spec

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]


def _rows(path) -> list[dict]:
    return list(csv.DictReader(path.open()))


def test_deploy_matches_pytorch(exported_ctc, trained_workspace, tmp_path, capsys):
    ws = trained_workspace
    spec = tmp_path / "deploy.yaml"
    spec.write_text(yaml.safe_dump(deploy_spec(ws, exported_ctc.onnx, tmp_path / "deploy")))
    assert cli(["deploy", "evaluate", "-e", str(spec)]) == 0
    assert cli(["deploy", "inference", "-e", str(spec)]) == 0
    assert "predicted_labels" in capsys.readouterr().out  # the inference table, as PyTorch inference prints
    # PyTorch on the same raw images + gt file, same batch size (5: the last batch of 24 is partial).
    torch_args = [
        f"evaluate.test_dataset_dir={ws.data / 'test'}",
        f"evaluate.test_dataset_gt_file={ws.data / 'test' / 'gt_new.txt'}",
    ]
    torch_args += ["evaluate.batch_size=5", f"evaluate.results_dir={tmp_path / 'pt_eval'}"]
    assert cli(["evaluate", "-e", str(ws.spec), *torch_args]) == 0
    assert (
        cli(["inference", "-e", str(ws.spec), "inference.batch_size=5", f"inference.results_dir={tmp_path / 'pt_inf'}"])
        == 0
    )

    deploy_eval, pt_eval = tmp_path / "deploy" / "evaluate", tmp_path / "pt_eval"
    result_files = {"results.json", "metrics.json", "predictions.csv", "log_evaluation.txt", "status.json"}
    assert result_files <= {p.name for p in deploy_eval.iterdir()} and result_files <= {
        p.name for p in pt_eval.iterdir()
    }
    assert json.loads((deploy_eval / "results.json").read_text()) == json.loads((pt_eval / "results.json").read_text())
    ours, theirs = _rows(deploy_eval / "predictions.csv"), _rows(pt_eval / "predictions.csv")
    assert len(ours) == 24 and [r["prediction"] for r in ours] == [r["prediction"] for r in theirs]
    assert [float(r["confidence"]) for r in ours] == pytest.approx([float(r["confidence"]) for r in theirs], abs=1e-5)
    ours, theirs = (
        _rows(tmp_path / "deploy" / "inference" / "inference.csv"),
        _rows(tmp_path / "pt_inf" / "inference.csv"),
    )
    assert list(ours[0]) == list(theirs[0]) == ["path", "text", "confidence"]
    assert [(r["path"], r["text"]) for r in ours] == [(r["path"], r["text"]) for r in theirs] and len(ours) == 24


def _fails(spec_tree: dict, tmp_path, capsys, *overrides: str, command: str = "evaluate") -> str:
    spec = tmp_path / "bad.yaml"
    spec.write_text(yaml.safe_dump(spec_tree))
    assert cli(["deploy", command, "-e", str(spec), *overrides]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "evaluate" / "results.json").exists()
    return err


def test_mismatched_character_list(exported_ctc, trained_workspace, tmp_path, capsys):
    chars = tmp_path / "chars.txt"
    chars.write_text("\n".join("0123456789abcdefghijklmnopqrstuvwxyZ") + "\n")
    tree = deploy_spec(trained_workspace, exported_ctc.onnx, tmp_path / "out")
    err = _fails(tree, tmp_path, capsys, f"dataset.character_list_file={chars}")
    assert "dataset.character_list_file" in err and "evaluate.trt_engine" in err


def test_mismatched_input_size(exported_ctc, trained_workspace, tmp_path, capsys):
    tree = deploy_spec(trained_workspace, exported_ctc.onnx, tmp_path / "out")
    err = _fails(tree, tmp_path, capsys, "model.input_width=128")
    assert "model.input_width" in err and "100" in err
    err = _fails(tree, tmp_path, capsys, "evaluate.input_height=64")
    assert "evaluate.input_height" in err


def test_files_that_cannot_be_deployed(exported_ctc, trained_workspace, tmp_path, capsys):
    ws = trained_workspace
    err = _fails(deploy_spec(ws, ws.best, tmp_path / "out"), tmp_path, capsys)
    assert "evaluate.trt_engine" in err and "ocrnet export" in err  # a .pth: use PyTorch evaluate or export
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not onnx")
    junk.with_name("junk.onnx.json").write_text(exported_ctc.onnx.with_name("ctc.onnx.json").read_text())
    err = _fails(deploy_spec(ws, junk, tmp_path / "out"), tmp_path, capsys)
    assert "not a loadable ONNX model" in err
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(exported_ctc.onnx.read_bytes())
    err = _fails(deploy_spec(ws, lone, tmp_path / "out"), tmp_path, capsys, command="inference")
    assert "sidecar" in err and "inference.trt_engine" in err
