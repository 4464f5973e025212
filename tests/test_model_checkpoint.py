# SPDX-License-Identifier: Apache-2.0
"""Model files: weights-only round trips, Lightning checkpoints, pickles, bad files, partial loads."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import torch
from torch import nn

from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.errors import ModelFileError
from tao_ocrnet.model.checkpoint import (
    FORMAT,
    checkpoint_metadata,
    load_model_file,
    load_pretrained_partial,
    load_state_dict_file,
    resolve_model_path,
    save_model_file,
)
from tao_ocrnet.model.ema import ModelEMA
from tao_ocrnet.model.ocrnet import build_model

CHARS = tuple("0123456789abc")


def tiny_arch(**overrides: object) -> ModelArch:
    base: dict[str, object] = dict(feature_channel=32, hidden_size=16, max_label_length=6, charset=CHARS)
    base.update(overrides)
    return ModelArch(**base)  # type: ignore[arg-type]


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sb = b.state_dict()
    return all(torch.equal(v, sb[k]) for k, v in a.state_dict().items())


def test_round_trip_weights_only(tmp_path: Path) -> None:
    arch = tiny_arch(tps=True, prediction="Attn")
    model = build_model(arch)
    path = save_model_file(tmp_path / "sub" / "best_accuracy.pth", model, arch, epoch=3)
    raw = torch.load(path, weights_only=True)  # must not need pickling
    assert raw["format"] == FORMAT and raw["epoch"] == 3 and raw["arch"]["charset"] == list(CHARS)
    loaded, loaded_arch, _ = load_model_file(path, expected_charset=CHARS)
    assert loaded_arch == arch and not loaded.training
    assert _same_weights(model, loaded)
    assert [p.name for p in path.parent.iterdir()] == ["best_accuracy.pth"]  # no temp files left


def test_lightning_checkpoint_with_ema(tmp_path: Path) -> None:
    arch = tiny_arch()
    model = build_model(arch)
    ema = ModelEMA(model)
    with torch.no_grad():
        for p in ema.module.parameters():
            p.add_(1.0)
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    state |= {f"model_ema.{k}": v for k, v in ema.state_dict().items()}
    ckpt = {"epoch": 1, "global_step": 10, "state_dict": state, "optimizer_states": [], **checkpoint_metadata(arch)}
    path = tmp_path / "model_epoch_001_step_00010.pth"
    torch.save(ckpt, path)
    loaded, _, raw = load_model_file(path)
    assert _same_weights(model, loaded) and raw["global_step"] == 10
    loaded_ema, _, _ = load_model_file(path, use_ema=True)
    assert _same_weights(ema.module, loaded_ema)
    # A LightningModule attribute named `ema` instead of the reference's `model_ema` also works.
    renamed = {k.replace("model_ema.", "ema.", 1): v for k, v in state.items()}
    torch.save({**ckpt, "state_dict": renamed}, path)
    assert _same_weights(model, load_model_file(path)[0])
    assert _same_weights(ema.module, load_model_file(path, use_ema=True)[0])
    plain = tmp_path / "no_ema.pth"
    torch.save({**ckpt, "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()}}, plain)
    with pytest.raises(ModelFileError, match="no EMA weights"):
        load_model_file(plain, use_ema=True)


def test_plain_state_dict_with_module_prefix_needs_arch(tmp_path: Path) -> None:
    arch = tiny_arch(tps=True)
    model = build_model(arch)
    path = tmp_path / "clova.pth"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    with pytest.raises(ModelFileError, match="does not record its architecture"):
        load_model_file(path)
    # The weights prove TPS is on even if the caller's spec says otherwise.
    loaded, loaded_arch, _ = load_model_file(path, arch=tiny_arch(tps=False))
    assert loaded_arch.tps and _same_weights(model, loaded)


def test_pruned_model_round_trip(tmp_path: Path) -> None:
    arch = tiny_arch()
    sd = {k: v.clone() for k, v in build_model(arch).state_dict().items()}
    cv = "FeatureExtraction.ConvNet."
    for key in ("conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"):
        sd[cv + key] = sd[cv + key][:5].clone()
    sd[cv + "layer2.0.conv1.weight"] = sd[cv + "layer2.0.conv1.weight"][:, :5].clone()
    sd[cv + "layer2.0.downsample.0.weight"] = sd[cv + "layer2.0.downsample.0.weight"][:, :5].clone()
    pruned = build_model(arch, sd)
    path = save_model_file(tmp_path / "pruned.pth", pruned, arch)
    loaded, _, _ = load_model_file(path)
    assert loaded.FeatureExtraction.ConvNet.conv1.out_channels == 5
    assert _same_weights(pruned, loaded)
    with torch.no_grad():
        assert loaded(torch.randn(1, 1, 32, 100)).shape == (1, 26, arch.num_class)


def test_pickled_model_refused_then_accepted(tmp_path: Path) -> None:
    arch = tiny_arch(prediction="Attn")
    model = build_model(arch)
    path = tmp_path / "whole.pth"
    torch.save(model, path)
    with pytest.raises(ModelFileError, match="--allow-pickle") as info:
        load_model_file(path)
    assert "pickled" in str(info.value) and "trust" in str(info.value)
    loaded, loaded_arch, raw = load_model_file(path, allow_pickle=True)
    assert loaded_arch == arch and "whole_model" in raw and _same_weights(model, loaded)


def test_reference_style_pickle_through_the_shim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole model whose class cannot be imported at load time (like the reference's Model)."""
    arch = tiny_arch(tps=True)
    ours = build_model(arch)
    fake = types.ModuleType("fake_reference_model")

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            for stage in ("Transformation", "FeatureExtraction", "SequenceModeling", "Prediction"):
                setattr(self, stage, getattr(ours, stage))

    Model.__module__ = "fake_reference_model"
    Model.__qualname__ = "Model"
    fake.Model = Model  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_reference_model", fake)
    path = tmp_path / "best_accuracy.pth"
    torch.save({"whole_model": Model(), "epoch": 2}, path)
    monkeypatch.delitem(sys.modules, "fake_reference_model")

    with pytest.raises(ModelFileError, match="allow_pickle=True"):
        load_model_file(path, arch=arch)
    with pytest.raises(ModelFileError, match="does not record its architecture"):
        load_model_file(path, allow_pickle=True)
    loaded, _, raw = load_model_file(path, allow_pickle=True, arch=arch)
    assert raw["epoch"] == 2 and _same_weights(ours, loaded)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("random.pth", bytes(range(256)) * 8),
        ("spec.yaml", b"model:\n  TPS: true\n"),
        ("empty.pth", b""),
    ],
)
def test_not_a_model(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    for allow in (False, True):
        with pytest.raises(ModelFileError, match="not a model file") as info:
            load_model_file(path, allow_pickle=allow, arch=tiny_arch())
        assert str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist") as info:
        load_model_file(tmp_path / "nope.pth")
    assert "nope.pth" in str(info.value)
    with pytest.raises(ModelFileError, match=r"^evaluate\.checkpoint: model file .*nope\.pth does not exist"):
        load_model_file(tmp_path / "nope.pth", key="evaluate.checkpoint")
    with pytest.raises(ModelFileError, match=r"^train\.pretrained_model_path: model file"):
        resolve_model_path(tmp_path / "nope.pth", key="train.pretrained_model_path")
    with pytest.raises(ModelFileError, match="is empty"):
        resolve_model_path("", key="evaluate.checkpoint")
    with pytest.raises(ModelFileError, match="not a file"):
        load_model_file(tmp_path)


def test_dict_without_weights(tmp_path: Path) -> None:
    path = tmp_path / "meta.pth"
    torch.save({"epoch": 1}, path)
    with pytest.raises(ModelFileError, match="without model weights"):
        load_model_file(path, arch=tiny_arch())


def test_charset_mismatch(tmp_path: Path) -> None:
    arch = tiny_arch()
    path = save_model_file(tmp_path / "m.pth", build_model(arch), arch)
    with pytest.raises(ModelFileError, match=r"dataset\.character_list_file"):
        load_model_file(path, expected_charset=tuple("0123456789abd"))
    with pytest.raises(ModelFileError, match=r"dataset\.character_list_file"):
        load_model_file(path, expected_charset=tuple("0123456789"))
    # A file without a stored charset: the head width is checked against the caller's list.
    plain = tmp_path / "plain.pth"
    torch.save(build_model(arch).state_dict(), plain)
    with pytest.raises(ModelFileError, match="classes"):
        load_model_file(plain, arch=tiny_arch(charset=tuple("0123456789")))


def test_weights_that_do_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save(build_model(tiny_arch()).state_dict(), path)
    with pytest.raises(ModelFileError, match="do not fit"):
        load_model_file(path, arch=tiny_arch(sequence="None"))


def test_partial_pretrained_load(tmp_path: Path) -> None:
    source = build_model(tiny_arch(tps=True))
    path = tmp_path / "pretrained.pth"
    torch.save({f"module.{k}": v for k, v in source.state_dict().items()}, path)
    state_dict, stored_arch, _ = load_state_dict_file(path)
    assert stored_arch is None
    target = build_model(tiny_arch(charset=tuple("xyz"), prediction="CTC"))
    loaded, skipped = load_pretrained_partial(target, state_dict)
    assert "FeatureExtraction.ConvNet.conv0_1.weight" in loaded
    assert "Prediction.weight" in skipped and "Prediction.bias" in skipped  # new head size
    assert any(k.startswith("Transformation.") for k in skipped)  # target has no TPS
    # The same from a path (as train.pretrained_model_path uses it).
    again = build_model(tiny_arch(charset=tuple("xyz"), prediction="CTC"))
    assert load_pretrained_partial(again, resolve_model_path(path, key="k")) == (loaded, skipped)
    sd_t = target.state_dict()
    assert torch.equal(
        sd_t["SequenceModeling.0.rnn.weight_ih_l0"], source.state_dict()["SequenceModeling.0.rnn.weight_ih_l0"]
    )


def test_pretrained_ctc_head_rows_follow_the_characters(tmp_path: Path) -> None:
    """Fine-tuning on another character list (other order, a new character) keeps each known
    character's head row; copying by shape alone would give a same-size list the wrong rows."""
    source_arch = tiny_arch(charset=tuple("abc"), prediction="CTC")
    source = build_model(source_arch)
    path = save_model_file(tmp_path / "src.pth", source, source_arch)
    target_arch = tiny_arch(charset=tuple("cxa"), prediction="CTC")
    target = build_model(target_arch)
    fresh = {k: v.clone() for k, v in target.state_dict().items()}
    loaded, _ = load_pretrained_partial(target, path, arch=target_arch)
    assert "Prediction.weight" in loaded
    src_w, src_b = source.state_dict()["Prediction.weight"], source.state_dict()["Prediction.bias"]
    got_w, got_b = target.state_dict()["Prediction.weight"], target.state_dict()["Prediction.bias"]
    for dst, src in ((0, 0), (1, 3), (3, 1)):  # blank, c, a
        assert torch.equal(got_w[dst], src_w[src]) and torch.equal(got_b[dst], src_b[src])
    assert torch.equal(got_w[2], fresh["Prediction.weight"][2])  # "x" is new: keeps its initialisation


def test_pretrained_weights_of_another_input_width_load_and_the_log_names_the_setting(tmp_path, caplog) -> None:
    """Every tensor fits whatever the width, so only the log can say the run trains on other crops than the file."""
    source_arch = tiny_arch(input_width=160)
    path = save_model_file(tmp_path / "wide.pth", build_model(source_arch), source_arch)
    target_arch = tiny_arch()
    with caplog.at_level("WARNING"):
        loaded, skipped = load_pretrained_partial(build_model(target_arch), path, arch=target_arch)
    assert skipped == [] and len(loaded) == len(build_model(target_arch).state_dict())
    assert "trained on 32x160 crops (height x width) and this run trains on 32x100" in caplog.text
    assert "model.input_height=32 model.input_width=160" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        load_pretrained_partial(build_model(source_arch), path, arch=source_arch)
    assert "trained on" not in caplog.text


def test_saved_files_get_the_usual_permissions(tmp_path: Path) -> None:
    """Not mkstemp's 0600: a shared results folder (or an installed package) must stay readable."""
    import os

    old = os.umask(0o022)
    try:
        path = save_model_file(tmp_path / "m.pth", build_model(tiny_arch()), tiny_arch())
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
