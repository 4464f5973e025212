# SPDX-License-Identifier: Apache-2.0
"""`train.distributed_strategy`: `auto` is accepted (the default stays ddp) and reaches Lightning as "auto"."""

from __future__ import annotations

import argparse

import pytest

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
def test_the_strategy_reaches_lightning(strategy, monkeypatch, tmp_path):
    import pytorch_lightning as pl

    tree = {"train": {"distributed_strategy": strategy, "num_gpus": 2, "gpu_ids": [0, 1]}}
    spec = validate_tree(tree, "train", check_required=False)
    monkeypatch.setattr(train, "select_device", lambda *a: "cuda:0")  # two GPUs, without needing them
    kwargs = train._trainer_kwargs(RunContext("train", spec, tmp_path, argparse.Namespace()))
    assert kwargs["strategy"] == strategy and kwargs["devices"] == [0, 1]
    # Lightning takes the name as is (checked on the CPU: the same strategy registry).
    trainer = pl.Trainer(accelerator="cpu", devices=1, strategy=kwargs["strategy"], logger=False,
                         enable_checkpointing=False, default_root_dir=str(tmp_path))  # fmt: skip
    assert trainer.strategy is not None
