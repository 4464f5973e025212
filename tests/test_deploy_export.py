# SPDX-License-Identifier: Apache-2.0
"""`ocrnet export`: the reference ONNX contract, parity with PyTorch in plain ONNX Runtime, sidecar, and refusals."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from tao_ocrnet.cli import main as cli
from tao_ocrnet.data.charset import charset_hash
from tao_ocrnet.model.checkpoint import load_model_file
from tao_ocrnet.model.ocrnet import ExportWrapper

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]


def _ort_vs_torch(onnx_path, model_path, batch: int = 4) -> None:
    model, arch, _ = load_model_file(model_path)
    images = torch.rand(batch, arch.input_channel, arch.input_height, arch.input_width) * 2 - 1
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ids, probs = session.run(["output_id", "output_prob"], {"input": images.numpy()})
    with torch.no_grad():
        ref_ids, ref_probs = ExportWrapper(model)(images)
    assert ids.dtype == np.int32 and ids.shape == (batch, arch.sequence_length)
    assert probs.dtype == np.float32 and probs.shape == ids.shape
    assert np.array_equal(ids, ref_ids.numpy())
    assert np.abs(probs - ref_probs.numpy()).max() <= 1e-4


def test_ctc_export_contract_sidecar_and_parity(exported_ctc, trained_workspace):
    model = onnx.load(str(exported_ctc.onnx))
    assert model.opset_import[0].version == 17
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["output_id", "output_prob"]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [1, 32, 100]  # only the batch is dynamic
    assert {n.domain for n in model.graph.node} <= {"", "ai.onnx"}
    side = json.loads((exported_ctc.onnx.parent / "ctc.onnx.json").read_text())
    chars = tuple((trained_workspace.data / "character_list").read_text().split())
    assert side["charset_hash"] == charset_hash(chars) and side["prediction"] == "CTC"
    assert (side["input_channel"], side["input_height"], side["input_width"], side["sequence_length"]) == (
        1,
        32,
        100,
        26,
    )
    _ort_vs_torch(exported_ctc.onnx, trained_workspace.best)


def test_attn_tps_export_parity(attn_tps_model, trained_workspace, tmp_path):
    out = tmp_path / "attn.onnx"
    args = [f"export.checkpoint={attn_tps_model}", f"export.onnx_file={out}", f"export.results_dir={tmp_path / 'r'}"]
    code = cli(["export", "-e", str(trained_workspace.spec), *args])
    assert code == 0
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert {"GridSample", "LSTM"} <= ops
    side = json.loads(out.with_name("attn.onnx.json").read_text())
    assert side["prediction"] == "Attn" and side["sequence_length"] == 9  # max_label_length 8 + 1
    _ort_vs_torch(out, attn_tps_model, batch=3)
    # Deploy evaluate on ONNX Runtime decodes Attn exactly like PyTorch evaluate.
    ws, test = trained_workspace, trained_workspace.data / "test"
    data = [f"evaluate.test_dataset_dir={test}", f"evaluate.test_dataset_gt_file={test / 'gt_new.txt'}"]
    deploy = [*data, f"evaluate.trt_engine={out}", f"evaluate.results_dir={tmp_path / 'd'}"]
    assert cli(["deploy", "evaluate", "-e", str(ws.spec), *deploy]) == 0
    pytorch = [*data, f"evaluate.checkpoint={attn_tps_model}", f"evaluate.results_dir={tmp_path / 'p'}"]
    assert cli(["evaluate", "-e", str(ws.spec), *pytorch]) == 0
    ours, theirs = ((tmp_path / d / "predictions.csv").read_text().splitlines() for d in ("d", "p"))
    assert [r.split(",")[:3] for r in ours] == [r.split(",")[:3] for r in theirs] and len(ours) > 10


def test_parity_failure_fails_and_leaves_no_file(exported_ctc, tmp_path, monkeypatch, capsys):
    from tao_ocrnet.deploy import onnx_export

    real = onnx_export.torch_outputs
    monkeypatch.setattr(onnx_export, "torch_outputs", lambda m, x: (real(m, x)[0] + 1, real(m, x)[1]))
    out = tmp_path / "out" / "bad.onnx"
    args = [f"export.onnx_file={out}", f"export.results_dir={tmp_path / 'r'}"]
    assert cli(["export", "-e", str(exported_ctc.spec), *args]) == 2
    assert "disagree on output_id" in capsys.readouterr().err
    assert list(out.parent.iterdir()) == []  # no .onnx, no sidecar, no temporary file


def test_existing_output_is_kept_without_overwrite(exported_ctc, tmp_path, capsys):
    before = exported_ctc.onnx.read_bytes()
    args = [f"export.onnx_file={exported_ctc.onnx}", f"export.results_dir={tmp_path}"]
    assert cli(["export", "-e", str(exported_ctc.spec), *args]) == 2
    err = capsys.readouterr().err
    assert "export.onnx_file" in err and "--overwrite" in err and "Traceback" not in err
    assert exported_ctc.onnx.read_bytes() == before


def test_input_size_mismatch_names_the_keys(exported_ctc, tmp_path, capsys):
    args = ["model.input_width=120", f"export.onnx_file={tmp_path / 'x.onnx'}", f"export.results_dir={tmp_path}"]
    assert cli(["export", "-e", str(exported_ctc.spec), *args]) == 2
    err = capsys.readouterr().err
    assert "model.input_width" in err and "export.checkpoint" in err
    assert not (tmp_path / "x.onnx").exists()


def test_a_file_that_is_not_a_model(trained_workspace, tmp_path, capsys):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a model at all")
    args = [f"export.checkpoint={junk}", f"export.results_dir={tmp_path}"]
    assert cli(["export", "-e", str(trained_workspace.spec), *args]) == 2
    assert "export.checkpoint" in capsys.readouterr().err
