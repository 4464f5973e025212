# SPDX-License-Identifier: Apache-2.0
"""AutoML across nodes: workers sharing a study through a real PostgreSQL (scripts/postgres.sh) or a journal file
on a shared folder, a worker's "node" dying mid-trial (kill -9 of a worker whose host name differs, made with
`unshare --uts`: its pid means nothing to the others, so heartbeats or leases must find it), concurrent first
opens of an empty database, the missing-driver message, the trial platform, and Optuna's matplotlib plots."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from PIL import Image

from automl_fixtures import TINY, automl, automl_env  # noqa: F401
from tao_ocrnet.automl.plan import StudyRequest
from tao_ocrnet.automl.plot import render_plots
from tao_ocrnet.automl.runner import start_study, study_status, wait_study
from tao_ocrnet.automl.storage import GRACE_ENV, HEARTBEAT_ENV, open_storage
from tao_ocrnet.datasources.resolver import DataRoots
from tao_ocrnet.jobs.service import JobService

from guards import wait_for
from jobs_fixtures import synth_root  # noqa: F401
from postgres_fixtures import pg_database, postgres_url  # noqa: F401
from slurm_fixtures import slurm_cluster, write_settings  # noqa: F401
from tiny_config import TINY_TRAIN

TIMEOUT = 600.0  # seconds; a tiny trial takes ~10 s on an idle 2-core machine, several times that when it is busy
PLOTS = ("plot.png", "plot_intermediate.png", "plot_parallel.png")


def _settings(name: str, storage: str, workers: int, budget: int = 2) -> dict:
    return {"algorithm": "random", "max_recommendations": budget, "max_epochs": 1, "seed": 4, "storage": storage,
            "study_name": name, "max_concurrent": workers}  # fmt: skip


def _request(data: Path, platform: str | None = None) -> StudyRequest:
    return StudyRequest(roots=DataRoots(train_datasets=(str(data),)), overrides=TINY_TRAIN, platform=platform)


def _assert_matplotlib_png(path: Path) -> None:
    with Image.open(path) as img:
        assert img.format == "PNG" and img.width > 200 and img.height > 200
        assert str(img.info.get("Software", "")).startswith("Matplotlib"), img.info  # drawn by matplotlib


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_on_postgresql_complete_a_study_as_jobs_of_the_platform(automl_env, synth_root, pg_database,  # noqa: F811
                                                                             monkeypatch):  # fmt: skip
    monkeypatch.setenv("OCRNET_MAX_JOBS", "2")  # both workers' trial jobs at once (the default is half the CPUs)
    started = start_study(_settings("pg-pair", pg_database, workers=2), _request(synth_root, "local"))
    assert started["review"]["platform"] == "local"
    status = wait_study("pg-pair", storage=pg_database, timeout=TIMEOUT)
    history = status["history"]
    seen = json.dumps(
        [{k: r.get(k) for k in ("status", "worker", "job_id", "failure_reason", "specs")} for r in history]
    )
    assert status["state"] == "COMPLETE", seen
    assert [r["status"] for r in history] == ["success", "success"], seen
    assert {r["worker"]["index"] for r in history} == {0, 1}, seen  # both workers ran a trial
    assert len({r["job_id"] for r in history}) == 2, seen
    assert len({json.dumps(r["specs"], sort_keys=True) for r in history}) == 2, seen  # no configuration twice
    records = [JobService().get(r["job_id"]) for r in history]
    assert {rec["platform"] for rec in records} == {"local"}  # every trial was a job of the study's platform
    ws = Path(status["workspace"])
    for name in PLOTS:
        _assert_matplotlib_png(ws / name)
    handle = optuna.load_study(study_name="pg-pair", storage=open_storage(pg_database))
    assert handle.user_attrs["ocrnet_automl"]["platform"] == "local"


@pytest.mark.slurm
@pytest.mark.slow
def test_trials_run_as_slurm_jobs_of_a_journal_study(capsys, automl_env, synth_root, slurm_cluster):  # noqa: F811
    write_settings(automl_env.home)  # the loopback cluster: no GPUs, one CPU per task
    code, out, err = automl(capsys, "run", "--train-dataset", str(synth_root), "--study", "on-slurm",
                            "--platform", "slurm", "--algorithm", "random", "--max-recommendations", "1",
                            "--max-epochs", "1", "--wait", "--timeout", str(TIMEOUT), *TINY)  # fmt: skip
    assert code == 0, err
    status = json.loads(out)
    assert status["state"] == "COMPLETE", status
    record = JobService().get(status["best"]["job_id"])
    assert record["platform"] == "slurm" and record["backend_ref"]["scheduler_job"], record["backend_ref"]


def _node_worker(study: str, url: str, host: str) -> subprocess.Popen:
    """`ocrnet automl worker` as if on another machine: its own host name (a UTS namespace), same files."""
    script = f'hostname {host} && exec "$0" -m tao_ocrnet automl worker --study {study} --index 9'
    return subprocess.Popen(["unshare", "--uts", "sh", "-c", script, sys.executable],
                            env={**os.environ, "OCRNET_AUTOML_STORAGE": url}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["journal", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_dead_nodes_trial_is_retried_by_another_worker(kind, automl_env, synth_root, tmp_path, monkeypatch, request):  # noqa: F811
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare to give a worker another host name")
    if kind == "journal":
        (tmp_path / "shared").mkdir()
        url = f"journal://{tmp_path / 'shared' / 'journal.log'}"  # the server-less choice on a shared folder
    else:
        url = request.getfixturevalue("pg_database")
    # Short beats for the test; a healthy worker can still be slow to submit on a busy machine: 10 s grace.
    monkeypatch.setenv(HEARTBEAT_ENV, "1")
    monkeypatch.setenv(GRACE_ENV, "10")
    monkeypatch.setenv("OCRNET_MAX_JOBS", "2")
    name = f"node-{kind}"
    start_study(_settings(name, url, workers=1), _request(synth_root))
    other = _node_worker(name, url, "node2")
    try:

        def node2_trial():
            rows = study_status(name, storage=url)["history"]
            mine = [r for r in rows if r["status"] == "running" and (r["worker"] or {}).get("host") == "node2"]
            return mine[0] if mine and mine[0]["job_id"] else None

        victim = wait_for(node2_trial, "a trial of the worker on node2")
        os.kill(other.pid, signal.SIGKILL)  # the node dies: no exit, no tell, its trial stays RUNNING
        other.wait(timeout=30)
        status = wait_study(name, storage=url, timeout=TIMEOUT)
    finally:
        if other.poll() is None:
            other.kill()
    history = status["history"]
    seen = json.dumps([{k: r.get(k) for k in ("rec_id", "status", "worker", "failure_reason", "retry_of")}
                       for r in history])  # fmt: skip
    assert status["state"] == "COMPLETE", seen
    by_id = {r["rec_id"]: r for r in history}
    assert by_id[victim["rec_id"]]["status"] == "interrupted", seen
    retries = [r for r in history if r.get("retry_of") == victim["rec_id"]]
    assert len(retries) == 1 and retries[0]["status"] == "success", seen
    assert retries[0]["specs"] == victim["specs"] and retries[0]["worker"]["host"] != "node2", seen
    assert sum(r["status"] == "success" for r in history) == 2, seen
    if kind == "journal":
        assert "stopped renewing its lease" in by_id[victim["rec_id"]]["failure_reason"], seen


SIMULTANEOUS_OPEN = """
import pathlib, sys, time
import alembic.migration, optuna.storages._rdb.storage, psycopg  # the slow imports, before the barrier
from tao_ocrnet.automl.storage import open_storage
url, barrier, n = sys.argv[1], pathlib.Path(sys.argv[2]), int(sys.argv[3])
(barrier / str(time.time_ns())).touch()
while len(list(barrier.iterdir())) < n:
    time.sleep(0.001)
open_storage(url)
print("opened")
"""


@pytest.mark.postgres
def test_concurrent_first_opens_of_an_empty_database_do_not_race(pg_database, tmp_path):  # noqa: F811
    n = 3  # without the lock, 3 processes opening at once fail with UniqueViolation nearly every time
    argv = [sys.executable, "-c", SIMULTANEOUS_OPEN, pg_database, str(tmp_path), str(n)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(n)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 and "opened" in out for p, out in zip(procs, outputs, strict=True)), outputs
    study = optuna.create_study(storage=open_storage(pg_database), study_name="after")
    assert study.study_name in optuna.get_all_study_names(open_storage(pg_database))


MISSING_DRIVERS = """
import sys
sys.modules["psycopg"] = None  # as if not installed
sys.modules["psycopg2"] = None
from tao_ocrnet.automl.storage import open_storage
from tao_ocrnet.errors import UserError
for url in ("postgresql://ocr:secret@127.0.0.1:1/db", "postgresql+psycopg2://127.0.0.1:1/db"):
    try:
        open_storage(url)
    except UserError as exc:
        print(exc)
"""


def test_a_missing_database_driver_names_the_package_to_install():
    out = subprocess.run([sys.executable, "-c", MISSING_DRIVERS], capture_output=True, text=True, timeout=120)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2, out.stdout + out.stderr
    assert 'needs the `psycopg` database driver: pip install "psycopg[binary]"' in lines[0]
    assert "postgresql+psycopg2://" in lines[0] and "secret" not in lines[0]
    assert "needs the `psycopg2` database driver: pip install psycopg2-binary" in lines[1]


def test_an_unknown_platform_is_refused_before_anything_exists(capsys, automl_env, synth_root):  # noqa: F811
    code, _, err = automl(capsys, "run", "--train-dataset", str(synth_root), "--study", "nowhere",
                          "--platform", "nosuch", "--max-recommendations", "1", *TINY)  # fmt: skip
    assert code == 2 and "unknown job platform `nosuch`" in err
    assert not (automl_env.home / "automl" / "nowhere").exists()


def test_plots_come_from_optunas_matplotlib_visualization(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction="maximize")
    for i, lr in enumerate((1e-4, 3e-4, 1e-3)):
        trial = study.ask()
        trial.suggest_float("train.optim.lr", 1e-5, 1e-2, log=True)
        for epoch in range(3):
            trial.report(0.1 * i + 0.05 * epoch + lr, epoch + 1)
        study.tell(trial, 0.1 * i + 0.1 + lr)
    surplus = study.ask()
    surplus.set_user_attr("surplus", True)
    study.tell(surplus, state=TrialState.FAIL)
    written = render_plots(study, tmp_path)
    assert [p.name for p in written] == list(PLOTS)
    for path in written:
        _assert_matplotlib_png(path)
