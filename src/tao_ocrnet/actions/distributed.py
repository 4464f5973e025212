# SPDX-License-Identifier: Apache-2.0
"""How `ocrnet train` spreads over processes: GPUs (`train.num_gpus`) or CPU processes (`train.num_cpu_processes`,
DDP over gloo) per node, times `train.num_nodes`; the Lightning strategy with the spec's timeout; each CPU rank's
share of the cores; the check that a Slurm allocation matches the spec.

Processes come from Lightning's launcher (the `ocrnet train` started on each node starts the node's other ranks),
from torchrun (its environment) or from `srun` (one task per rank). Lightning picks the cluster environment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass

import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import DDPStrategy, FSDPStrategy, Strategy

from tao_ocrnet.actions.common import select_device
from tao_ocrnet.actions.ranks import srun_task
from tao_ocrnet.config.spec import TrainConfig
from tao_ocrnet.errors import UserError

log = logging.getLogger(__name__)

# The per-rank thread count, exported by the process that decides it: ranks it starts inherit the environment and
# must not split the cores a second time.
THREADS_ENV = "OCRNET_THREADS_PER_PROCESS"


@dataclass(frozen=True)
class Processes:
    """The run's shape: `per_node` ranks (GPUs or CPU processes) on each of `num_nodes` nodes."""

    accelerator: str  # "gpu" or "cpu"
    devices: int | list[int]  # what pl.Trainer takes: a count, or GPU indices
    per_node: int
    num_nodes: int
    key: str  # the spec key that sets per_node

    @property
    def world_size(self) -> int:
        return self.per_node * self.num_nodes


def processes(t: TrainConfig) -> Processes:
    """GPUs when the spec asks for them and CUDA is visible, else `num_cpu_processes` CPU ranks per node."""
    if t.distributed_strategy == "ddp_spawn" and max(t.num_gpus, t.num_cpu_processes) * t.num_nodes > 1:
        # Spawned ranks get pickled copies of the callbacks, which hold the run's state (best accuracy, status).
        raise UserError(
            "`train.distributed_strategy` = ddp_spawn is not supported by this trainer; set "
            "train.distributed_strategy=ddp (the default: the same DDP, its ranks started as subprocesses)"
        )
    if t.num_gpus > 1 and not torch.cuda.is_available():
        raise UserError(
            f"`train.num_gpus` = {t.num_gpus} needs CUDA GPUs, and none are visible; to train {t.num_gpus} "
            f"processes on the CPU set train.num_gpus=0 and train.num_cpu_processes={t.num_gpus}"
        )
    if select_device(t.num_gpus, t.gpu_ids, "train.num_gpus") != "cpu":
        gpus = list(t.gpu_ids[: t.num_gpus])
        if t.num_cpu_processes > 1:
            log.info("train.num_cpu_processes is ignored: training on %d GPU(s) per node", t.num_gpus)
        return Processes("gpu", gpus or t.num_gpus, len(gpus) or t.num_gpus, t.num_nodes, "train.num_gpus")
    n = t.num_cpu_processes
    if n * t.num_nodes > 1 and t.distributed_strategy == "fsdp":
        raise UserError(
            "`train.distributed_strategy` = fsdp needs GPUs; set train.distributed_strategy=ddp for CPU processes"
        )
    return Processes("cpu", n, n, t.num_nodes, "train.num_cpu_processes")


def strategy(t: TrainConfig, p: Processes) -> Strategy | str:
    """The Lightning strategy for more than one rank, with `train.distributed_timeout` on its process group."""
    timeout = dt.timedelta(seconds=t.distributed_timeout)
    name = t.distributed_strategy
    if name == "fsdp":  # GPUs only (`processes` refuses it on CPUs)
        return FSDPStrategy(timeout=timeout)
    if name == "auto" and p.accelerator == "gpu":
        return "auto"
    # ddp, and on CPUs "auto" too: what Lightning picks there outside notebooks (ranks started as subprocesses).
    return DDPStrategy(process_group_backend="gloo" if p.accelerator == "cpu" else None, timeout=timeout)


def share_cores(p: Processes) -> None:
    """Give each of a node's CPU ranks an equal share of the job's cores (torch threads).

    The job's cores: srun's `SLURM_CPUS_PER_TASK` is already one rank's; otherwise `OMP_NUM_THREADS` (the job
    runner sets it to the job's share of the machine) or the CPUs this process may use, split `per_node` ways.
    Ranks that oversubscribe the cores slow each other down badly.
    """
    inherited = os.environ.get(THREADS_ENV, "").strip()
    per_task = os.environ.get("SLURM_CPUS_PER_TASK", "").strip() if srun_task() else ""
    share = os.environ.get("OMP_NUM_THREADS", "").strip()
    if inherited.isdigit() and int(inherited) > 0:
        threads = int(inherited)
    elif per_task.isdigit() and int(per_task) > 0:
        threads = int(per_task)
    else:
        cores = int(share) if share.isdigit() and int(share) > 0 else len(os.sched_getaffinity(0))
        threads = max(1, cores // p.per_node)
    os.environ[THREADS_ENV] = str(threads)
    # Lightning's launchers set OMP_NUM_THREADS for the ranks they start only where it is unset.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
    log.info("torch threads per rank: %d (%d CPU rank(s) per node)", threads, p.per_node)


def check_slurm_allocation(p: Processes) -> None:
    """Under srun, Lightning needs one task per rank: tasks per node == ranks per node, nodes == `num_nodes`.
    A mismatch is a UserError naming the spec keys, before Lightning's own message (or a wrong world size)."""
    if not srun_task():
        return
    tasks = int(os.environ["SLURM_NTASKS"])
    nodes = int(os.environ.get("SLURM_NNODES", "1"))
    per_node_text = os.environ.get("SLURM_NTASKS_PER_NODE", "").strip()
    per_node = int(per_node_text) if per_node_text.isdigit() else None
    # Lightning refuses --ntasks without --ntasks-per-node (one task alone needs neither).
    shaped = per_node == p.per_node or (per_node is None and tasks == 1)
    if shaped and tasks == p.world_size and nodes == p.num_nodes:
        return
    shape = f"{tasks} task(s) on {nodes} node(s)" + (f", {per_node} per node" if per_node else "")
    fix = f"--nodes={p.num_nodes} --ntasks-per-node={p.per_node}"
    hint = f"; or set {p.key}={per_node} and train.num_nodes={nodes}" if per_node and per_node * nodes == tasks else ""
    raise UserError(
        f"the Slurm allocation runs {shape}, but the spec asks for {p.key}={p.per_node} rank(s) per node on "
        f"train.num_nodes={p.num_nodes} node(s); Lightning needs one srun task per rank: submit with {fix}{hint}"
    )


@contextlib.contextmanager
def ranks_stopped_on_failure(trainer: pl.Trainer) -> Iterator[None]:
    """When this rank fails, stop the ranks it started: Lightning does so only on Ctrl-C, and otherwise they would
    wait for it until the process-group timeout."""
    try:
        yield
    except BaseException:
        if trainer.strategy.launcher is not None:
            trainer.strategy.launcher.kill(signal.SIGKILL)
        raise


class SeedAcrossRanks(pl.Callback):
    """With `train.seed` = -1 each rank drew its own seed; Lightning's DistributedSampler shuffles by the global
    seed, so ranks must agree on one or their shards overlap. Rank zero's wins (after the process group exists)."""

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if trainer.world_size > 1:
            seed = trainer.strategy.broadcast(int(os.environ.get("PL_GLOBAL_SEED", "0")), src=0)
            pl.seed_everything(seed, workers=True)
