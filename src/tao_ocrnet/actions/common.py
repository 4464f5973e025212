# SPDX-License-Identifier: Apache-2.0
"""What every action shares: the run wrapper (results folder, experiment.yaml, status.json, log file) and devices.

The results-folder contract itself (the results_dir rule, status.json, file names) is `tao_ocrnet.results`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from tao_ocrnet.config.actions import action_info
from tao_ocrnet.config.loader import load_spec
from tao_ocrnet.config.spec import ExperimentSpec
from tao_ocrnet.errors import UserError
from tao_ocrnet.results.experiment import write_experiment_yaml
from tao_ocrnet.results.layout import resolve_results_dir
from tao_ocrnet.results.status import StatusWriter

log = logging.getLogger(__name__)


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
