# SPDX-License-Identifier: Apache-2.0
"""spec_params: the functions skill_info maps spec keys to, evaluated before a job is created.

Deterministic model selection from a parent job, never "the newest file by time":
- a train/retrain parent gives `best_accuracy.pth`, or exactly `model_epoch_EEE_step_SSSSS.pth` when the
  request names an epoch and/or step; a missing file is an error listing what exists;
- an export parent gives its ONNX file, a prune parent its pruned `.pth`, a gen_trt_engine parent its engine
  (the paths those jobs recorded as outputs).
A parent that is not COMPLETE, of an action the key cannot use, or without the artifact is an error naming
the parent and what was looked for. `resume_model` takes the latest *readable* periodic checkpoint (by the
epoch and step in its name) of the job named by `--resume-from`.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tao_ocrnet.config.fields import MISSING
from tao_ocrnet.config.loader import apply_overrides
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.record import COMPLETE, state_of

# checkpoint_names is torch-free: the naming rules live with the trainer that writes the files.
from tao_ocrnet.results.checkpoints import BEST_NAME, parse_periodic, periodic_checkpoints
from tao_ocrnet.results.layout import get_dotted, task_dir

SKIP = object()  # a function's "leave the key alone"

# What a parent-model key can be fed from, by the kind of file the key expects.
TRAINED = ("train", "retrain")
ACCEPTED_PARENTS: dict[str, tuple[str, ...]] = {
    "checkpoint": (*TRAINED, "prune"),  # a .pth model: evaluate/inference/export/prune/quantize
    "onnx": ("export",),  # gen_trt_engine.onnx_file
    "engine": ("gen_trt_engine", "export"),  # deploy evaluate/inference: a TensorRT engine, or ONNX for ONNX Runtime
    "pruned": ("prune",),  # retrain's model.pruned_graph_path
    "pretrained": TRAINED,  # train.pretrained_model_path (fine-tuning from a parent)
}
# The functions whose key names a model file the action reads (a parent's, a resumed job's, or the user's).
MODEL_FUNCTIONS = ("parent_model", "pruned_model", "ptm_if_no_resume_model", "resume_model")
# The output key under which each parent action records its model file.
PARENT_OUTPUT = {
    "export": "export.onnx_file",
    "prune": "prune.pruned_file",
    "gen_trt_engine": "gen_trt_engine.trt_engine",
}
# create_* functions: the output file name is derived from this input key's file stem.
_CREATE = {
    "create_onnx_file": ("export.checkpoint", "{stem}.onnx"),
    "create_pth_file": ("prune.checkpoint", "pruned_{stem}.pth"),
    "create_engine_file": ("gen_trt_engine.onnx_file", "{stem}.engine"),
    "create_cal_cache": ("", "cal.bin"),
}


def model_keys(params: Mapping[str, str]) -> list[str]:
    """The spec keys of an action's spec_params that name a model file it reads."""
    return [key for key, fn in params.items() if fn in MODEL_FUNCTIONS]


def key_kind(key: str) -> str:
    if key == "model.pruned_graph_path":
        return "pruned"
    if key == "gen_trt_engine.onnx_file":
        return "onnx"
    if key.endswith(".trt_engine"):
        return "engine"
    return "checkpoint"


@dataclass
class ParamRequest:
    parent: dict[str, Any] | None = None  # the parent job's record (reconciled)
    resume_from: dict[str, Any] | None = None  # the job to resume from (train/retrain)
    epoch: int | None = None
    step: int | None = None


@dataclass
class ParamContext:
    action: str
    tree: dict[str, Any]
    results_dir: Path
    request: ParamRequest
    used_parent: bool = False
    resume_checkpoint: Path | None = None
    notes: list[str] = field(default_factory=list)


def _describe(record: dict[str, Any]) -> str:
    return f"parent job `{record['id']}` ({record['action']}, {state_of(record)})"


def _task_dir(record: dict[str, Any]) -> Path:
    return Path((record.get("outputs") or {}).get("task_dir") or record["results_dir"])


def check_parent(record: dict[str, Any], key: str, accepted: tuple[str, ...]) -> None:
    if record["action"] not in accepted:
        raise UserError(f"{_describe(record)} cannot feed `{key}`: it needs a {' or '.join(accepted)} job")
    if state_of(record) != COMPLETE:
        raise UserError(
            f"{_describe(record)} is not COMPLETE; `{key}` reads its results once it is "
            f"(ocrnet jobs status {record['id']})"
        )


def training_checkpoint(record: dict[str, Any], epoch: int | None, step: int | None) -> Path:
    """best_accuracy.pth, or the one periodic checkpoint matching the requested epoch/step."""
    folder = _task_dir(record)
    periodic = periodic_checkpoints(folder) if folder.is_dir() else []
    available = ", ".join(p.name for p in periodic) or "none"
    if epoch is None and step is None:
        best = folder / BEST_NAME
        if best.is_file():
            return best
        raise UserError(
            f"{_describe(record)} has no {BEST_NAME} in {folder}; name an exact checkpoint with "
            f"--checkpoint-epoch/--checkpoint-step (periodic checkpoints there: {available})"
        )
    matches = []
    for path in periodic:
        e, s = parse_periodic(path.name) or (-1, -1)
        if (epoch is None or e == epoch) and (step is None or s == step):
            matches.append(path)
    wanted = " and ".join(f"{n} {v}" for n, v in (("epoch", epoch), ("step", step)) if v is not None)
    if not matches:
        raise UserError(f"{_describe(record)} has no checkpoint for {wanted} in {folder} (available: {available})")
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches)
        raise UserError(f"{_describe(record)} has several checkpoints for {wanted} ({names}); add --checkpoint-step")
    return matches[0]


def model_from_parent(record: dict[str, Any], key: str, epoch: int | None, step: int | None) -> Path:
    kind = key_kind(key)
    check_parent(record, key, ACCEPTED_PARENTS[kind])
    if record["action"] in TRAINED:
        return training_checkpoint(record, epoch, step)
    if epoch is not None or step is not None:
        raise UserError(f"{_describe(record)} has no epoch checkpoints; --checkpoint-epoch/--checkpoint-step "
                        "apply to train and retrain parents")  # fmt: skip
    out_key = PARENT_OUTPUT[record["action"]]
    recorded = (record.get("outputs") or {}).get(out_key)
    if not recorded or not Path(recorded).is_file():
        raise UserError(f"{_describe(record)} has no `{out_key}` file ({recorded or 'none recorded'}) for `{key}`")
    return Path(recorded)


def latest_readable_checkpoint(folder: Path) -> Path | None:
    """The newest periodic checkpoint by (epoch, step) in its name whose zip container is whole.

    A job killed mid-save leaves a torn file; torch checkpoints are zip files, so a missing central
    directory means "torn" without importing torch.
    """
    for path in reversed(periodic_checkpoints(folder) if folder.is_dir() else []):
        if zipfile.is_zipfile(path):
            return path
    return None


def resume_checkpoint(record: dict[str, Any], action: str) -> Path:
    if record["action"] != action:
        raise UserError(f"cannot resume a {action} job from `{record['id']}`, a {record['action']} job")
    if state_of(record) not in ("ERROR", "CANCELED", "COMPLETE"):
        raise UserError(
            f"job `{record['id']}` is {state_of(record)}; resume only from a finished, failed or canceled job "
            f"(ocrnet jobs cancel {record['id']})"
        )
    found = latest_readable_checkpoint(_task_dir(record))
    if found is None:
        raise UserError(
            f"job `{record['id']}` has no readable model_epoch_*_step_*.pth checkpoint in {_task_dir(record)} "
            "to resume from"
        )
    return found


# --- the functions -------------------------------------------------------------------------------


def output_dir(ctx: ParamContext, key: str) -> Any:
    return str(ctx.results_dir)


def key_param(ctx: ParamContext, key: str) -> Any:
    # The key never enters the spec: the runner reads it from the environment variable named at submit.
    return SKIP


def parent_model(ctx: ParamContext, key: str) -> Any:
    parent = ctx.request.parent
    if parent is None:
        return SKIP
    ctx.used_parent = True
    return str(model_from_parent(parent, key, ctx.request.epoch, ctx.request.step))


def pruned_model(ctx: ParamContext, key: str) -> Any:
    parent = ctx.request.parent
    if parent is None:
        return SKIP
    ctx.used_parent = True
    check_parent(parent, key, ACCEPTED_PARENTS["pruned"])
    return str(model_from_parent(parent, key, None, None))


def resume_model(ctx: ParamContext, key: str) -> Any:
    source = ctx.request.resume_from
    if source is None:
        return SKIP
    ctx.resume_checkpoint = resume_checkpoint(source, ctx.action)
    ctx.notes.append(f"resuming from {ctx.resume_checkpoint} (job {source['id']})")
    return str(ctx.resume_checkpoint)


def ptm_if_no_resume_model(ctx: ParamContext, key: str) -> Any:
    if ctx.resume_checkpoint is not None:
        return ""  # resuming restores every weight: no pretrained model on top
    parent = ctx.request.parent
    if parent is None:
        return SKIP
    ctx.used_parent = True
    check_parent(parent, key, ACCEPTED_PARENTS["pretrained"])
    return str(training_checkpoint(parent, ctx.request.epoch, ctx.request.step))


def _create(fn: str) -> Callable[[ParamContext, str], Any]:
    source_key, pattern = _CREATE[fn]

    def create(ctx: ParamContext, key: str) -> Any:
        folder = task_dir(ctx.tree, ctx.action) or ctx.results_dir
        source = get_dotted(ctx.tree, source_key) if source_key else None
        stem = PurePosixPath(str(source)).stem if source and source != MISSING else "model"
        return str(folder / pattern.format(stem=stem))

    return create


FUNCTIONS: dict[str, Callable[[ParamContext, str], Any]] = {
    "output_dir": output_dir,
    "key": key_param,
    "resume_model": resume_model,
    "parent_model": parent_model,
    "pruned_model": pruned_model,
    "ptm_if_no_resume_model": ptm_if_no_resume_model,
    **{fn: _create(fn) for fn in _CREATE},
}
# Evaluation order: the results folder first (outputs live in it), resume before the pretrained choice,
# parent models before the output names derived from them.
ORDER = tuple(FUNCTIONS)


def evaluate_params(
    action: str,
    params: Mapping[str, str],
    tree: dict[str, Any],
    results_dir: Path,
    request: ParamRequest,
    skip: set[str],
) -> tuple[dict[str, Any], ParamContext]:
    """{dotted key: value} for every mapped key the user did not override; the context keeps the notes."""
    unknown = sorted(set(params.values()) - set(FUNCTIONS))
    if unknown:
        raise UserError(f"skill_info spec_params for {action} name unknown functions: {', '.join(unknown)}")
    ctx = ParamContext(action, tree, results_dir, request)
    values: dict[str, Any] = {}
    for fn in ORDER:
        for key in (k for k, f in params.items() if f == fn and k not in skip):
            value = FUNCTIONS[fn](ctx, key)
            if value is not SKIP:
                values[key] = value
                ctx.tree = apply_overrides(ctx.tree, [(key, value)])  # later functions see earlier values
    if request.parent is not None and not ctx.used_parent:
        readers = [k for k, f in params.items() if f in ("parent_model", "pruned_model", "ptm_if_no_resume_model")]
        if not readers:
            raise UserError(f"{action} takes no parent job; drop --parent-job")
        raise UserError(f"--parent-job is unused: every key that reads it ({', '.join(readers)}) is set by an override")
    return values, ctx
