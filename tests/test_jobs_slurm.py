# SPDX-License-Identifier: Apache-2.0
"""The `slurm` job platform on a real single-node Slurm cluster on loopback (scripts/slurm.sh, no mocks).

dataset_convert -> train -> evaluate + export run as Slurm jobs through `ocrnet jobs submit --platform slurm`
(or OCRNET_PLATFORM=slurm) and keep the local platform's promises: COMPLETE only with exit 0 and status.json
SUCCESS, results in the job folder, cancel -> CANCELED, kill -9 of the runner -> ERROR, a failing command ->
ERROR with its reason. The state mapping and the settings file are checked without a cluster.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tao_ocrnet.cli import main as cli
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.platforms import procs
from tao_ocrnet.jobs.platforms.base import ComputeShape, Launch
from tao_ocrnet.jobs.platforms.slurm import SLURM_STATES, batch_script, sbatch_options, slurm_state
from tao_ocrnet.jobs.platforms.slurm_settings import SlurmSettings, load_settings
from tao_ocrnet.jobs.record import CANCELED, COMPLETE, ERR_INFRA, ERR_PROGRAM, ERROR, PENDING, RUNNING, UNKNOWN
from tao_ocrnet.jobs.runner import LAUNCHER_ENV
from tao_ocrnet.results.status import read_status

from jobs_fixtures import log_tail, make_env, run, synth_root, tiny, wait_for  # noqa: F401
from slurm_fixtures import slurm_cluster, slurm_job_state, write_settings  # noqa: F401

pytestmark = pytest.mark.slurm
FINAL = (COMPLETE, ERROR, CANCELED)


def _submit(*args: str) -> str:
    """`ocrnet jobs submit ARGS` in-process (module fixtures cannot use capsys): the job id."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()) as err:
        code = cli(["jobs", "submit", *args])
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())["job_id"]


def _final(job_id: str, timeout: float = 300) -> dict:
    return wait_for(job_id, FINAL, timeout=timeout)


def _complete(job_id: str) -> dict:
    record = _final(job_id)
    assert record["terminal_state"] == COMPLETE, log_tail(job_id, 60)
    return record


@pytest.fixture(scope="module")
def cluster_env(
    slurm_cluster: str,  # noqa: F811
    synth_root: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict]:
    """A job home for Slurm jobs and the two splits converted as Slurm jobs (chosen by OCRNET_PLATFORM)."""
    with pytest.MonkeyPatch.context() as mp:
        env = make_env(mp, tmp_path_factory.mktemp("slurm"))
        write_settings(env.home)
        mp.setenv("OCRNET_PLATFORM", "slurm")
        ids = {split: _submit("dataset_convert", option, str(synth_root))
               for split, option in (("train", "--train-dataset"), ("eval", "--eval-dataset"))}  # fmt: skip
        mp.delenv("OCRNET_PLATFORM")
        records = {split: _complete(job_id) for split, job_id in ids.items()}
        yield {"env": env, "data": str(synth_root), "convert": ids, "records": records}


def _train_args(env: dict, epochs: int, *more: str) -> tuple[str, ...]:
    return ("train", "--platform", "slurm", "--train-dataset", f"job:{env['convert']['train']}",
            "--eval-dataset", f"job:{env['convert']['eval']}", *tiny(epochs), *more)  # fmt: skip


# --- end to end ------------------------------------------------------------------------------------


def test_a_tiny_chain_runs_as_slurm_jobs_to_complete(cluster_env: dict) -> None:
    convert = cluster_env["records"]["train"]
    assert convert["platform"] == "slurm" and convert["backend_ref"]["kind"] == "slurm-job"
    assert slurm_job_state(convert["backend_ref"]["scheduler_job"]) == "COMPLETED"
    assert (Path(convert["job_dir"]) / "sbatch.sh").is_file()

    train = _complete(_submit(*_train_args(cluster_env, 1)))
    shape = train["backend_ref"]["shape"]
    assert shape == {"nodes": 1, "tasks_per_node": 1, "gpus_per_node": 0, "cpus_per_task": 1}
    assert train["kpis"] and Path(train["outputs"]["task_dir"], "best_accuracy.pth").is_file()
    # The loopback cluster does not bind jobs to CPUs (task/none): the job keeps to its one CPU by its threads.
    assert "threads: 1 of 1 core" in (Path(train["job_dir"]) / "job.log").read_text(encoding="utf-8")

    parent = ("--platform", "slurm", "--parent-job", train["id"])
    evaluate = _submit("evaluate", "--eval-dataset", f"job:{cluster_env['convert']['eval']}", *parent,
                       "evaluate.batch_size=8", "evaluate.num_gpus=0")  # fmt: skip
    export = _submit("export", "--eval-dataset", cluster_env["data"], *parent)
    for job_id in (evaluate, export):
        record = _complete(job_id)
        folder = Path(record["outputs"]["task_dir"])
        assert folder.is_relative_to(Path(record["results_dir"]))
        assert read_status(folder / "status.json")[-1]["status"] == "SUCCESS"
        assert record["exit_code"] == 0 and record["platform"] == "slurm"
    assert any(Path(r).suffix == ".onnx" for r in os.listdir(_complete(export)["outputs"]["task_dir"]))
    assert "acc" in json.dumps(_complete(evaluate)["kpis"])


def test_two_cpu_processes_train_as_two_slurm_tasks_under_srun(cluster_env: dict) -> None:
    """tasks per node = `train.num_cpu_processes`; the runner starts them with srun and Lightning's
    SLURMEnvironment makes them ranks 0 and 1 of one training, which writes one status.json."""
    record = _complete(_submit(*_train_args(cluster_env, 1, "train.num_cpu_processes=2")))
    assert record["backend_ref"]["shape"]["tasks_per_node"] == 2
    log = (Path(record["job_dir"]) / "job.log").read_text(encoding="utf-8", errors="replace")
    assert "srun --kill-on-bad-exit=1" in log and "[rank: 1]" in log, log[-3000:]
    assert read_status(Path(record["outputs"]["task_dir"]) / "status.json")[-1]["status"] == "SUCCESS"


# --- cancel, kill -9, failure ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_jobs(cluster_env: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Two long train jobs submitted together, both RUNNING their command (the cluster runs two at once), and
    behind them a train job whose command fails (it runs once one of the two ends)."""
    ids = {name: _submit(*_train_args(cluster_env, 500)) for name in ("cancel", "kill")}
    broken = tmp_path_factory.mktemp("broken") / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    fails = _submit(*_train_args(cluster_env, 1, f"train.resume_training_checkpoint_path={broken}"))
    return {**{name: _command_running(job_id) for name, job_id in ids.items()}, "fails": {"id": fails}}


def _command_running(job_id: str, timeout: float = 120) -> dict:
    """The record once the job is RUNNING and its action has written status.json (the command runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = wait_for(job_id, (RUNNING, *FINAL), timeout=timeout)
        assert record["terminal_state"] is None, log_tail(job_id)
        if read_status(Path(record["outputs"]["task_dir"]) / "status.json"):
            return record
        time.sleep(0.3)
    raise AssertionError(f"{job_id}: the command did not start in {timeout} s\n{log_tail(job_id)}")


def _job_processes(job_dir: str) -> list[int]:
    """Live processes whose command line names the job folder (the runner and the action it runs)."""
    return [p for p in (int(e.name) for e in procs.PROC.iterdir() if e.name.isdigit())
            if job_dir in procs.cmdline(p) and procs.is_running(p)]  # fmt: skip


def _gone(job_dir: str, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while _job_processes(job_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _job_processes(job_dir)


def test_cancel_of_a_running_slurm_job_ends_canceled(
    long_jobs: dict[str, dict], capsys: pytest.CaptureFixture[str]
) -> None:
    record = long_jobs["cancel"]
    code, out, err = run(capsys, "cancel", record["id"], "--grace", "20")
    assert code == 0, err
    assert json.loads(out)["state"] == CANCELED
    final = _final(record["id"])
    assert final["terminal_state"] == CANCELED and final["exit_code"] not in (0, None)
    # A plain scancel: Slurm's own verdict is CANCELLED too (scancel --signal=TERM --full would say FAILED).
    assert slurm_job_state(record["backend_ref"]["scheduler_job"]) == "CANCELLED"
    assert _gone(record["job_dir"]), "processes of the canceled job still run"
    assert read_status(Path(record["outputs"]["task_dir"]) / "status.json")[-1]["status"] == "FAILURE"


def test_kill_9_of_the_runner_of_a_slurm_job_ends_error(long_jobs: dict[str, dict]) -> None:
    record = long_jobs["kill"]
    runner = [p for p in _job_processes(record["job_dir"]) if "runner.py" in procs.cmdline(p)]
    assert len(runner) == 1, runner
    os.kill(runner[0], signal.SIGKILL)
    final = _final(record["id"], timeout=60)
    assert final["terminal_state"] == ERROR, final["transitions"][-1]
    assert "without an exit record" in final["transitions"][-1]["message"]
    assert slurm_job_state(record["backend_ref"]["scheduler_job"]) == "FAILED"
    assert _gone(record["job_dir"]), "the training command outlived its runner"
    last = read_status(Path(record["outputs"]["task_dir"]) / "status.json")[-1]
    assert last["status"] == "FAILURE" and "ERROR" in last["message"]


def test_a_slurm_job_whose_command_fails_ends_error_with_the_reason(long_jobs: dict[str, dict]) -> None:
    record = _final(long_jobs["fails"]["id"])
    assert record["terminal_state"] == ERROR and record["err_class"] == ERR_PROGRAM
    message = record["transitions"][-1]["message"]
    assert "exited with code" in message and "resume_training_checkpoint_path" in message, message
    assert record["exit_code"] not in (0, None)
    assert slurm_job_state(record["backend_ref"]["scheduler_job"]) == "FAILED"


# --- without a cluster: the state table, the allocation, the settings ------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("PENDING", (PENDING, None)),
        ("CONFIGURING", (PENDING, None)),
        ("RUNNING", (RUNNING, None)),
        ("COMPLETING", (RUNNING, None)),
        ("COMPLETED", (COMPLETE, None)),
        ("FAILED", (ERROR, ERR_PROGRAM)),
        ("TIMEOUT", (ERROR, ERR_PROGRAM)),
        ("OUT_OF_MEMORY", (ERROR, ERR_PROGRAM)),
        ("NODE_FAIL", (ERROR, ERR_INFRA)),
        ("PREEMPTED", (ERROR, ERR_INFRA)),
        ("BOOT_FAIL", (ERROR, ERR_INFRA)),
        ("CANCELLED", (CANCELED, None)),
        ("CANCELLED by 0", (CANCELED, None)),  # sacct's wording
        ("SOMETHING_NEW", (UNKNOWN, None)),
    ],
)
def test_slurm_states_map_to_job_states(word: str, expected: tuple[str, str | None]) -> None:
    assert slurm_state(word) == expected
    assert set(SLURM_STATES.values()) <= {(s, c) for s in (PENDING, RUNNING, COMPLETE, ERROR, CANCELED)
                                          for c in (None, ERR_PROGRAM, ERR_INFRA)}  # fmt: skip


def test_the_allocation_follows_lightnings_slurm_rule(tmp_path: Path) -> None:
    """Tasks per node == devices per node, nodes == num_nodes; the runner runs once and starts the tasks by srun."""
    spec = {"train": {"num_nodes": 2, "num_gpus": 4, "num_cpu_processes": 3}, "dataset": {"workers": 5}}
    gpu = ComputeShape.from_spec(spec, "train")
    assert gpu == ComputeShape(nodes=2, tasks_per_node=4, gpus_per_node=4, cpus_per_task=6)
    cpu = ComputeShape.from_spec({"train": {**spec["train"], "num_gpus": 0}}, "train")
    assert (cpu.tasks_per_node, cpu.gpus_per_node, cpu.tasks) == (3, 0, 6)
    assert ComputeShape.from_spec({"evaluate": {"num_gpus": 1}, "train": spec["train"]}, "evaluate").tasks == 1

    launch = Launch("ocrnet-train-abcdef", tmp_path, tmp_path / "runner.py", tmp_path / "job.log", "/py", gpu)
    settings = SlurmSettings(partition="gpu", time_limit="4:00:00", sbatch_options=("--qos=high",),
                             container_image="nvcr.io/nvidia/pytorch:25.01-py3")  # fmt: skip
    opts = sbatch_options(launch, gpu, settings)
    for option in ("--nodes=2", "--ntasks-per-node=4", "--gpus-per-node=4", "--cpus-per-task=6", "--partition=gpu",
                   "--time=4:00:00", "--qos=high", "--no-requeue", "--container-image=nvcr.io/nvidia/pytorch:25.01-py3",
                   f"--output={tmp_path / 'job.log'}"):  # fmt: skip
        assert option in opts
    assert "--gpus-per-node=4" not in sbatch_options(launch, gpu, SlurmSettings(gpus=False))
    script = batch_script(launch, gpu, "/py")
    assert f"export {LAUNCHER_ENV}=" in script and "--ntasks-per-node=4" in script and "--kill-on-bad-exit=1" in script
    assert script.rstrip().endswith(f"exec /py {tmp_path / 'runner.py'} {tmp_path}")
    assert f"export {LAUNCHER_ENV}=''" in batch_script(launch, ComputeShape(), "/py")  # one task: no srun


@pytest.mark.parametrize(
    ("text", "env", "named"),
    [
        ("partiton: gpu\n", {}, "unknown setting `partiton`"),
        ("time_limit: four hours\n", {}, "`time_limit`"),
        ("sbatch_options: [--nodes=4]\n", {}, "may not set --nodes"),
        ("sbatch_options: --qos=high\n", {}, "`sbatch_options` must be a list"),
        ("gpus: maybe\n", {}, "`gpus`"),
        ("cpus_per_task: 0\n", {}, "`cpus_per_task`"),
        ("partition: [a, b]\n", {}, "`partition` must be a single value"),
        ("", {"OCRNET_SLURM_TIME_LIMIT": "soon"}, "OCRNET_SLURM_TIME_LIMIT: `time_limit`"),
        ("- a\n", {}, "must be a mapping"),
    ],
)
def test_bad_settings_are_one_error_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "slurm.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match=named.replace("[", r"\[").replace("(", r"\(")):
        load_settings(path)


def test_settings_read_as_text_and_the_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_settings(tmp_path, "partition: gpu\ntime_limit: 1:00:00\naccount: 1234\ngpus: no\n")
    monkeypatch.setenv("OCRNET_SLURM_PARTITION", "debug")
    monkeypatch.setenv("OCRNET_SLURM_SBATCH_OPTIONS", "--qos=high --exclusive")
    settings = load_settings(path)
    # `1:00:00` stays a time (YAML 1.1 would read 3600), `1234` an account name, `no` false.
    assert settings == SlurmSettings(partition="debug", account="1234", time_limit="1:00:00",
                                     sbatch_options=("--qos=high", "--exclusive"), gpus=False)  # fmt: skip


def test_a_bad_settings_file_refuses_the_submit_and_leaves_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    synth_root: Path,  # noqa: F811
) -> None:
    env = make_env(monkeypatch, tmp_path)
    write_settings(env.home, "time_limit: tomorrow\n")
    code, _, err = run(capsys, "submit", "dataset_convert", "--train-dataset", str(synth_root), "--platform", "slurm")
    assert code == 2 and "slurm.yaml: `time_limit`" in err and "Traceback" not in err
    assert env.entries() == ([], [])
