# SPDX-License-Identifier: Apache-2.0
"""gen_trt_engine: plan (pure, tested on CPU) and build (needs tensorrt and a GPU) a TensorRT engine.

Planning turns the spec into an `EnginePlan`: explicit-batch optimisation profile, workspace in
MiB (the reference read it as GiB), per-layer precisions, the INT8 calibration source (an existing
cache is reused without reading images) and the output paths. Only the build needs `tensorrt`
(`deploy.trt_build.build_engine`, given the module `runtime.trt_backend.require_tensorrt` found).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from tao_ocrnet.deploy.calibration import CalibrationPlan, plan_calibration, read_cache
from tao_ocrnet.errors import ModelFileError, SpecError
from tao_ocrnet.runtime.sidecar import INPUT_NAME, Sidecar

log = logging.getLogger(__name__)

TRT = "gen_trt_engine.tensorrt"
CAL = f"{TRT}.calibration"
LARGE_WORKSPACE_MIB = 16 * 1024
PRECISIONS = {"fp32": "float32", "fp16": "float16", "int8": "int8"}


@dataclass(frozen=True)
class Profile:
    min: int
    opt: int
    max: int

    def shapes(self, chw: tuple[int, int, int]) -> tuple[tuple[int, ...], ...]:
        return tuple((b, *chw) for b in (self.min, self.opt, self.max))


@dataclass
class EnginePlan:
    onnx_file: Path
    engine_file: Path
    profile: Profile
    data_type: str
    workspace_bytes: int
    layers_precision: list[tuple[str, str]] = field(default_factory=list)
    timing_cache: Path | None = None
    cache_file: Path | None = None  # INT8 calibration cache
    calibration: CalibrationPlan | None = None  # None: the cache (or Q/DQ scales) is used
    verbose: bool = False


def engine_profile(cfg: Any, onnx_batch: int | None) -> Profile:
    """The optimisation profile. `batch_size` > 0 pins min = opt = max; -1 uses min/opt/max_batch_size.

    An ONNX file with a fixed batch allows only that batch; asking for another is an error, not a
    silent override, as the reference made.
    """
    t = cfg.tensorrt
    profile = Profile(cfg.batch_size, cfg.batch_size, cfg.batch_size) if cfg.batch_size > 0 else None
    profile = profile or Profile(t.min_batch_size, t.opt_batch_size, t.max_batch_size)
    if not profile.min <= profile.opt <= profile.max:
        raise SpecError(
            [
                f"`{TRT}.min_batch_size` <= `opt_batch_size` <= `max_batch_size` must hold "
                f"(got {profile.min}, {profile.opt}, {profile.max})"
            ]
        )
    if onnx_batch is not None and (profile.min, profile.max) != (onnx_batch, onnx_batch):
        raise SpecError(
            [
                f"the ONNX file has a fixed batch of {onnx_batch}, but `gen_trt_engine.batch_size` / "
                f"`{TRT}.*_batch_size` "
                f"ask for {profile.min}..{profile.max}; set gen_trt_engine.batch_size={onnx_batch} or export again "
                "(ocrnet export writes a dynamic batch)"
            ]
        )
    return profile


def workspace_bytes(mib: int) -> int:
    """`workspace_size` is MiB, as documented (the reference multiplied by 2**30)."""
    if mib >= LARGE_WORKSPACE_MIB:
        log.warning("%s.workspace_size = %d MiB (%.0f GiB) is very large; the unit is MiB", TRT, mib, mib / 1024)
    return int(mib) << 20


def parse_layers_precision(entries: list[str]) -> list[tuple[str, str]]:
    """`layer_name:fp16` entries (split at the last ':', since layer names contain ':'); precision any case."""
    parsed: list[tuple[str, str]] = []
    problems: list[str] = []
    for entry in entries:
        name, sep, precision = str(entry).rpartition(":")
        if not sep or not name or precision.strip().lower() not in PRECISIONS:
            problems.append(
                f"`{TRT}.layers_precision` entry {entry!r} must be `layer_name:precision` with precision one of "
                f"{', '.join(PRECISIONS)}"
            )
            continue
        parsed.append((name, precision.strip().lower()))
    if problems:
        raise SpecError(problems)
    return parsed


def default_engine_path(results_dir: Path, onnx_file: Path) -> Path:
    return results_dir / f"{onnx_file.stem}.engine"


def default_cache_path(engine_file: Path) -> Path:
    return engine_file.with_name(f"{engine_file.stem}.calib")


def onnx_batch_dim(path: Path) -> int | None:
    """The ONNX input's batch dimension: None when dynamic."""
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as exc:  # protobuf raises DecodeError and others for non-ONNX files
        raise ModelFileError(f"`gen_trt_engine.onnx_file`: {path} is not an ONNX file ({exc})") from None
    inputs = [i for i in graph.input if i.name == INPUT_NAME]
    if not inputs:
        raise ModelFileError(f"`gen_trt_engine.onnx_file`: {path} has no `{INPUT_NAME}` input; export it with ocrnet")
    dim = inputs[0].type.tensor_type.shape.dim[0]
    return int(dim.dim_value) if dim.HasField("dim_value") and dim.dim_value > 0 else None


def plan_engine(spec: Any, results_dir: Path, sidecar: Sidecar, onnx_file: Path) -> EnginePlan:
    """Everything the build needs, validated without TensorRT."""
    cfg = spec.gen_trt_engine
    t = cfg.tensorrt
    engine = Path(cfg.trt_engine).expanduser() if cfg.trt_engine else default_engine_path(results_dir, onnx_file)
    profile = engine_profile(cfg, onnx_batch_dim(onnx_file))
    layers = parse_layers_precision(list(t.layers_precision))
    if layers and t.data_type == "FP32":
        log.warning("%s.layers_precision only applies to FP16/INT8 builds; ignored for FP32", TRT)
        layers = []
    plan = EnginePlan(
        onnx_file=onnx_file,
        engine_file=engine,
        profile=profile,
        data_type=t.data_type,
        workspace_bytes=workspace_bytes(t.workspace_size),
        layers_precision=layers,
        timing_cache=Path(cfg.timing_cache).expanduser() if cfg.timing_cache else None,
        verbose=cfg.verbose,
    )
    qdq = (sidecar.quantization or {}).get("format") == "QDQ"
    if t.data_type == "INT8" and not qdq:
        cal = t.calibration
        plan.cache_file = Path(cal.cal_cache_file).expanduser() if cal.cal_cache_file else default_cache_path(engine)
        if not profile.min <= cal.cal_batch_size <= profile.max:
            raise SpecError(
                [
                    f"`{CAL}.cal_batch_size` = {cal.cal_batch_size} must lie within the optimisation profile "
                    f"({profile.min}..{profile.max}, `{TRT}.min_batch_size`..`max_batch_size`)"
                ]
            )
        if read_cache(plan.cache_file) is None:
            plan.calibration = plan_calibration(
                cal.cal_image_dir,
                cal.cal_batch_size,
                cal.cal_batches,
                dir_key=f"{CAL}.cal_image_dir",
                size_keys=(f"{CAL}.cal_batch_size", f"{CAL}.cal_batches"),
            )
        else:
            log.info("INT8: reusing calibration cache %s (no images are read)", plan.cache_file)
    return plan
