# SPDX-License-Identifier: Apache-2.0
"""ONNX export with the reference contract, checked before it is published.

The reference's ONNX contract, which deploy consumers rely on: input `input` float32 [batch, C, H, W]
(dynamic batch only); outputs `output_id` int32 [batch, T] and `output_prob` float32 [batch, T]; softmax and max inside
the graph; opset 17; TorchScript exporter. The file is written to a temporary path, checked with
`onnx.checker`, scanned for custom / fall-through ops, and run in plain ONNX Runtime against
PyTorch on sample inputs; only then is it renamed into place, together with its sidecar.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from tao_ocrnet.atomic import staged
from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.deploy.files import output_folder, refuse_existing
from tao_ocrnet.errors import ModelFileError
from tao_ocrnet.model.ocrnet import ExportWrapper, OCRNet
from tao_ocrnet.runtime.ort_backend import open_session
from tao_ocrnet.runtime.sidecar import INPUT_NAME, OUTPUT_NAMES, Sidecar, sidecar_path

log = logging.getLogger(__name__)

OPSET = 17
PROB_TOLERANCE = 1e-4
_STANDARD_DOMAINS = ("", "ai.onnx")
_EXPORT_BATCH = 2  # the traced batch; parity runs another size to prove the batch axis is dynamic
_PARITY_BATCH = 3


def sample_images(arch: ModelArch, batch: int, seed: int = 0) -> torch.Tensor:
    """Deterministic images in the preprocessed range [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    shape = (batch, arch.input_channel, arch.input_height, arch.input_width)
    return torch.rand(shape, generator=gen) * 2 - 1


def trace_to_onnx(model: OCRNet, arch: ModelArch, path: Path, device: str = "cpu") -> None:
    """Write the wrapped model to `path` (no checks)."""
    wrapper = ExportWrapper(model).to(device).eval()
    dummy = sample_images(arch, _EXPORT_BATCH).to(device)
    dynamic = {name: {0: "batch"} for name in (INPUT_NAME, *OUTPUT_NAMES)}
    with warnings.catch_warnings(), torch.no_grad():
        # Tracer warnings about the fixed-length Attn loop and the exporter's deprecation notice.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (dummy,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=dynamic,
            do_constant_folding=True,
        )


def check_graph(path: Path) -> None:
    """onnx.checker plus the "plain ONNX Runtime" rule: standard-domain ops only."""
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ModelFileError(f"the exported graph is not valid ONNX: {str(exc).splitlines()[0]}") from None
    graph = onnx.load(str(path), load_external_data=False).graph
    custom = sorted({f"{n.domain}::{n.op_type}" for n in graph.node if n.domain not in _STANDARD_DOMAINS})
    if custom:
        raise ModelFileError(f"the exported graph uses custom or fall-through ops {custom}; it would not load in ORT")


def torch_outputs(model: OCRNet, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    wrapper = ExportWrapper(model).eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        ids, probs = wrapper(images.to(device))
    return ids.cpu().numpy(), probs.cpu().numpy()


def check_parity(path: Path, model: OCRNet, arch: ModelArch) -> float:
    """Run the file in ONNX Runtime against PyTorch; return the largest probability difference.

    Raises ModelFileError unless `output_id` is identical (dtype int32, shape [B, T]) and
    `output_prob` agrees within PROB_TOLERANCE.
    """
    images = sample_images(arch, _PARITY_BATCH, seed=1)
    session = open_session(path, "export.onnx_file")
    ids, probs = session.run(list(OUTPUT_NAMES), {INPUT_NAME: images.numpy()})
    ref_ids, ref_probs = torch_outputs(model, images)
    expected = (_PARITY_BATCH, arch.sequence_length)
    if ids.dtype != np.int32 or ids.shape != expected or probs.shape != expected:
        raise ModelFileError(
            f"ONNX outputs have shapes {ids.shape} ({ids.dtype}) and {probs.shape}; the contract is int32 {expected}"
        )
    if not np.array_equal(ids, ref_ids):
        steps = int((ids != ref_ids).sum())
        raise ModelFileError(f"ONNX Runtime and PyTorch disagree on output_id at {steps} step(s) of the sample batch")
    diff = float(np.abs(probs - ref_probs).max())
    if diff > PROB_TOLERANCE:
        raise ModelFileError(f"ONNX Runtime and PyTorch output_prob differ by {diff:.2e} (> {PROB_TOLERANCE:g})")
    return diff


def export_onnx(
    model: OCRNet,
    arch: ModelArch,
    out: Path,
    *,
    source: str,
    overwrite: bool = False,
    device: str = "cpu",
    quantization: dict[str, Any] | None = None,
    key: str = "export.onnx_file",
) -> dict[str, Any]:
    """Export, check and publish `out` + its sidecar. Nothing is left at `out` when a check fails."""
    sidecar_file = sidecar_path(out)
    refuse_existing([out, sidecar_file], key, overwrite)
    output_folder(out, key)
    model = model.eval()
    with staged(out) as tmp:
        trace_to_onnx(model.to(device), arch, tmp, device)
        try:
            check_graph(tmp)
            diff = check_parity(tmp, model.cpu(), arch)
        except ModelFileError as exc:
            raise ModelFileError(f"`{key}`: {exc}; no file was written (please report this as a bug)") from None
        sidecar = Sidecar.for_arch(arch, source=source, opset=OPSET, quantization=quantization)
        sidecar.write(out)  # written first: a published .onnx always has its sidecar
    log.info("exported %s (T=%d, max |prob diff| vs PyTorch %.2e)", out, arch.sequence_length, diff)
    return {
        "onnx_file": str(out),
        "sidecar": str(sidecar_file),
        "sequence_length": arch.sequence_length,
        "opset": OPSET,
        "max_prob_diff": diff,
    }
