# SPDX-License-Identifier: Apache-2.0
"""The per-platform job limit and its FIFO queue, with real detached jobs on the local platform: jobs above the
limit wait PENDING and start in order without anyone polling, a queued job can be canceled without ever
running, two submitting processes never exceed the limit, and every job gets (and logs) its share of the cores."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from automl_fixtures import automl_env  # noqa: F401
from tao_ocrnet.automl.plan import StudyRequest
from tao_ocrnet.automl.runner import start_study, wait_study
from tao_ocrnet.config.shipped import DEFAULT_MODEL
from tao_ocrnet.datasources.resolver import DataRoots
from tao_ocrnet.jobs.queue import LIMIT_ENV, default_limit, job_limit, machine_cpus, thread_share
from tao_ocrnet.jobs.record import COMPLETE, RUNNING, last_transition, state_of
from tao_ocrnet.jobs.request import JobRequest
from tao_ocrnet.jobs.runstate import EXIT_NAME, STATE_DIR
from tao_ocrnet.jobs.service import JobService

from jobs_fixtures import jobs_env, run, synth_root, tiny  # noqa: F401
from tiny_config import TINY_TRAIN

pytestmark = pytest.mark.slow


def _convert(root: Path) -> JobRequest:
    return JobRequest("dataset_convert", DataRoots(train_datasets=(str(root),)))


def _stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _ran(record: dict) -> tuple[dt.datetime, dt.datetime]:
    """When the job held its slot: admitted (.runner/admitted.json) to the command's end (.runner/exit.json)."""
    state = Path(record["job_dir"]) / STATE_DIR
    admitted = json.loads((state / "admitted.json").read_text())
    finished = json.loads((state / EXIT_NAME).read_text())["finished_at"]
    return _stamp(admitted["at"]), _stamp(finished)


def _one_at_a_time(records: list[dict]) -> list[str]:
    """The jobs' ids in the order they ran, asserting that no two ran at the same time."""
    spans = sorted((*_ran(r), r["id"]) for r in records)
    for (_, end, first), (start, _, second) in itertools.pairwise(spans):
        assert start >= end, f"{second} started at {start} while {first} ran until {end}"
    return [job_id for _, _, job_id in spans]


def test_the_limit_defaults_to_half_the_cpus_and_is_validated(jobs_env, synth_root, monkeypatch, capsys):  # noqa: F811
    monkeypatch.delenv(LIMIT_ENV, raising=False)
    assert job_limit() == default_limit() == max(1, machine_cpus() // 2)
    monkeypatch.setenv(LIMIT_ENV, "3")
    assert job_limit() == 3
    assert [thread_share(n, 4) for n in (1, 2, 3, 4, 8)] == [4, 2, 1, 1, 1]
    monkeypatch.setenv(LIMIT_ENV, "0")
    code, _, err = run(capsys, "submit", "dataset_convert", "--train-dataset", str(synth_root))
    assert code == 2 and f"{LIMIT_ENV}=`0` is not a number of jobs >= 1" in err, err
    assert len(err.strip().splitlines()) == 1


def test_jobs_above_the_limit_wait_and_run_in_order(jobs_env, synth_root, monkeypatch):  # noqa: F811
    monkeypatch.setenv(LIMIT_ENV, "1")
    service = JobService()
    submitted = [service.submit(_convert(synth_root)).record for _ in range(3)]
    assert [state_of(r) for r in submitted] == ["RUNNING", "PENDING", "PENDING"]
    assert last_transition(submitted[1])["message"].startswith("queued: 0 ahead (at most 1 job at once)")
    assert last_transition(submitted[2])["message"].startswith("queued: 1 ahead")
    assert submitted[2]["backend_ref"]["queue"] == {"ahead": 1, "limit": 1}  # a live runner: cancel can stop it

    # Nobody polls: each finishing job's slot goes to the next runner in the queue.
    last = service.wait(submitted[2]["id"], timeout=300, poll=2.0)
    records = [service.store.read(r["id"]) for r in submitted]
    assert state_of(last) == COMPLETE and all(state_of(r) == COMPLETE for r in records), records
    assert _one_at_a_time(records) == [r["id"] for r in submitted]  # in submission order
    third = [(t["state"], t["message"]) for t in records[2]["transitions"]]
    assert [s for s, _ in third][-2:] == [RUNNING, COMPLETE] and third[-2][1].startswith("started after "), third
    places = [int(m.split()[1]) for _, m in third if m.startswith("queued: ")]
    assert places[0] == 1 and places == sorted(places, reverse=True), third  # its place moved up (0 ahead, then ran)

    # Each job got all the cores (one job at once) and said so (dataset_convert never loads torch: the torch
    # threads of jobs that do are asserted with the AutoML study below and in test_each_job_gets_its_share...).
    cpus = machine_cpus()
    for record in records:
        log = (Path(record["job_dir"]) / "job.log").read_text()
        assert f"threads: {cpus} of {cpus} core{'s' if cpus > 1 else ''}; 1 job at once" in log, log


def test_each_job_gets_its_share_of_the_cores(jobs_env, synth_root, monkeypatch):  # noqa: F811
    monkeypatch.setenv(LIMIT_ENV, "2")
    service = JobService()
    # An export of the shipped model: a short job that computes with torch (dataset_convert never loads it).
    roots = DataRoots(eval_dataset=str(synth_root))
    export = JobRequest("export", roots, overrides={"export.checkpoint": DEFAULT_MODEL})
    record = service.wait(service.submit(export).job_id, timeout=300)
    assert state_of(record) == COMPLETE
    cpus, threads = machine_cpus(), max(1, machine_cpus() // 2)
    log = (Path(record["job_dir"]) / "job.log").read_text()
    assert f"threads: {threads} of {cpus} core{'s' if cpus > 1 else ''}; 2 jobs at once" in log, log
    assert f"torch threads: {threads} (OMP_NUM_THREADS)" in log, log


def test_a_queued_job_is_canceled_without_running(jobs_env, synth_root, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv(LIMIT_ENV, "1")
    service = JobService()
    data = DataRoots(train_datasets=(str(synth_root),))
    long = service.submit(JobRequest("train", data, overrides={**TINY_TRAIN, "train.num_epochs": 50}))
    queued = service.submit(_convert(synth_root))
    assert state_of(long.record) == RUNNING and state_of(queued.record) == "PENDING"

    # Older than LAUNCH_GRACE, it still waits: a queued job has a live runner, it is not "never launched".
    path = service.store.record_path(queued.job_id)
    aged = {**json.loads(path.read_text()), "submitted_at": "2020-01-01T00:00:00.000Z"}
    path.write_text(json.dumps(aged))
    assert state_of(service.get(queued.job_id)) == "PENDING"

    code, out, err = run(capsys, "cancel", queued.job_id)
    view = json.loads(out)
    assert code == 0 and view["state"] == "CANCELED", err
    assert view["message"] == "canceled while queued; the command never ran" and view["exit_code"] is None
    job_dir = Path(queued.record["job_dir"])
    log = (job_dir / "job.log").read_text()
    assert "dataset_convert -e" not in log and "threads:" not in log, log  # the command never started
    assert not (job_dir / STATE_DIR / "admitted.json").exists()
    assert not list(Path(queued.record["results_dir"]).rglob("status.json"))

    # The queue goes on: the next job starts once the running one ends.
    after = service.submit(_convert(synth_root))
    assert state_of(after.record) == "PENDING"
    assert state_of(service.cancel(long.job_id, grace=5)) == "CANCELED"
    assert state_of(service.wait(after.job_id, timeout=300)) == COMPLETE


SUBMIT_TWO = textwrap.dedent("""
    import sys
    from tao_ocrnet.datasources.resolver import DataRoots
    from tao_ocrnet.jobs.request import JobRequest
    from tao_ocrnet.jobs.service import JobService
    service = JobService()
    request = JobRequest("dataset_convert", DataRoots(train_datasets=(sys.argv[1],)))
    sys.stdin.readline()  # both processes start their submits together
    for _ in range(2):
        print(service.submit(request).job_id, flush=True)
""")


def test_two_processes_submitting_at_once_never_exceed_the_limit(jobs_env, synth_root, monkeypatch):  # noqa: F811
    monkeypatch.setenv(LIMIT_ENV, "1")
    procs = [
        subprocess.Popen([sys.executable, "-c", SUBMIT_TWO, str(synth_root)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    ids = [proc.communicate(timeout=120)[0].split() for proc in procs]
    assert [len(i) for i in ids] == [2, 2] and all(p.returncode == 0 for p in procs)
    service = JobService()
    records = [service.wait(job_id, timeout=300) for mine in ids for job_id in mine]
    assert all(state_of(r) == COMPLETE for r in records), [last_transition(r) for r in records]
    order = _one_at_a_time(records)  # at most one ran at any time, each exactly once
    for mine in ids:  # each process's jobs ran in the order it submitted them
        assert [i for i in order if i in mine] == mine
    admitted = [json.loads((Path(r["job_dir"]) / STATE_DIR / "admitted.json").read_text()) for r in records]
    assert {a["slot"] for a in admitted} == {0} and {a["limit"] for a in admitted} == {1}


def test_an_automl_study_with_more_workers_than_the_limit_completes(automl_env, synth_root, monkeypatch):  # noqa: F811
    monkeypatch.setenv(LIMIT_ENV, "1")
    settings = {"algorithm": "random", "max_recommendations": 2, "max_epochs": 1, "max_concurrent": 2, "seed": 4,
                "study_name": "queued"}  # fmt: skip
    start_study(settings, StudyRequest(roots=DataRoots(train_datasets=(str(synth_root),)), overrides=TINY_TRAIN))
    status = wait_study("queued", timeout=900)
    assert status["state"] == "COMPLETE", status
    history = status["history"]
    assert len(history) == 2 and all(r["status"] == "success" for r in history), history
    service = JobService()
    records = [service.store.read(r["job_id"]) for r in history]
    _one_at_a_time(records)  # two workers, one job at a time: the other worker's trial waited its turn
    waited = [r for r in records if any(t["message"].startswith("queued:") for t in r["transitions"])]
    assert waited, [r["transitions"] for r in records]
    for record in records:
        log = (Path(record["job_dir"]) / "job.log").read_text()
        assert f"threads: {machine_cpus()} of " in log and "; 1 job at once" in log
        assert f"torch threads: {machine_cpus()} (OMP_NUM_THREADS)" in log, log  # torch used them all
