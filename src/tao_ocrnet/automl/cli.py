# SPDX-License-Identifier: Apache-2.0
"""`ocrnet automl run|worker|status|resume|cancel|list`.

Importing this module imports neither torch, optuna nor pydantic: the parser stays fast, and each command imports
the AutoML modules it runs. Results go to stdout as JSON; messages go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from tao_ocrnet.automl import workspace as wsp
from tao_ocrnet.automl.storage import url_from_env
from tao_ocrnet.datasources.resolver import DataRoots
from tao_ocrnet.errors import UserError


def add_parser(sub: Any) -> None:
    automl = sub.add_parser("automl", help="hyperparameter search over train jobs (Optuna; any number of workers)")
    asub = automl.add_subparsers(dest="automl_command", required=True, metavar="AUTOML_COMMAND")

    p = asub.add_parser("run", help="review and start a study (detached workers; --wait to block)")
    p.add_argument("--train-dataset", action="append", default=[], metavar="URI", help="train root (repeatable)")
    p.add_argument("--eval-dataset", metavar="URI", help="eval root (falls back to the first train root)")
    p.add_argument("--parent-job", metavar="ID", help="train job whose model every trial starts from")
    p.add_argument("--settings", metavar="FILE", help="YAML/JSON mapping of AutoML settings")
    p.add_argument("--set", dest="set_", action="append", default=[], metavar="KEY=VALUE", help="one setting")
    p.add_argument("--algorithm", help="bayesian (default), random, hyperband, asha")
    p.add_argument("--max-recommendations", type=int, metavar="N", help="trials to finish (default 10)")
    p.add_argument("--max-epochs", type=int, metavar="N", help="epochs per trial (default: train.num_epochs)")
    p.add_argument("--reduction-factor", type=int, metavar="N", help="hyperband/asha (default 3)")
    p.add_argument("--max-concurrent", type=int, metavar="N", help="local worker processes (default 1)")
    p.add_argument("--storage", metavar="URL", help="journal (default), sqlite, or postgresql://... / mysql://...")
    p.add_argument("--study", metavar="NAME", help="study name (default run_ocrnet_<algorithm>_<timestamp>)")
    p.add_argument("--seed", type=int, help="sampler seed (default: derived from the request, recorded)")
    p.add_argument("--timeout-minutes", type=float, metavar="M", help="start no trial after M minutes")
    p.add_argument("--delete-intermediate-ckpt", action="store_true", default=None,
                   help="at the end, delete checkpoints of trials other than the best and the baseline")  # fmt: skip
    p.add_argument("--param", action="append", default=None, metavar="KEY",
                   help="search this parameter (repeatable; replaces the schema's default list)")  # fmt: skip
    p.add_argument("--range", dest="ranges", action="append", default=[], metavar="KEY=SPEC",
                   help="KEY=LO:HI, KEY=a,b,c or KEY={valid_options: [...], option_weights: [...]}")  # fmt: skip
    p.add_argument("--ranges-file", metavar="FILE", help="YAML/JSON: key -> {valid_min, valid_max, valid_options, "
                   "option_weights}")  # fmt: skip
    p.add_argument("--baseline-job", metavar="ID", help="a finished train job on this data: its epoch time -> ETA")
    p.add_argument("--platform", metavar="NAME", help="job platform of every trial, e.g. local or slurm (default: "
                   "$OCRNET_PLATFORM, else local); stored in the study, so every worker uses it")  # fmt: skip
    _common(p)
    p.add_argument("--pin-cpus", action="store_true", help="give each local worker its own share of the CPUs")
    p.add_argument("--dry-run", action="store_true", help="print the pre-launch review; create nothing")
    p.add_argument("--wait", action="store_true", help="wait for the study to end; print its status")
    p.add_argument("--timeout", type=float, metavar="S", help="with --wait: give up after S seconds")
    p.add_argument("overrides", nargs="*", metavar="dotted.key=value", help="spec overrides (the baseline's spec)")
    p.set_defaults(handler=_run)

    p = asub.add_parser("worker", help="work on a study in the foreground (start one per GPU / machine)")
    p.add_argument("--study", required=True, metavar="NAME")
    p.add_argument("--storage", metavar="URL", help="the study's storage (default: $OCRNET_AUTOML_STORAGE)")
    p.add_argument("--index", type=int, metavar="N", help="worker number (seeds its sampler; default: the pid)")
    p.add_argument("--cpus", metavar="LIST", help="CPU affinity for this worker and its trials, e.g. 0-3 or 0,2")
    p.add_argument("--gpus", metavar="LIST", help="CUDA_VISIBLE_DEVICES for this worker's trials")
    _common(p)
    p.set_defaults(handler=_worker)

    p = asub.add_parser("status", help="state, progress, best, baseline, running trials, ETA")
    p.add_argument("study", help="study name or workspace path")
    p.add_argument("--storage", metavar="URL")
    p.add_argument("--history", action="store_true", help="include every trial")
    p.add_argument("--report", action="store_true", help="rewrite summary.json, best_rec.json, trials.csv, plot.png")
    _common(p)
    p.set_defaults(handler=_status)

    p = asub.add_parser("resume", help="continue a study; finished trials are kept, interrupted ones rerun")
    p.add_argument("study")
    p.add_argument("--storage", metavar="URL")
    p.add_argument("--workers", type=int, metavar="N", help="local workers (default: max_concurrent)")
    p.add_argument("--max-recommendations", type=int, metavar="N", help="change the budget")
    p.add_argument("--pin-cpus", action="store_true")
    p.add_argument("--wait", action="store_true")
    p.add_argument("--timeout", type=float, metavar="S")
    _common(p)
    p.set_defaults(handler=_resume)

    p = asub.add_parser("cancel", help="stop the study's workers and their trial jobs")
    p.add_argument("study")
    p.add_argument("--storage", metavar="URL")
    p.add_argument("--grace", type=float, default=20.0, metavar="S", help="seconds before workers are killed")
    _common(p)
    p.set_defaults(handler=_cancel)

    p = asub.add_parser("list", help="studies with a workspace on this host")
    _common(p)
    p.set_defaults(handler=_list)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workspace-root", type=Path, metavar="DIR", help="AutoML root (default $OCRNET_HOME/automl)")


def _print(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _read_mapping(path: str, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))  # JSON is YAML
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read the {what} file `{path}`: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"the {what} file `{path}` must hold a mapping")
    return data


def _parse_range(text: str) -> tuple[str, dict[str, Any]]:
    key, sep, spec = text.partition("=")
    if not sep or not key or not spec:
        raise UserError(f"--range `{text}`: use KEY=LO:HI, KEY=a,b,c or KEY={{valid_min: ..., ...}}")
    spec = spec.strip()
    if spec.startswith("{"):
        value = yaml.safe_load(spec)
        if not isinstance(value, dict):
            raise UserError(f"--range `{text}`: the braces must hold a mapping")
        return key.strip(), value
    if ":" in spec and "," not in spec:
        lo, _, hi = spec.partition(":")
        return key.strip(), {"valid_min": yaml.safe_load(lo), "valid_max": yaml.safe_load(hi)}
    return key.strip(), {"valid_options": [yaml.safe_load(v) for v in spec.split(",")]}


def _request(args: argparse.Namespace) -> Any:
    from tao_ocrnet.automl.plan import StudyRequest
    from tao_ocrnet.config.loader import parse_overrides

    ranges: dict[str, Any] = _read_mapping(args.ranges_file, "ranges") if args.ranges_file else {}
    for text in args.ranges:
        key, value = _parse_range(text)
        ranges[key] = value
    return StudyRequest(
        roots=DataRoots(train_datasets=tuple(args.train_dataset), eval_dataset=args.eval_dataset),
        overrides=parse_overrides(args.overrides),
        parameters=tuple(args.param) if args.param is not None else None,
        custom_ranges=ranges or None,
        parent_job=args.parent_job,
        baseline_job=args.baseline_job,
        platform=args.platform,
    )


def _settings(args: argparse.Namespace) -> Any:
    from tao_ocrnet.automl.settings import parse_settings
    from tao_ocrnet.config.loader import parse_override

    data = _read_mapping(args.settings, "settings") if args.settings else {}
    for text in args.set_:
        key, value = parse_override(text)
        data[key] = value
    return parse_settings(
        data,
        algorithm=args.algorithm,
        max_recommendations=args.max_recommendations,
        max_epochs=args.max_epochs,
        reduction_factor=args.reduction_factor,
        max_concurrent=args.max_concurrent,
        storage=args.storage,
        study_name=args.study,
        seed=args.seed,
        timeout_minutes=args.timeout_minutes,
        delete_intermediate_ckpt=args.delete_intermediate_ckpt,
    )


def _brief(status: dict[str, Any], history: bool) -> dict[str, Any]:
    return status if history else {k: v for k, v in status.items() if k != "history"}


def _run(args: argparse.Namespace) -> int:
    from tao_ocrnet.automl import runner

    settings, request = _settings(args), _request(args)
    if args.dry_run:
        _print(runner.review_study(settings, request, workspace_root=args.workspace_root))
        return 0
    started = runner.start_study(settings, request, workspace_root=args.workspace_root, pin_cpus=args.pin_cpus)
    if not args.wait:
        _print(started)
        return 0
    print(f"study {started['study']} started; waiting (workspace {started['workspace']})", file=sys.stderr)
    status = runner.wait_study(started["study"], workspace_root=args.workspace_root, timeout=args.timeout)
    _print(_brief(status, False))
    return 0 if status["state"] == "COMPLETE" else 1


def _worker(args: argparse.Namespace) -> int:
    from tao_ocrnet.automl.worker import run_worker

    url = url_from_env(args.storage)
    if url is None:
        ws = wsp.find_workspace(args.study, args.workspace_root)
        info = wsp.read_json(ws / wsp.STUDY_FILE) if ws else None
        if not info or info.get("storage_has_password"):
            raise UserError(f"no study `{args.study}` on this host: pass --storage URL (or set OCRNET_AUTOML_STORAGE)")
        url = info["storage"]
    return run_worker(args.study, url, index=args.index, workspace_root=args.workspace_root, cpus=args.cpus,
                      gpus=args.gpus)  # fmt: skip


def _status(args: argparse.Namespace) -> int:
    from tao_ocrnet.automl import runner

    status = runner.study_status(
        args.study, storage=args.storage, workspace_root=args.workspace_root, write_reports=args.report
    )
    _print(_brief(status, args.history))
    return 0


def _resume(args: argparse.Namespace) -> int:
    from tao_ocrnet.automl import runner

    status = runner.resume_study(
        args.study, storage=args.storage, workspace_root=args.workspace_root, workers=args.workers,
        max_recommendations=args.max_recommendations, pin_cpus=args.pin_cpus,
    )  # fmt: skip
    if args.wait:
        status = runner.wait_study(args.study, storage=args.storage, workspace_root=args.workspace_root,
                                   timeout=args.timeout)  # fmt: skip
    _print(_brief(status, False))
    return 0 if not args.wait or status["state"] == "COMPLETE" else 1


def _cancel(args: argparse.Namespace) -> int:
    from tao_ocrnet.automl import runner

    status = runner.cancel_study(args.study, storage=args.storage, workspace_root=args.workspace_root, grace=args.grace)
    _print(_brief(status, False))
    return 0


def _list(args: argparse.Namespace) -> int:
    from tao_ocrnet.automl import runner

    _print(runner.list_studies(args.workspace_root))
    return 0
