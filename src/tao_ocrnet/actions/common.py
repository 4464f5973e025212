# SPDX-License-Identifier: Apache-2.0
"""What every action shares: the results_dir rule, status.json, experiment.yaml, logging, the run wrapper."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tao_ocrnet.config.actions import action_info
from tao_ocrnet.config.introspect import leaf_index
from tao_ocrnet.config.loader import load_spec
from tao_ocrnet.config.spec import ExperimentSpec
from tao_ocrnet.errors import SpecError, UserError

log = logging.getLogger(__name__)

# status.json time stamps, as the reference writes them
STATUS_DATE = "%m/%d/%Y"
STATUS_TIME = "%H:%M:%S"

# The section whose results_dir an action uses (retrain is train; deploy actions use their section).
_TASK_SECTION = {"retrain": "train", "trt_evaluate": "evaluate", "trt_inference": "inference"}


def resolve_results_dir(spec: ExperimentSpec, action: str) -> Path:
    """TAO's rule: `<task>.results_dir` if set, else `<results_dir>/<task>`.

    dataset_convert writes its LMDB straight into `dataset_convert.results_dir`, else
    `<results_dir>/dataset_convert/lmdb`, as the reference does.
    """
    task = _TASK_SECTION.get(action, action)
    section = getattr(spec, task, None)
    own = getattr(section, "results_dir", "") if section is not None else ""
    if own:
        return Path(own).expanduser()
    if not spec.results_dir:
        raise SpecError(
            [f"`results_dir` (or `{task}.results_dir`) is required for {action}; set results_dir=/path/to/results"]
        )
    root = Path(spec.results_dir).expanduser()
    return root / "dataset_convert" / "lmdb" if action == "dataset_convert" else root / task


def redacted_dump(spec: ExperimentSpec) -> dict[str, Any]:
    """The resolved spec as plain data with secrets (e.g. encryption_key) masked."""
    data = spec.model_dump(mode="json")
    for dotted, node in leaf_index().items():
        if node.meta.get("secret"):
            parts = dotted.split(".")
            holder = data
            for p in parts[:-1]:
                holder = holder[p]
            if holder.get(parts[-1]):
                holder[parts[-1]] = "*****"
    return data


def write_experiment_yaml(results_dir: Path, spec: ExperimentSpec) -> Path:
    path = results_dir / "experiment.yaml"
    path.write_text(yaml.safe_dump(redacted_dump(spec), sort_keys=False), encoding="utf-8")
    return path


class StatusWriter:
    """`status.json`: JSON lines in TAO's shape ({date, time, status, verbosity, message[, kpi]})."""

    def __init__(self, results_dir: Path, enabled: bool = True):
        self.path = results_dir / "status.json"
        self.enabled = enabled

    def write(self, status: str, message: str, kpi: dict[str, float] | None = None, **extra: Any) -> None:
        if not self.enabled:
            return
        now = dt.datetime.now()
        record: dict[str, Any] = {
            "date": now.strftime(STATUS_DATE),
            "time": now.strftime(STATUS_TIME),
            "status": status,
            "verbosity": "INFO",
            "message": message,
        }
        if kpi is not None:
            record["kpi"] = {k: float(v) for k, v in kpi.items()}
        record.update(extra)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()


def status_time(record: dict[str, Any]) -> dt.datetime:
    """When a status.json line was written (the reference's separate date and time fields)."""
    return dt.datetime.strptime(f"{record['date']} {record['time']}", f"{STATUS_DATE} {STATUS_TIME}")


def read_status(path: Path) -> list[dict[str, Any]]:
    """Parse a status.json, ignoring a torn last line (the writer may be mid-append)."""
    out: list[dict[str, Any]] = []
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


class RunContext:
    """What an action body receives: the spec, its results folder, status writer and CLI flags."""

    def __init__(self, action: str, spec: ExperimentSpec, results_dir: Path, args: argparse.Namespace | None):
        self.action = action
        self.spec = spec
        self.results_dir = results_dir
        self.status = StatusWriter(results_dir)
        self.allow_pickle = bool(getattr(args, "allow_pickle", False))
        self.overwrite = bool(getattr(args, "overwrite", False))
        self.interactive = args is not None  # run from the command line: print tables to stdout


def _attach_file_log(results_dir: Path, action: str) -> logging.Handler:
    handler = logging.FileHandler(results_dir / f"{action}.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    return handler


def run_action(
    action: str,
    body: Callable[[RunContext], dict[str, Any]],
    spec_path: str | None,
    overrides: list[str] | tuple[str, ...] = (),
    args: argparse.Namespace | None = None,
    spec: ExperimentSpec | None = None,
) -> dict[str, Any]:
    """Load and validate the spec, prepare results_dir, run `body`, and record the outcome in status.json."""
    action_info(action)
    spec = spec or load_spec(action, spec_path, overrides)
    results_dir = resolve_results_dir(spec, action)
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create results folder `{results_dir}`: {exc.strerror}; set a writable results_dir"
        ) from None
    if not os.access(results_dir, os.W_OK):
        raise UserError(f"results folder `{results_dir}` is not writable; set a writable results_dir") from None
    ctx = RunContext(action, spec, results_dir, args)
    write_experiment_yaml(results_dir, spec)
    handler = _attach_file_log(results_dir, action)
    ctx.status.write("STARTED", f"Starting OCRNet {action}.")
    try:
        result = body(ctx)
    except UserError as exc:
        ctx.status.write("FAILURE", str(exc))
        raise
    except BaseException as exc:
        ctx.status.write("FAILURE", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    ctx.status.write("SUCCESS", f"OCRNet {action} finished.", kpi=_numeric(result))
    return result


def _numeric(result: dict[str, Any]) -> dict[str, float] | None:
    kpi = {k: v for k, v in (result or {}).items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return kpi or None


def cli_main(action: str, body: Callable[[RunContext], dict[str, Any]]) -> Callable[[argparse.Namespace], int]:
    """Adapt an action body to the CLI dispatcher in `tao_ocrnet.cli`."""

    def main(args: argparse.Namespace) -> int:
        result = run_action(action, body, args.spec, args.overrides, args)
        summary = {k: v for k, v in result.items() if not isinstance(v, list | dict)}
        print(json.dumps(summary, indent=2, default=str), file=sys.stderr)
        return 0

    return main


def select_device(num_gpus: int, gpu_ids: list[int], key: str) -> str:
    """'cuda:N' or 'cpu'. More than one GPU without CUDA is a clear error rather than a hang."""
    import torch

    if num_gpus > 0 and torch.cuda.is_available():
        index = gpu_ids[0] if gpu_ids else 0
        if index >= torch.cuda.device_count():
            raise UserError(
                f"`{key.rsplit('.', 1)[0]}.gpu_ids` names GPU {index}, but only {torch.cuda.device_count()} are visible"
            )
        return f"cuda:{index}"
    if num_gpus > 1:
        raise UserError(f"`{key}` = {num_gpus} needs CUDA GPUs, and none are visible; set {key}=1 to run on the CPU")
    if num_gpus == 1:
        log.info("no CUDA device visible: running on the CPU")
    return "cpu"
