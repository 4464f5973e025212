# SPDX-License-Identifier: Apache-2.0
"""`ocrnet export`: a model file (float, pruned or quantized) to ONNX with the reference contract.

Default output `<results_dir>/<checkpoint stem>.onnx` plus its sidecar `<...>.onnx.json`; an existing
output is replaced only with --overwrite. A torchao-quantized model exports its int8-rounded weights
in float32 (same numbers); an `.onnx` checkpoint (e.g. the onnxruntime QDQ model) is re-checked and
published with its sidecar, so gen_trt_engine can take it from the export job.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from tao_ocrnet.actions.common import RunContext, cli_main
from tao_ocrnet.atomic import staged
from tao_ocrnet.deploy.files import output_folder, refuse_existing
from tao_ocrnet.deploy.onnx_export import check_graph, export_onnx, sample_images
from tao_ocrnet.errors import SpecError
from tao_ocrnet.model.checkpoint import resolve_model_path
from tao_ocrnet.model.quantized import dequantized_copy, quantized_modules
from tao_ocrnet.runtime.backends import kind_of, spec_charset
from tao_ocrnet.runtime.ort_backend import open_session
from tao_ocrnet.runtime.predictor import load_model
from tao_ocrnet.runtime.sidecar import INPUT_NAME, Sidecar, check_spec, read_sidecar, sidecar_path

log = logging.getLogger(__name__)

KEY = "export.checkpoint"
OUT_KEY = "export.onnx_file"


def output_path(ctx: RunContext, source: Path) -> Path:
    value = ctx.spec.export.onnx_file
    out = Path(value).expanduser() if value else ctx.results_dir / f"{source.stem}.onnx"
    if out.resolve() == source.resolve():
        raise SpecError([f"`{OUT_KEY}` is the same file as `{KEY}`; choose another output path"])
    return out


def export_device(gpu_id: int) -> str:
    """`cuda:<gpu_id>` when CUDA is present, else the CPU (the reference hard-coded CUDA)."""
    if not torch.cuda.is_available():
        return "cpu"
    if gpu_id >= torch.cuda.device_count():
        raise SpecError([f"`export.gpu_id` = {gpu_id}, but only {torch.cuda.device_count()} GPU(s) are visible"])
    return f"cuda:{gpu_id}"


def republish_onnx(ctx: RunContext, source: Path, out: Path) -> dict[str, Any]:
    """Check an existing ONNX file (contract, sidecar vs spec) and copy it with its sidecar."""
    sidecar = read_sidecar(source, KEY)
    check_spec(sidecar, ctx.spec, spec_charset(ctx.spec), KEY)
    refuse_existing([out, sidecar_path(out)], OUT_KEY, ctx.overwrite)
    output_folder(out, OUT_KEY)
    check_graph(source)
    arch = sidecar.model_arch()
    ids, _ = open_session(source, KEY).run(None, {INPUT_NAME: sample_images(arch, 2).numpy()})
    if ids.shape != (2, arch.sequence_length):
        raise SpecError([f"`{KEY}`: {source} outputs {ids.shape}, its sidecar says [B, {arch.sequence_length}]"])
    with staged(out) as tmp:
        tmp.write_bytes(source.read_bytes())
        sidecar.with_updates(source=str(source)).write(out)
    return {"onnx_file": str(out), "sidecar": str(sidecar_path(out)), "sequence_length": arch.sequence_length}


def export(ctx: RunContext) -> dict[str, Any]:
    source = resolve_model_path(ctx.spec.export.checkpoint, KEY)
    out = output_path(ctx, source)
    if kind_of(source) == "onnx":
        return republish_onnx(ctx, source, out)
    if kind_of(source) == "tensorrt":
        raise SpecError([f"`{KEY}` is a TensorRT engine; export reads PyTorch model files (.pth) or ONNX files"])
    model, arch = load_model(ctx.spec, source, KEY, ctx.allow_pickle)
    check_spec(Sidecar.for_arch(arch), ctx.spec, None, KEY)  # input sizes named in the spec must match
    quantization = None
    if quantized_modules(model):
        log.info("torchao-quantized model: exporting its int8-rounded weights as float32")
        quantization = {"backend": "torchao", "format": "dequantized-float32"}
        model = dequantized_copy(model)
    device = export_device(ctx.spec.export.gpu_id)
    return export_onnx(
        model, arch, out, source=str(source), overwrite=ctx.overwrite, device=device, quantization=quantization
    )


main = cli_main("export", export)
