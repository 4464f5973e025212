# SPDX-License-Identifier: Apache-2.0
"""`ocrnet quantize`: post-training quantization (see `deploy.quantize` for the backends).

Artifacts in `quantize.results_dir` (default `<results_dir>/quantize`), with the reference's names:
`quantized_model_torchao.pth`, `quantized_model.onnx` (+ sidecar) for onnxruntime / modelopt.onnx,
`quantized_model_modelopt.pytorch.pth`. An existing artifact is replaced only with --overwrite.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tao_ocrnet.actions.common import RunContext, cli_main
from tao_ocrnet.actions.evaluate import spec_for_arch
from tao_ocrnet.atomic import staged
from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.data.transforms import build_transform
from tao_ocrnet.deploy import quantize as q
from tao_ocrnet.deploy.calibration import CalibrationPlan, collect_images, iter_batches, plan_calibration
from tao_ocrnet.deploy.files import output_folder, refuse_existing
from tao_ocrnet.deploy.onnx_export import check_graph, export_onnx, sample_images
from tao_ocrnet.errors import DataError, SpecError
from tao_ocrnet.model.checkpoint import load_model_file, resolve_model_path, save_model_file
from tao_ocrnet.model.ocrnet import OCRNet
from tao_ocrnet.model.quantized import import_modelopt
from tao_ocrnet.runtime.backends import kind_of, spec_charset
from tao_ocrnet.runtime.ort_backend import open_session
from tao_ocrnet.runtime.sidecar import INPUT_NAME, Sidecar, check_spec, read_sidecar, sidecar_path

log = logging.getLogger(__name__)

KEY = "quantize.model_path"


def quantize_device(value: str) -> str:
    if value.startswith("cuda") and torch.cuda.is_available():
        return value
    if value != "cpu":
        log.info("quantize.device=%s: no CUDA device here, quantizing on the CPU", value)
    return "cpu"


def _load_float(ctx: RunContext, source: Path) -> tuple[OCRNet, ModelArch]:
    model, arch, _ = load_model_file(
        source, allow_pickle=ctx.allow_pickle, expected_charset=spec_charset(ctx.spec), key=KEY, allow_quantized=False
    )
    return model, arch


def _calibration_plan(ctx: RunContext) -> CalibrationPlan:
    """The calibration images (checked before any model work, so a bad folder fails fast)."""
    folder = ctx.spec.dataset.quant_calibration_dataset.images_dir
    found = collect_images([folder], q.CAL_KEY)
    if not found:
        raise DataError(f"`{q.CAL_KEY}`: {folder} holds no .jpg/.jpeg/.png/.bmp images (searched recursively)")
    batch, batches = q.calibration_counts(len(found), ctx.spec.quantize)
    sizes = ("quantize.backend_kwargs.calibration_batch_size", "calibration batches")
    return plan_calibration([folder], batch, batches, dir_key=q.CAL_KEY, size_keys=sizes)


def _batches(ctx: RunContext, plan: CalibrationPlan, arch: ModelArch) -> Iterator[np.ndarray]:
    """Preprocessed calibration batches (evaluation preprocessing at the model's input size)."""
    transform = build_transform(spec_for_arch(ctx.spec, arch), train=False)
    log.info("calibrating on %d image(s) in %d batch(es) of %d", plan.needed, plan.batches, plan.batch_size)
    return iter_batches(plan, transform, arch.input_channel)


def _float_onnx(ctx: RunContext, source: Path, workdir: Path) -> tuple[Path, Sidecar]:
    """(float ONNX path, sidecar): the given ONNX file, or an export of the checkpoint (parity-checked)."""
    if kind_of(source) == "onnx":
        sidecar = read_sidecar(source, KEY)
        check_spec(sidecar, ctx.spec, spec_charset(ctx.spec), KEY)
        return source, sidecar
    model, arch = _load_float(ctx, source)
    path = workdir / "float.onnx"
    export_onnx(model, arch, path, source=str(source), overwrite=True, key=KEY)
    return path, read_sidecar(path, KEY)


def _quantize_to_onnx(ctx: RunContext, source: Path, out: Path, plan: CalibrationPlan) -> dict[str, Any]:
    cfg = ctx.spec.quantize
    with tempfile.TemporaryDirectory(prefix="ocrnet-quantize-", dir=out.parent) as tmp:
        float_path, sidecar = _float_onnx(ctx, source, Path(tmp))
        arch = sidecar.model_arch()
        batches, used = _batches(ctx, plan, arch), plan.needed
        with staged(out) as staged_path:
            if cfg.backend == "onnxruntime":
                entry = q.quantize_onnxruntime(float_path, staged_path, batches, cfg)
            else:
                entry = q.quantize_modelopt_onnx(float_path, staged_path, batches, cfg)
            check_graph(staged_path)
            ids, _ = open_session(staged_path, KEY).run(None, {INPUT_NAME: sample_images(arch, 2).numpy()})
            if ids.shape != (2, arch.sequence_length):
                raise SpecError([f"the quantized ONNX outputs {ids.shape}; expected [2, {arch.sequence_length}]"])
            entry["calibration_images"] = used
            sidecar.with_updates(source=str(source), quantization=entry).write(out)
    return {"quantized_model": str(out), "backend": cfg.backend, "calibration_images": used}


def quantize(ctx: RunContext) -> dict[str, Any]:
    cfg = ctx.spec.quantize
    source = resolve_model_path(cfg.model_path, KEY)
    problems = q.request_problems(cfg, ctx.spec.dataset.quant_calibration_dataset.images_dir, kind_of(source) == "onnx")
    if problems:
        raise SpecError(problems)
    if cfg.backend.startswith("modelopt"):
        import_modelopt()  # fail before any work when nvidia-modelopt is missing
    if ctx.spec.model.quantize:
        log.warning("model.quantize (QAT) is a training setting and is ignored by post-training quantize")
    plan = _calibration_plan(ctx) if q.MODES[cfg.backend] == "static_ptq" else None
    out = ctx.results_dir / q.artifact_name(cfg.backend)
    refuse_existing([out, sidecar_path(out)] if out.suffix == ".onnx" else [out], "quantize.results_dir", ctx.overwrite)
    output_folder(out, "quantize.results_dir")
    if out.suffix == ".onnx":
        assert plan is not None  # the ONNX backends are static_ptq
        result = _quantize_to_onnx(ctx, source, out, plan)
    else:
        float_model, arch = _load_float(ctx, source)
        model: nn.Module
        if cfg.backend == "torchao":
            model, entry = q.quantize_torchao(float_model, cfg, quantize_device(cfg.device))
            extra: dict[str, Any] = {}
        else:
            assert plan is not None  # modelopt.pytorch is static_ptq
            model, entry, extra = q.quantize_modelopt_pytorch(float_model, cfg, _batches(ctx, plan, arch))
            entry["calibration_images"] = plan.needed
        save_model_file(out, model, arch, quantization=entry, **extra)
        try:
            load_model_file(out)  # the artifact must load back (weights-only) before we report success
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        layers = len(entry.get("modules", {}))
        result = {"quantized_model": str(out), "backend": cfg.backend, "quantized_layers": layers}
    log.info("quantized model written to %s", out)
    return result


main = cli_main("quantize", quantize)
