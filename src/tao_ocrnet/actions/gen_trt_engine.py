# SPDX-License-Identifier: Apache-2.0
"""`ocrnet gen_trt_engine`: a TensorRT engine from an exported ONNX file (GPU + tensorrt needed).

Everything that needs no GPU is checked first (the ONNX sidecar against the spec, the profile,
`layers_precision`, the INT8 calibration images or cache, the output path), so a bad spec fails
the same way on any machine; then a missing tensorrt package or GPU fails fast with a clear message.
The engine gets a sidecar too (`<engine>.json`: the ONNX sidecar plus the profile), which the
deploy actions use to check inputs and batch sizes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tao_ocrnet.actions.common import RunContext, cli_main
from tao_ocrnet.actions.evaluate import spec_for_arch
from tao_ocrnet.data.transforms import build_transform
from tao_ocrnet.deploy.calibration import iter_batches
from tao_ocrnet.deploy.files import output_folder, refuse_existing
from tao_ocrnet.deploy.trt_build import build_engine
from tao_ocrnet.deploy.trt_engine import plan_engine
from tao_ocrnet.errors import ModelFileError
from tao_ocrnet.runtime.backends import kind_of, spec_charset
from tao_ocrnet.runtime.sidecar import check_spec, read_sidecar, sidecar_path
from tao_ocrnet.runtime.trt_backend import require_tensorrt

log = logging.getLogger(__name__)

KEY = "gen_trt_engine.onnx_file"


def gen_trt_engine(ctx: RunContext) -> dict[str, Any]:
    onnx_file = Path(ctx.spec.gen_trt_engine.onnx_file).expanduser()
    if kind_of(onnx_file) != "onnx" or not onnx_file.is_file():
        raise ModelFileError(f"`{KEY}` must name an existing .onnx file from `ocrnet export` (got {onnx_file})")
    sidecar = read_sidecar(onnx_file, KEY)
    check_spec(sidecar, ctx.spec, spec_charset(ctx.spec), KEY)
    plan = plan_engine(ctx.spec, ctx.results_dir, sidecar, onnx_file)
    refuse_existing([plan.engine_file, sidecar_path(plan.engine_file)], "gen_trt_engine.trt_engine", ctx.overwrite)
    output_folder(plan.engine_file, "gen_trt_engine.trt_engine")
    trt = require_tensorrt()
    arch = sidecar.model_arch()
    batches = None
    if plan.calibration is not None:
        transform = build_transform(spec_for_arch(ctx.spec, arch), train=False)
        batches = iter_batches(plan.calibration, transform, arch.input_channel)
    chw = (arch.input_channel, arch.input_height, arch.input_width)
    build_engine(trt, plan, chw, batches)
    profile: dict[str, int | str] = {"min_batch_size": plan.profile.min, "opt_batch_size": plan.profile.opt}
    profile |= {"max_batch_size": plan.profile.max, "data_type": plan.data_type}
    sidecar.with_updates(source=str(onnx_file), tensorrt=profile).write(plan.engine_file)
    log.info("TensorRT engine written to %s (%s, batch %s)", plan.engine_file, plan.data_type, profile)
    return {"trt_engine": str(plan.engine_file), **profile}


main = cli_main("gen_trt_engine", gen_trt_engine)
