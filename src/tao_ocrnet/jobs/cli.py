# SPDX-License-Identifier: Apache-2.0
"""`ocrnet jobs submit|list|status|logs|cancel|results`: the job layer on the command line.

Results go to stdout (JSON, a table, the log or a dry run's spec); messages go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tao_ocrnet.datasources.resolver import DataRoots
from tao_ocrnet.jobs.platforms.base import DEFAULT_PLATFORM, PLATFORM_ENV, PLATFORMS
from tao_ocrnet.jobs.record import COMPLETE, state_of
from tao_ocrnet.jobs.request import JobRequest
from tao_ocrnet.jobs.service import DEFAULT_GRACE, JobService


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = sub.add_parser("jobs", help="submit detached jobs and track them (records under $OCRNET_HOME)")
    jsub = jobs.add_subparsers(dest="jobs_command", required=True, metavar="JOBS_COMMAND")

    p = jsub.add_parser("submit", help="resolve the spec, record the job, launch it detached")
    p.add_argument("action", help="dataset_convert, train, retrain, evaluate, inference, export, prune, ...")
    p.add_argument(
        "--train-dataset",
        action="append",
        default=[],
        metavar="URI",
        help="train root (path, file://, s3://, job:<dataset_convert job>); repeat for several",
    )
    p.add_argument("--eval-dataset", metavar="URI", help="eval root (falls back to the first train root)")
    p.add_argument("--calibration-dataset", metavar="URI", help="calibration images root")
    p.add_argument("--inference-dataset", metavar="URI", help="inference images root")
    p.add_argument("--parent-job", metavar="ID", help="job whose model this one uses (spec_params)")
    p.add_argument(
        "--checkpoint-epoch",
        type=int,
        metavar="N",
        help="with a train parent: use model_epoch_N_step_*.pth instead of best_accuracy.pth",
    )
    p.add_argument("--checkpoint-step", type=int, metavar="N", help="with a train parent: the exact step")
    p.add_argument(
        "--resume-from",
        metavar="ID",
        help="train/retrain: continue from that job's latest checkpoint (e.g. a killed job)",
    )
    p.add_argument("--key-env", metavar="NAME", help="environment variable holding encryption_key (never stored)")
    p.add_argument(
        "--platform",
        choices=sorted(PLATFORMS),
        help=f"where the job runs (default: ${PLATFORM_ENV}, else {DEFAULT_PLATFORM}); slurm: sbatch, see README",
    )
    p.add_argument("--dry-run", action="store_true", help="print the resolved spec; record and launch nothing")
    p.add_argument("--wait", action="store_true", help="wait until the job ends; exit 0 only if COMPLETE")
    p.add_argument("--timeout", type=float, metavar="S", help="with --wait: give up after S seconds")
    p.add_argument("overrides", nargs="*", metavar="dotted.key=value", help="spec overrides (win over all else)")
    p.set_defaults(handler=_submit)  # fmt: skip

    p = jsub.add_parser("list", help="jobs, newest first")
    p.add_argument("--action")
    p.add_argument("--state", help="PENDING, RUNNING, COMPLETE, ERROR, CANCELED")
    p.add_argument("--limit", type=int, default=0, help="show at most N jobs")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=_list)

    p = jsub.add_parser("status", help="a job's state, last message, KPIs (reconciled with its process)")
    p.add_argument("job_id")
    p.add_argument("--record", action="store_true", help="print the whole job record")
    p.set_defaults(handler=_status)

    p = jsub.add_parser("logs", help="a job's log")
    p.add_argument("job_id")
    p.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until the job ends")
    p.set_defaults(handler=_logs)

    p = jsub.add_parser("cancel", help="stop a job (SIGTERM to its process group, SIGKILL after the grace)")
    p.add_argument("job_id")
    p.add_argument("--grace", type=float, default=None, metavar="S", help="seconds before SIGKILL (default 10)")
    p.set_defaults(handler=_cancel)

    p = jsub.add_parser("results", help="a job's results folder, outputs and KPIs")
    p.add_argument("job_id")
    p.set_defaults(handler=_results)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _submit(args: argparse.Namespace) -> int:
    from tao_ocrnet.config.loader import parse_overrides  # pydantic: kept off `ocrnet jobs list|status`

    request = JobRequest(
        action=args.action,
        roots=DataRoots(
            train_datasets=tuple(args.train_dataset),
            eval_dataset=args.eval_dataset,
            calibration_dataset=args.calibration_dataset,
            inference_dataset=args.inference_dataset,
        ),
        parent_job=args.parent_job,
        resume_from=args.resume_from,
        checkpoint_epoch=args.checkpoint_epoch,
        checkpoint_step=args.checkpoint_step,
        key_env=args.key_env,
        overrides=parse_overrides(args.overrides),
        platform=args.platform,
    )
    service = JobService()
    submitted = service.submit(request, dry_run=args.dry_run)
    for note in submitted.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.dry_run:
        sys.stdout.write(submitted.spec_yaml)
        return 0
    record = submitted.record
    assert record is not None  # only a dry run has no record
    if not args.wait:
        _print_json({
            "job_id": submitted.job_id, "state": state_of(record),
            "results_dir": record["results_dir"], "job_dir": record["job_dir"],
        })  # fmt: skip
        return 0
    print(f"submitted {submitted.job_id}; waiting", file=sys.stderr)
    final = service.wait(submitted.job_id, timeout=args.timeout)
    _print_json(service.view(final))
    return 0 if state_of(final) == COMPLETE else 1


def _list(args: argparse.Namespace) -> int:
    service = JobService()
    records = service.list(action=args.action, state=args.state)
    if args.limit > 0:
        records = records[: args.limit]
    if args.json:
        for record in records:
            print(json.dumps(service.view(record), default=str))
        return 0
    rows = [("ID", "ACTION", "STATE", "SUBMITTED", "PARENT", "KPIS")]
    for record in records:
        kpis = record.get("kpis") or {}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in list(kpis.items())[:3])
        submitted = record["submitted_at"][:19].replace("T", " ")
        parent = record.get("parent_job") or "-"
        rows.append((record["id"], record["action"], state_of(record), submitted, parent, shown))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _status(args: argparse.Namespace) -> int:
    service = JobService()
    record = service.get(args.job_id)
    _print_json(record if args.record else service.view(record))
    return 0


def _logs(args: argparse.Namespace) -> int:
    for text in JobService().logs(args.job_id, tail=args.tail, follow=args.follow):
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


def _cancel(args: argparse.Namespace) -> int:
    service = JobService()
    record = service.cancel(args.job_id, grace=DEFAULT_GRACE if args.grace is None else args.grace)
    _print_json(service.view(record))
    return 0


def _results(args: argparse.Namespace) -> int:
    _print_json(JobService().results(args.job_id))
    return 0
