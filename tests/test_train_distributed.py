# SPDX-License-Identifier: Apache-2.0
"""Distributed training on CPUs (DDP over gloo): the path multi-GPU and multi-node runs take, run for real.

Two ranks train the tiny model on 8 raw training images and validate on 7 (odd, so a padded shard would repeat
one). Every run is `ocrnet train` in its own processes, through `tests/dist_probe.py`, which records the samples
each rank loads. Ranks come from Lightning's launcher (`train.num_cpu_processes=2`), from two "nodes" on localhost
(`NODE_RANK` 0 and 1), and from `srun` on the loopback Slurm cluster.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from tao_ocrnet.cli import main as cli
from tao_ocrnet.results.status import read_status

from data_fixtures import make_raw_set, write_charset
from slurm_fixtures import slurm_cluster  # noqa: F401
from tiny_config import TINY_MODEL

PROBE = Path(__file__).with_name("dist_probe.py")
TRAIN_SAMPLES, VAL_SAMPLES = 8, 7
# Ranks of a loaded 2-core machine can take a minute to start: the rendezvous waits that long, a failure does not.
RENDEZVOUS_S = 300
RUN_TIMEOUT_S = 600
# What the launcher environment of the machine running the tests must not leak into a run.
LAUNCH_VARS = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "RANK", "GROUP_RANK", "WORLD_SIZE")


@pytest.fixture(scope="module")
def dist_data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The spec tree (without results_dir) of a 2-rank, 1-epoch tiny training on raw images."""
    root = tmp_path_factory.mktemp("dist_data")
    train = make_raw_set(root / "train", [f"t{i}" for i in range(TRAIN_SAMPLES)])
    val = make_raw_set(root / "val", [f"v{i}" for i in range(VAL_SAMPLES)])
    return {
        "model": {**TINY_MODEL, "input_width": 100, "input_height": 32},
        "dataset": {
            "train_dataset_dir": [str(train.img_dir)],
            "train_gt_file": str(train.gt_file),
            "val_dataset_dir": str(val.img_dir),
            "val_gt_file": str(val.gt_file),
            "character_list_file": str(write_charset(root / "character_list")),
            "batch_size": 2,
            "workers": 0,
        },
        "train": {
            "num_gpus": 0,
            "num_cpu_processes": 2,
            "num_epochs": 1,
            "distributed_timeout": RENDEZVOUS_S,
            "optim": {"name": "adam", "lr": 0.001},
        },
        "evaluate": {"test_dataset_dir": str(val.img_dir), "test_dataset_gt_file": str(val.gt_file), "num_gpus": 0},
        "wandb": {"enable": False},
    }


def write_spec(tree: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump({**tree, "results_dir": str(folder / "results")}))
    return path


def probe(spec: Path, trace: Path, *overrides: str, delay: float = 0.0, **env: str) -> subprocess.Popen:
    """`ocrnet train -e spec overrides` through the recording probe, 2 cores' worth of threads for the job."""
    base = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS and not k.startswith("SLURM_")}
    base.update(PROBE_TRACE_DIR=str(trace), PROBE_SAMPLE_DELAY=str(delay), OMP_NUM_THREADS="2", **env)
    log = (trace.parent / f"{trace.name}.log").open("w")
    return subprocess.Popen(
        [sys.executable, str(PROBE), "train", "-e", str(spec), *overrides],
        env=base,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def finished(proc: subprocess.Popen, trace: Path) -> int:
    rc = proc.wait(timeout=RUN_TIMEOUT_S)
    assert rc == 0, (trace.parent / f"{trace.name}.log").read_text()[-3000:]
    return rc


def seen(trace: Path, split: str) -> dict[int, list[dict]]:
    """rank -> the samples it loaded, in order."""
    out = {}
    for path in sorted(trace.glob(f"{split}-rank*.jsonl")):
        rank = int(path.stem.rpartition("rank")[2])
        out[rank] = [json.loads(line) for line in path.read_text().splitlines()]
    return out


def assert_disjoint_shards(trace: Path, ranks: int = 2) -> None:
    """One epoch: each rank read its own equal share of the training set, together all of it, none twice."""
    train = seen(trace, "train")
    assert sorted(train) == list(range(ranks))
    shards = [[s["index"] for s in train[r]] for r in range(ranks)]
    assert all(len(shard) == TRAIN_SAMPLES // ranks for shard in shards)
    assert sorted(i for shard in shards for i in shard) == list(range(TRAIN_SAMPLES))
    assert len({s["pid"] for r in range(ranks) for s in train[r]}) == ranks


def statuses(results: Path) -> list[str]:
    return [line["status"] for line in read_status(results / "status.json")]


def checkpoints(results: Path) -> list[str]:
    return sorted(p.name for p in results.glob("*.pth"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_node_run(dist_data: dict, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two "nodes" on localhost (`ocrnet train` twice, NODE_RANK 0 and 1, one CPU process each), one finished
    1-epoch training: (its train results folder, its trace folder). Unseeded: each node draws its own seed, and the
    ranks must still agree on one, or their shuffled shards would overlap."""
    folder = tmp_path_factory.mktemp("two_nodes")
    spec, trace = write_spec(dist_data, folder), folder / "trace"
    rendezvous = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": "2"}
    shape = ("train.num_nodes=2", "train.num_cpu_processes=1", "train.seed=-1")
    nodes = [probe(spec, trace, *shape, NODE_RANK=str(rank), **rendezvous) for rank in (0, 1)]
    for node in nodes:
        finished(node, trace)
    return folder / "results" / "train", trace


@pytest.mark.slow
def test_two_nodes_on_localhost_train_as_one_run_that_rank_zero_alone_writes(two_node_run):
    results, trace = two_node_run
    assert_disjoint_shards(trace)
    # 4 samples per rank at batch 2: 2 steps, each on both ranks at once.
    assert checkpoints(results) == ["best_accuracy.pth", "model_epoch_000_step_00002.pth", "ocr_model_latest.pth"]
    assert torch.load(results / "ocr_model_latest.pth", weights_only=True)["global_step"] == 2
    assert sorted(p.name for p in results.iterdir() if p.name.startswith("status")) == ["status.json"]
    lines = statuses(results)
    assert lines.count("STARTED") == 1 and lines.count("SUCCESS") == 1 and lines[-1] == "SUCCESS"
    kpis = [line["kpi"] for line in read_status(results / "status.json") if "norm_ed" in line.get("kpi", {})]
    assert len(kpis) == 1  # one validation, reported once
    assert (results / "log_val.txt").read_text().count("Current_accuracy") == 1


@pytest.mark.slow
def test_val_acc_equals_a_single_process_evaluate_of_the_same_checkpoint(two_node_run, dist_data, tmp_path):
    results, trace = two_node_run
    val = seen(trace, "val")
    # Shards of 4 and 3: every validation sample counted once, none repeated to even out the shards.
    assert sorted(s["index"] for samples in val.values() for s in samples) == list(range(VAL_SAMPLES))
    assert sorted(len(samples) for samples in val.values()) == [3, 4]
    kpi = next(line["kpi"] for line in read_status(results / "status.json") if "norm_ed" in line.get("kpi", {}))
    spec = write_spec(dist_data, tmp_path)
    assert cli(["evaluate", "-e", str(spec), f"evaluate.checkpoint={results / 'best_accuracy.pth'}"]) == 0
    single = json.loads((tmp_path / "results" / "evaluate" / "metrics.json").read_text())
    assert single["num_samples"] == VAL_SAMPLES
    assert kpi["val_acc"] == pytest.approx(single["accuracy"], abs=1e-6)
    assert kpi["norm_ed"] == pytest.approx(single["norm_ed"], rel=1e-5)


@pytest.mark.slow
def test_a_killed_rank_fails_the_run_in_bounded_time_and_a_rerun_resumes_at_its_step(dist_data, tmp_path):
    """Ranks started by Lightning's launcher: `ocrnet train` with train.num_cpu_processes=2."""
    spec = write_spec(dist_data, tmp_path)
    results, trace = tmp_path / "results" / "train", tmp_path / "trace"
    proc = probe(spec, trace, "train.num_epochs=2", delay=0.3)
    deadline = time.monotonic() + RUN_TIMEOUT_S
    rank1 = trace / "train-rank1.jsonl"
    # Epoch 1 has begun on rank 1 (its 5th sample) and epoch 0's checkpoint is written: kill rank 1.
    while not (rank1.exists() and len(rank1.read_text().splitlines()) > TRAIN_SAMPLES // 2):
        assert proc.poll() is None and time.monotonic() < deadline, (trace.parent / "trace.log").read_text()[-3000:]
        time.sleep(0.1)
    os.kill(json.loads(rank1.read_text().splitlines()[0])["pid"], signal.SIGKILL)
    killed = time.monotonic()
    rc = proc.wait(timeout=RUN_TIMEOUT_S)
    assert rc != 0 and time.monotonic() - killed < 120  # gloo sees the peer gone; no wait for the timeout
    # Rank zero records the failure, unless Lightning's child-process observer (it polls every 5 s) got there first:
    # it SIGKILLs the launching process too, and a job's runner then records the exit code.
    assert statuses(results)[-1] == "FAILURE" if rc > 0 else rc == -signal.SIGKILL
    assert "model_epoch_000_step_00002.pth" in checkpoints(results)
    # The job's 2 cores (OMP_NUM_THREADS) split between the 2 ranks, not 2 threads each.
    assert {s["threads"] for samples in seen(trace, "train").values() for s in samples} == {1}

    rerun = tmp_path / "rerun"
    finished(probe(spec, rerun, "train.num_epochs=2"), rerun)
    assert "resuming from" in (results / "train.log").read_text()
    assert_disjoint_shards(rerun)  # epoch 1 only: epoch 0 is not trained again
    assert checkpoints(results) == [
        "best_accuracy.pth",
        "model_epoch_000_step_00002.pth",
        "model_epoch_001_step_00004.pth",
        "ocr_model_latest.pth",
    ]
    latest = torch.load(results / "ocr_model_latest.pth", weights_only=True)
    assert (latest["epoch"], latest["global_step"]) == (1, 4)
    assert statuses(results).count("STARTED") == 2 and statuses(results)[-1] == "SUCCESS"  # one per run


@pytest.mark.slow
@pytest.mark.slurm
def test_srun_tasks_are_the_ranks_and_an_allocation_of_another_shape_is_refused(
    slurm_cluster: str,  # noqa: F811
    dist_data: dict,
    tmp_path: Path,
) -> None:
    spec = write_spec(dist_data, tmp_path)
    results, trace = tmp_path / "results" / "train", tmp_path / "trace"
    srun = ["srun", "--quiet", "--time=10", "--nodes=1", "--ntasks-per-node=2", "--cpus-per-task=1"]
    command = [sys.executable, str(PROBE), "train", "-e", str(spec)]
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    env.update(PROBE_TRACE_DIR=str(trace), OMP_NUM_THREADS="2")
    refused = subprocess.run(
        [*srun, *command, "train.num_cpu_processes=1", f"results_dir={tmp_path / 'refused'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert refused.returncode != 0
    assert "train.num_cpu_processes=1" in refused.stderr and "--ntasks-per-node=1" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = subprocess.run([*srun, *command], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    assert_disjoint_shards(trace)
    # Each task's own CPUs (--cpus-per-task), not the job's OMP_NUM_THREADS split again.
    assert {s["threads"] for samples in seen(trace, "train").values() for s in samples} == {1}
    assert checkpoints(results) == ["best_accuracy.pth", "model_epoch_000_step_00002.pth", "ocr_model_latest.pth"]
    assert statuses(results).count("STARTED") == 1 and statuses(results)[-1] == "SUCCESS"


def test_settings_no_cpu_can_run_are_refused_before_training(dist_data, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    spec = write_spec(dist_data, tmp_path)
    assert cli(["train", "-e", str(spec), "train.num_gpus=2"]) == 2
    err = capsys.readouterr().err
    assert "train.num_gpus=0 and train.num_cpu_processes=2" in err and "Traceback" not in err
    assert cli(["train", "-e", str(spec), "train.distributed_strategy=fsdp"]) == 2
    assert "train.distributed_strategy=ddp" in capsys.readouterr().err
    assert cli(["train", "-e", str(spec), "train.distributed_strategy=ddp_spawn"]) == 2
    assert "train.distributed_strategy=ddp (the default" in capsys.readouterr().err
    assert not list((tmp_path / "results" / "train").glob("*.pth"))
