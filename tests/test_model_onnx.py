# SPDX-License-Identifier: Apache-2.0
"""A tiny CTC and a tiny Attn model export to ONNX opset 17 (TorchScript exporter) and match PyTorch."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch

from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.model.codec import make_codec
from tao_ocrnet.model.ocrnet import ExportWrapper, build_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.mark.slow
@pytest.mark.parametrize("prediction", ["CTC", "Attn"])
def test_onnx_parity(prediction: str) -> None:
    torch.manual_seed(0)
    arch = ModelArch(
        tps=True, prediction=prediction, feature_channel=32, hidden_size=16, max_label_length=6, charset=tuple("abc12")
    )
    wrapper = ExportWrapper(build_model(arch)).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about the fixed-length Python loop
        torch.onnx.export(
            wrapper,
            (torch.randn(2, 1, 32, 100),),
            buffer,
            dynamo=False,
            opset_version=17,
            input_names=["input"],
            output_names=["output_id", "output_prob"],
            dynamic_axes={"input": {0: "batch"}, "output_id": {0: "batch"}, "output_prob": {0: "batch"}},
        )
    graph = onnx.load_from_string(buffer.getvalue()).graph
    onnx.checker.check_model(onnx.load_from_string(buffer.getvalue()))
    assert all(node.domain in ("", "ai.onnx") for node in graph.node)  # no custom / fall-through ops
    assert {"GridSample", "LSTM"} <= {node.op_type for node in graph.node}

    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    image = torch.randn(3, 1, 32, 100)  # another batch size than the export's
    ids, probs = session.run(None, {"input": image.numpy()})
    with torch.no_grad():
        ref_ids, ref_probs = wrapper(image)
    assert ids.dtype == np.int32 and ids.shape == (3, arch.sequence_length)
    assert np.array_equal(ids, ref_ids.numpy())
    assert np.allclose(probs, ref_probs.numpy(), rtol=1e-3, atol=1e-4)
    codec = make_codec(prediction, arch.charset)
    got, want = codec.decode(ids, probs), codec.decode(ref_ids.numpy(), ref_probs.numpy())
    assert [text for text, _ in got] == [text for text, _ in want]
    assert [conf for _, conf in got] == pytest.approx([conf for _, conf in want], rel=1e-2)
