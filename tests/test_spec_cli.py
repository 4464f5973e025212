# SPDX-License-Identifier: Apache-2.0
"""`ocrnet spec show` and `ocrnet spec render`."""

from __future__ import annotations

import yaml

from tao_ocrnet.cli import main
from tao_ocrnet.config.actions import SCHEMA_ACTIONS
from tao_ocrnet.config.templates import template_dict, template_yaml


def test_show_prints_each_template(capsys):
    for action in (*SCHEMA_ACTIONS, "deploy_experiment", "trt_evaluate"):
        assert main(["spec", "show", action]) == 0
        out = capsys.readouterr().out
        assert out == template_yaml(action)
        assert yaml.safe_load(out) == template_dict(action)
        assert "do not edit" not in out  # a starting point to copy, unlike the generated file


def test_show_unknown_action(capsys):
    assert main(["spec", "show", "evalute"]) == 2
    err = capsys.readouterr().err
    assert "no spec template for `evalute`" in err and "Did you mean `evaluate`?" in err


def test_render_applies_file_overrides_and_shorthand(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text("train:\n  num_epochs: 3\n", encoding="utf-8")
    argv = ["spec", "render", "train", "-e", str(spec), "learning_rate=0.1", "gen_trt_engine.tensorrt.data_type=fp16"]
    assert main(argv) == 0
    rendered = yaml.safe_load(capsys.readouterr().out)
    assert rendered["train"]["num_epochs"] == 3
    assert rendered["train"]["optim"]["lr"] == 0.1
    assert rendered["gen_trt_engine"]["tensorrt"]["data_type"] == "FP16"
    assert rendered["model"]["num_fiducial"] == 20


def test_render_reports_bad_values(capsys):
    assert main(["spec", "render", "train", "model.num_fiducial=3"]) == 2
    assert "`model.num_fiducial` = 3" in capsys.readouterr().err
