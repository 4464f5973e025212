# SPDX-License-Identifier: Apache-2.0
"""Job layer latency: submitting a job, and `jobs list` over 1,000 records.

1. Submit: `JobService.submit` in-process (resolve the spec from skill_info, write the record and the job
   folder, launch the detached runner) for a dataset_convert job on a tiny local dataset, repeated; the
   median is the figure (the first call, which extracts the archive into the cache, is reported apart).
   The launched jobs run to completion afterwards, untimed. Also: torch must not be imported on this path,
   and the wall time of a cold `ocrnet jobs submit --dry-run` process (Python start-up included) for context.
   Target: submit <= 300 ms.
2. List: 1,000 finished records written straight into a fresh store, then `JobService.list()` (read,
   reconcile, sort) in-process, repeated, median; plus a cold `ocrnet jobs list` process for context.
   Target: list <= 500 ms.

    python benchmarks/bench_jobs.py [--submits N] [--records N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBMIT_TARGET_MS = 300.0
LIST_TARGET_MS = 500.0


def header(args: argparse.Namespace) -> None:
    # Not _common.header: it imports torch, and this benchmark checks that the submit path does not.
    load = os.getloadavg()
    print(f"== job layer latency ({time.strftime('%Y-%m-%d %H:%M')})")
    print(f"machine: {os.cpu_count()} CPU(s), {platform.machine()}, Python {platform.python_version()}, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"options: submits={args.submits}, records={args.records}")
    sys.stdout.flush()


def verdict(name: str, measured_ms: float, target_ms: float) -> None:
    ok = measured_ms <= target_ms
    print(f"{'PASS' if ok else 'MISS'}: {name}: measured {measured_ms:.1f} ms (target <= {target_ms:g} ms)")
    sys.stdout.flush()


def cold_cli_ms(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tao_ocrnet", *argv], env=env, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1e3


def bench_submit(root: Path, submits: int) -> None:
    from tao_ocrnet.data.synth.generate import generate_dataset
    from tao_ocrnet.datasources.resolver import DataRoots
    from tao_ocrnet.jobs.request import JobRequest
    from tao_ocrnet.jobs.service import JobService

    data = root / "data"
    generate_dataset(data, 48, 16, seed=1, workers=1)
    # Cold processes first, while nothing else of ours runs.
    argv = ["jobs", "submit", "dataset_convert", "--train-dataset", str(data)]
    cold_dry = statistics.median(cold_cli_ms([*argv, "--dry-run"], dict(os.environ)) for _ in range(3))
    cold_submit = cold_cli_ms(argv, dict(os.environ))
    service = JobService()
    for record in service.list():
        service.wait(record["id"], timeout=600, poll=0.2)
    request = JobRequest("dataset_convert", DataRoots(train_datasets=(str(data),)))
    times, ids = [], []
    for _ in range(submits + 1):
        started = time.perf_counter()
        submitted = service.submit(request)
        times.append((time.perf_counter() - started) * 1e3)
        ids.append(submitted.job_id)
    first, rest = times[0], times[1:]
    torch_loaded = "torch" in sys.modules
    print(f"submit: first {first:.1f} ms; then median {statistics.median(rest):.1f} ms, min {min(rest):.1f}, "
          f"max {max(rest):.1f} over {len(rest)} submits (in-process: what the MCP server calls)")  # fmt: skip
    print(f"torch imported by the submit path: {'YES' if torch_loaded else 'no'}")
    print(f"cold `ocrnet jobs submit` process (Python start-up and the spec models' import included): "
          f"{cold_submit:.0f} ms; with --dry-run: median {cold_dry:.0f} ms")  # fmt: skip
    verdict("submit (in-process median)", statistics.median(rest), SUBMIT_TARGET_MS)
    for job_id in ids:  # let the launched jobs finish before the next measurement
        service.wait(job_id, timeout=600, poll=0.2)


def bench_list(root: Path, records: int) -> None:
    from tao_ocrnet.jobs.record import COMPLETE, RUNNING, new_record
    from tao_ocrnet.jobs.service import JobService
    from tao_ocrnet.jobs.store import JobStore

    store = JobStore(root / "list_home" / "jobs")
    spec = {"results_dir": "/results", "train": {"num_epochs": 10}, "dataset": {"batch_size": 16}}
    for i in range(records):
        job_id = store.reserve("train")
        record = new_record(job_id=job_id, action="train", command="ocrnet train -e {config_path}",
                            platform="local", results_dir=f"/results/{job_id}", job_dir=str(store.job_dir(job_id)),
                            spec=spec, outputs={"task_dir": f"/results/{job_id}/train"})  # fmt: skip
        store.create(record)
        store.mark(job_id, RUNNING, "launched", "agent", backend_ref={"kind": "bench", "pid": None})
        store.mark(job_id, COMPLETE, "exit 0", "backend-hook", exit_code=0, kpis={"val_acc": i / records})
    service = JobService(store=store)
    times = []
    for _ in range(7):
        started = time.perf_counter()
        listed = service.list()
        times.append((time.perf_counter() - started) * 1e3)
        assert len(listed) == records
    print(f"list: {records} records, median {statistics.median(times):.1f} ms, min {min(times):.1f}, "
          f"max {max(times):.1f} over {len(times)} calls")  # fmt: skip
    env = {**os.environ, "OCRNET_HOME": str(root / "list_home")}
    cold = statistics.median(cold_cli_ms(["jobs", "list"], env) for _ in range(3))
    print(f"cold `ocrnet jobs list` process over {records} records (Python start-up included): {cold:.0f} ms")
    verdict(f"jobs list over {records} records (in-process median)", statistics.median(times), LIST_TARGET_MS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submits", type=int, default=10)
    parser.add_argument("--records", type=int, default=1000)
    args = parser.parse_args()
    header(args)
    with tempfile.TemporaryDirectory(prefix="bench_jobs_") as tmp:
        root = Path(tmp)
        os.environ["OCRNET_HOME"] = str(root / "home")
        os.environ.pop("OCRNET_RESULTS_ROOT", None)
        os.environ.pop("OCRNET_CACHE_DIR", None)
        bench_submit(root, args.submits)
        bench_list(root, args.records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
