# SPDX-License-Identifier: Apache-2.0
"""Training options that the reference declared but never ran: LR schedules, EMA, pretrained weights."""

from __future__ import annotations

import pytest
import torch
import yaml

from tao_ocrnet.cli import main as cli

from action_fixtures import base_spec


def _spec(ws, tmp_path, **train):
    tree = base_spec(ws.data, ws.results)
    tree["train"].update(train)
    tree["train"]["results_dir"] = str(tmp_path / "train")
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def _latest_lr(folder) -> float:
    state = torch.load(folder / "ocr_model_latest.pth", weights_only=True)
    return state["optimizer_states"][0]["param_groups"][0]["lr"]


def test_multistep_schedule_ema_and_pretrained_weights(trained_workspace, tmp_path):
    spec = _spec(
        trained_workspace,
        tmp_path,
        num_epochs=2,
        model_ema=True,
        pretrained_model_path=str(trained_workspace.best),
        optim={"name": "adam", "lr": 0.01, "lr_scheduler": "MultiStep", "lr_steps": [1], "lr_decay": 0.1},
    )
    assert cli(["train", "-e", str(spec)]) == 0
    out = tmp_path / "train"
    assert _latest_lr(out) == pytest.approx(0.001)  # decayed once, at epoch 1
    state = torch.load(out / "ocr_model_latest.pth", weights_only=True)["state_dict"]
    assert any(k.startswith("model_ema.module.") for k in state)  # the reference's key names
    log_text = (out / "train.log").read_text()
    assert "pretrained weights:" in log_text and " 0 skipped" in log_text  # same architecture: all copied


def test_autoreduce_is_stepped_on_the_monitored_validation_loss(trained_workspace, tmp_path):
    from tao_ocrnet.results.status import read_status

    optim = {"name": "adam", "lr": 0.0, "lr_scheduler": "AutoReduce", "lr_monitor": "val_loss", "patience": 0}
    spec = _spec(trained_workspace, tmp_path, num_epochs=3, optim=optim)
    assert cli(["train", "-e", str(spec)]) == 2  # lr must be > 0: a clear error, not a silent no-op
    spec = _spec(trained_workspace, tmp_path, num_epochs=3, optim={**optim, "lr": 0.001})
    assert cli(["train", "-e", str(spec)]) == 0
    out = tmp_path / "train"
    scheduler = torch.load(out / "ocr_model_latest.pth", weights_only=True)["lr_schedulers"][0]
    val_losses = [r["kpi"]["val_loss"] for r in read_status(out / "status.json") if "val_loss" in r.get("kpi", {})]
    # The last checkpoint is written at the end of epoch 3's training, after two scheduler steps,
    # each taken on that epoch's validation loss.
    assert scheduler["last_epoch"] == 2
    assert scheduler["best"] == pytest.approx(min(val_losses[:2]), rel=1e-5)


def test_multi_gpu_settings_on_a_cpu_machine_are_a_clear_error(trained_workspace, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    spec = _spec(trained_workspace, tmp_path, num_gpus=2, gpu_ids=[0, 1])
    assert cli(["train", "-e", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "train.num_gpus" in err and "Traceback" not in err


def test_a_run_ending_between_step_checkpoints_keeps_its_last_steps(trained_workspace, tmp_path):
    from tao_ocrnet.model.checkpoint import load_model_file

    # 4 steps per epoch, 2 epochs: periodic checkpoints at steps 3 and 6, and the end (step 8) saved too.
    spec = _spec(trained_workspace, tmp_path, num_epochs=2, checkpoint_interval=3, checkpoint_interval_unit="step")
    assert cli(["train", "-e", str(spec)]) == 0
    out = tmp_path / "train"
    names = sorted(p.name for p in out.glob("model_epoch_*.pth"))
    assert names == [
        "model_epoch_000_step_00003.pth", "model_epoch_001_step_00006.pth", "model_epoch_001_step_00008.pth",
    ]  # fmt: skip
    assert (out / "ocr_model_latest.pth").resolve().name == "model_epoch_001_step_00008.pth"
    state = torch.load(out / "ocr_model_latest.pth", weights_only=True)
    assert state["global_step"] == 8
    load_model_file(out / "ocr_model_latest.pth")  # a usable model file
    # Run again: nothing left to train, and no duplicate checkpoint appears.
    assert cli(["train", "-e", str(spec)]) == 0
    assert sorted(p.name for p in out.glob("model_epoch_*.pth")) == names
