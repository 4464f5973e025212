# SPDX-License-Identifier: Apache-2.0
"""The slurm job platform's latency on the loopback cluster of scripts/slurm.sh, beside the local platform.

1. Submit to RUNNING: `JobService.submit` of a dataset_convert job on a tiny local dataset, then `JobService.get`
   polled every 20 ms until the record says RUNNING (Slurm allocated the job and its batch step started);
   also the submit call alone (resolve, record, `sbatch --parsable`). Median over the runs.
2. Status: `JobService.get` of a running and of a finished job, in-process (the MCP server's path: one
   `scontrol show job` while running; the exit record alone once finished), and a cold `ocrnet jobs status`
   process for context.

Run as root (it starts the cluster if needed and leaves it as it found it):

    python benchmarks/bench_slurm.py [--runs N]
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

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "slurm.sh"


def header(args: argparse.Namespace) -> None:
    # Not _common.header: it imports torch, which the submit path never loads.
    load = os.getloadavg()
    print(f"== slurm job platform latency ({time.strftime('%Y-%m-%d %H:%M')})")
    print(f"machine: {os.cpu_count()} CPU(s), {platform.machine()}, Python {platform.python_version()}, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"options: runs={args.runs}")
    sys.stdout.flush()


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms"


def submit_to_running(service: object, request: object, runs: int) -> tuple[list[float], list[float], list[str]]:
    from tao_ocrnet.jobs.record import RUNNING, TERMINAL, state_of

    submits, running, ids = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        job_id = service.submit(request).job_id  # type: ignore[attr-defined]
        submits.append(time.perf_counter() - started)
        while (state := state_of(service.get(job_id))) != RUNNING:  # type: ignore[attr-defined]
            if state in TERMINAL:
                raise SystemExit(f"{job_id} ended {state} before it was seen RUNNING")
            time.sleep(0.02)
        running.append(time.perf_counter() - started)
        ids.append(job_id)
        service.wait(job_id, timeout=600, poll=0.2)  # type: ignore[attr-defined]  # one at a time: no queueing
    return submits, running, ids


def status_times(service: object, job_id: str, repeats: int = 20) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        service.get(job_id)  # type: ignore[attr-defined]
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="submits per platform")
    args = parser.parse_args()
    header(args)
    was_up = subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True).returncode == 0
    up = subprocess.run(["bash", str(SCRIPT), "up"], capture_output=True, text=True)
    if up.returncode != 0:
        raise SystemExit(f"the loopback Slurm cluster did not start: {up.stderr.strip()}")
    os.environ["SLURM_CONF"] = up.stdout.strip().rpartition("SLURM_CONF=")[2]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-slurm-") as tmp:
            run(Path(tmp), args.runs)
    finally:
        if not was_up:
            subprocess.run(["bash", str(SCRIPT), "down"], capture_output=True)


def run(root: Path, runs: int) -> None:
    from tao_ocrnet.data.synth.generate import generate_dataset

    os.environ.update(OCRNET_HOME=str(root / "home"), OCRNET_RESULTS_ROOT=str(root / "results"))
    (root / "home").mkdir()
    (root / "home" / "slurm.yaml").write_text("gpus: false\ncpus_per_task: 1\n", encoding="utf-8")
    generate_dataset(root / "data", 48, 16, seed=1, workers=1)

    from tao_ocrnet.datasources.resolver import DataRoots
    from tao_ocrnet.jobs.request import JobRequest
    from tao_ocrnet.jobs.service import JobService

    service = JobService()
    rows = {}
    for name in ("local", "slurm"):
        request = JobRequest("dataset_convert", DataRoots(train_datasets=(str(root / "data"),)), platform=name)
        service.submit(request)  # warm-up: extracts the archive into the cache
        for record in service.list():
            service.wait(record["id"], timeout=600, poll=0.2)
        rows[name] = submit_to_running(service, request, runs)
    print(f"{'platform':9} {'submit call':>12} {'submit -> RUNNING':>18}")
    for name, (submits, running, _) in rows.items():
        print(f"{name:9} {ms(statistics.median(submits)):>12} {ms(statistics.median(running)):>18}")

    slurm_id = rows["slurm"][2][-1]
    finished = status_times(service, slurm_id)
    request = JobRequest("dataset_convert", DataRoots(train_datasets=(str(root / "data"),)), platform="slurm")
    live_id = service.submit(request).job_id
    running = status_times(service, live_id)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tao_ocrnet", "jobs", "status", live_id], check=True, capture_output=True)
    cold = time.perf_counter() - started
    service.wait(live_id, timeout=600, poll=0.2)
    print(f"status (in-process, median of 20): while queued or running {ms(statistics.median(running))} "
          f"(one scontrol call), finished {ms(statistics.median(finished))} (the exit record)")  # fmt: skip
    print(f"status (cold `ocrnet jobs status` process, Python start-up included): {ms(cold)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
