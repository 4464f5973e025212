# SPDX-License-Identifier: Apache-2.0
"""What every action shares: the run wrapper (results folder, experiment.yaml, status.json, log file) and devices.

The results-folder contract itself (the results_dir rule, status.json, file names) is `tao_ocrnet.results`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from tao_ocrnet.actions.ranks import started_as_rank_zero
from tao_ocrnet.config.actions import action_info
from tao_ocrnet.config.loader import load_spec
from tao_ocrnet.config.secrets import ENCRYPTION_KEY_ENV
from tao_ocrnet.config.spec import ExperimentSpec
from tao_ocrnet.errors import UserError
from tao_ocrnet.results.experiment import experiment_yaml
from tao_ocrnet.results.layout import resolve_results_dir
from tao_ocrnet.results.lock import results_lock
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


class Terminated(SystemExit):
    """The process received SIGTERM (a node drain, a scheduler, `kill`, `ocrnet jobs cancel`): the run ends as a
    failure with exit code 128 + 15. Lightning alone would end it with a code-less SystemExit: exit 0."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.reason = f"terminated by {signal.Signals(signum).name}"


@contextlib.contextmanager
def _terminate_on_sigterm() -> Iterator[None]:
    """While the action runs, SIGTERM raises `Terminated` in the main thread (Lightning's signal connector calls
    this handler after its own, so training stops at once too); the previous handler comes back afterwards."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    owner = os.getpid()
    fired = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if os.getpid() != owner:  # a forked worker inherited the handler: let it die the default way
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if not fired:  # once: a second SIGTERM must not interrupt the clean-up of the first
            fired = True
            raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _key_from_env(spec: ExperimentSpec) -> ExperimentSpec:
    """A job's encryption_key arrives in the environment (`config.secrets.ENCRYPTION_KEY_ENV`), not its spec."""
    key = os.environ.get(ENCRYPTION_KEY_ENV, "")
    return spec.model_copy(update={"encryption_key": key}) if key and not spec.encryption_key else spec


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
    """Load and validate the spec, prepare results_dir, run `body`, and record the outcome in status.json.

    The run holds the results folder's lock (`results.lock`): while it runs, another run in the same folder
    is refused. experiment.yaml is written at the start, as TAO does, and the previous one is put back if
    the run fails (`results.experiment`).

    SUCCESS only when `body` returns: SIGTERM ends the run as FAILURE with exit code 143 (`Terminated`), and a
    SystemExit without a code from inside `body` is a FAILURE with exit code 1, never a silent exit 0.
    """
    with _terminate_on_sigterm():
        return _run_action(action, body, spec_path, overrides, args, spec)


def _run_action(
    action: str,
    body: Callable[[RunContext], dict[str, Any]],
    spec_path: str | None,
    overrides: list[str] | tuple[str, ...],
    args: argparse.Namespace | None,
    spec: ExperimentSpec | None,
) -> dict[str, Any]:
    action_info(action)
    _use_thread_share()
    spec = _key_from_env(spec or load_spec(action, spec_path, overrides))
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
    # Only rank zero owns the results folder (lock, experiment.yaml, status.json, the log file): the other ranks
    # of a distributed training (started by Lightning, torchrun or srun) run the same command and only compute.
    owner = started_as_rank_zero()
    ctx.status.enabled = owner
    # A second run in the same folder is refused here, before it writes anything (exit 2).
    with _owned_folder(results_dir, action, spec, owner):
        handler = _attach_file_log(results_dir, action) if owner else logging.NullHandler()
        ctx.status.write("STARTED", f"Starting OCRNet {action}.")
        try:
            result = body(ctx)
        except UserError as exc:
            ctx.status.write("FAILURE", str(exc))
            raise
        except Terminated as exc:
            ctx.status.write("FAILURE", exc.reason)
            raise
        except SystemExit as exc:  # e.g. Lightning's SIGTERMException: code-less, it would exit 0
            ctx.status.write("FAILURE", f"stopped before finishing ({type(exc).__name__}, exit code {exc.code})")
            if not exc.code:
                raise SystemExit(1) from exc
            raise
        except BaseException as exc:
            ctx.status.write("FAILURE", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
        ctx.status.write("SUCCESS", f"OCRNet {action} finished.", kpi=_numeric(result))
    return result


@contextlib.contextmanager
def _owned_folder(results_dir: Path, action: str, spec: ExperimentSpec, owner: bool) -> Iterator[None]:
    if not owner:
        yield
        return
    with results_lock(results_dir, action), experiment_yaml(results_dir, spec):
        yield


def _numeric(result: dict[str, Any]) -> dict[str, float] | None:
    kpi = {k: v for k, v in (result or {}).items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return kpi or None


def cli_main(action: str, body: Callable[[RunContext], dict[str, Any]]) -> Callable[[argparse.Namespace], int]:
    """Adapt an action body to the CLI dispatcher in `tao_ocrnet.cli`."""

    def main(args: argparse.Namespace) -> int:
        try:
            result = run_action(action, body, args.spec, args.overrides, args)
        except Terminated as exc:
            print(f"ocrnet {action}: {exc.reason}", file=sys.stderr)
            raise
        if started_as_rank_zero():  # the other ranks of a distributed training hold no results of their own
            summary = {k: v for k, v in result.items() if not isinstance(v, list | dict)}
            print(json.dumps(summary, indent=2, default=str), file=sys.stderr)
        return 0

    return main


def _use_thread_share() -> None:
    """torch's threads from OMP_NUM_THREADS: a job's share of the cores, set by the job runner from how many jobs
    its platform runs at once (`jobs/queue.py`); explicit, whatever was imported before. The actions that compute
    with torch imported it with their module; dataset_convert never does (importing it costs seconds per job)."""
    torch = sys.modules.get("torch")
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    if torch is not None and text.isdigit() and int(text) > 0:
        torch.set_num_threads(int(text))
        log.info("torch threads: %d (OMP_NUM_THREADS)", torch.get_num_threads())


def select_device(num_gpus: int, gpu_ids: list[int], key: str) -> str:
    """'cuda:N' or 'cpu'. More than one GPU without CUDA is a clear error rather than a hang."""
    import torch  # the actions that choose a device import it anyway; this module stays light for dataset_convert

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
