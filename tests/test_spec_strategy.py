# SPDX-License-Identifier: Apache-2.0
"""`train.distributed_strategy`: `auto` is accepted (the default stays ddp); what reaches Lightning, GPUs and CPUs."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest
from pytorch_lightning.strategies import DDPStrategy

from tao_ocrnet.actions import train
from tao_ocrnet.actions.common import RunContext
from tao_ocrnet.config.loader import validate_tree
from tao_ocrnet.config.spec import ExperimentSpec
from tao_ocrnet.errors import SpecError


def test_auto_is_a_choice_and_ddp_stays_the_default():
    assert ExperimentSpec().train.distributed_strategy == "ddp"
    spec = validate_tree({"train": {"distributed_strategy": "auto"}}, "train", check_required=False)
    assert spec.train.distributed_strategy == "auto"
    with pytest.raises(SpecError):
        validate_tree({"train": {"distributed_strategy": "dp"}}, "train", check_required=False)


@pytest.mark.parametrize("strategy", ["auto", "ddp"])
def test_the_strategy_reaches_lightning(strategy, tmp_path):
    import pytorch_lightning as pl

    from tao_ocrnet.actions.distributed import Processes
    from tao_ocrnet.actions.distributed import strategy as strategy_for

    tree = {"train": {"distributed_strategy": strategy, "num_gpus": 2, "gpu_ids": [0, 1], "distributed_timeout": 77}}
    spec = validate_tree(tree, "train", check_required=False)
    chosen = strategy_for(spec.train, Processes("gpu", [0, 1], 2, 1, "train.num_gpus"))  # two GPUs, without them
    if strategy == "auto":
        assert chosen == "auto"  # Lightning picks
    else:  # Lightning's DDP with the spec's timeout; NCCL or gloo left to Lightning on GPUs
        assert isinstance(chosen, DDPStrategy) and chosen.process_group_backend is None
        assert chosen._timeout == dt.timedelta(seconds=77)
    # Lightning takes it as is (checked on the CPU: the same strategy registry).
    trainer = pl.Trainer(accelerator="cpu", devices=1, strategy=chosen, logger=False,
                         enable_checkpointing=False, default_root_dir=str(tmp_path))  # fmt: skip
    assert trainer.strategy is not None


@pytest.mark.parametrize("strategy", ["auto", "ddp"])
def test_cpu_processes_are_ddp_over_gloo(strategy, tmp_path):
    tree = {"train": {"distributed_strategy": strategy, "num_gpus": 0, "num_cpu_processes": 2}}
    spec = validate_tree(tree, "train", check_required=False)
    kwargs = train._trainer_kwargs(RunContext("train", spec, tmp_path, argparse.Namespace()))
    assert (kwargs["accelerator"], kwargs["devices"], kwargs["num_nodes"]) == ("cpu", 2, 1)
    ddp = kwargs["strategy"]
    assert isinstance(ddp, DDPStrategy) and ddp.process_group_backend == "gloo"
    assert ddp._start_method == "popen"  # auto too: Lightning's choice on CPUs
    assert ddp._timeout == dt.timedelta(seconds=spec.train.distributed_timeout)
