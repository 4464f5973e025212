# SPDX-License-Identifier: Apache-2.0
"""TensorRT paths that need no GPU: profile, workspace, layer precisions, calibration, cache, spec checks, and
the clear failure without tensorrt / a GPU."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from tao_ocrnet.cli import main as cli
from tao_ocrnet.config.spec import ExperimentSpec
from tao_ocrnet.data.images import load_image, preprocess
from tao_ocrnet.deploy.calibration import iter_batches, plan_calibration
from tao_ocrnet.deploy.trt_engine import engine_profile, parse_layers_precision, plan_engine, workspace_bytes
from tao_ocrnet.errors import DataError, SpecError

from deploy_fixtures import deploy_spec

pytestmark = pytest.mark.usefixtures("one_thread")

try:
    import tensorrt  # noqa: F401

    HAVE_TRT = True
except ImportError:
    HAVE_TRT = False


def _cfg(batch_size=-1, lo=1, opt=2, hi=4):
    return SimpleNamespace(
        batch_size=batch_size,
        tensorrt=SimpleNamespace(min_batch_size=lo, opt_batch_size=opt, max_batch_size=hi),
    )


def test_profile_from_spec_and_onnx():
    assert (engine_profile(_cfg(), None).min, engine_profile(_cfg(), None).max) == (1, 4)
    fixed = engine_profile(_cfg(batch_size=8), None)
    assert (fixed.min, fixed.opt, fixed.max) == (8, 8, 8)
    assert engine_profile(_cfg(batch_size=2), onnx_batch=2).shapes((1, 32, 100))[0] == (2, 1, 32, 100)
    with pytest.raises(SpecError, match="fixed batch of 1"):
        engine_profile(_cfg(), onnx_batch=1)  # never silently overridden
    with pytest.raises(SpecError, match="min_batch_size"):
        engine_profile(_cfg(lo=4, opt=2, hi=8), None)


def test_workspace_is_mib_and_layer_precisions_parse():
    assert workspace_bytes(1024) == 1024 * 2**20  # 1 GiB, not 1 TiB
    assert parse_layers_precision(["/Prediction/MatMul:FP16", "a:b:int8"]) == [
        ("/Prediction/MatMul", "fp16"),
        ("a:b", "int8"),
    ]
    with pytest.raises(SpecError, match="layers_precision"):
        parse_layers_precision(["no_precision", "x:fp64"])


def test_calibration_batches_recursive_and_preprocessed_like_training(trained_workspace, tmp_path):
    images = trained_workspace.data / "train"
    keys = {"dir_key": "cal", "size_keys": ("cal_batch_size", "cal_batches")}
    plan = plan_calibration([images, trained_workspace.data / "test"], 4, 3, **keys)
    assert plan.needed == 12 and len(plan.candidates) == 64 + 24
    again = plan_calibration([images, trained_workspace.data / "test"], 4, 3, **keys)
    assert plan.candidates == again.candidates  # fixed shuffle: reruns calibrate on the same images

    def transform(img):
        return preprocess(img, 1, 32, 100)

    batches = list(iter_batches(plan, transform, 1))
    assert len(batches) == 3 and all(b.shape == (4, 1, 32, 100) and b.dtype == np.float32 for b in batches)
    first = preprocess(load_image(plan.candidates[0], 1), 1, 32, 100).numpy()
    assert np.array_equal(batches[0][0], first)
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "x.png").write_bytes((images / "word_0000001.jpg").read_bytes())  # recursive
    (tmp_path / "broken.jpg").write_bytes(b"not an image")  # replaced by a spare
    small = plan_calibration([tmp_path], 1, 1, **keys)
    assert len(list(iter_batches(small, transform, 1))) == 1
    with pytest.raises(DataError, match=r"cal_batch_size. x .cal_batches. = 2 x 3 = 6"):
        plan_calibration([tmp_path], 2, 3, **keys)


def _trt_spec(ws, exported, tmp_path, **trt) -> dict:
    tree = deploy_spec(ws, exported.onnx, tmp_path)
    tree["gen_trt_engine"] = {"onnx_file": str(exported.onnx), "results_dir": str(tmp_path / "gen"), "tensorrt": trt}
    return tree


def test_int8_cache_is_reused_without_images(exported_ctc, trained_workspace, tmp_path):
    from tao_ocrnet.runtime.sidecar import read_sidecar

    cache = tmp_path / "cal.bin"
    cache.write_bytes(b"TRT-calibration-cache")
    cal = {"cal_image_dir": [str(tmp_path / "missing")], "cal_cache_file": str(cache), "cal_batches": 50}
    tree = _trt_spec(trained_workspace, exported_ctc, tmp_path, data_type="INT8", calibration=cal)
    spec = ExperimentSpec.model_validate(tree)
    plan = plan_engine(spec, tmp_path, read_sidecar(exported_ctc.onnx, "k"), exported_ctc.onnx)
    assert plan.calibration is None and plan.cache_file == cache
    assert plan.engine_file == tmp_path / "ctc.engine" and plan.workspace_bytes == 1024 << 20
    cache.unlink()
    with pytest.raises(DataError, match="cal_image_dir"):
        plan_engine(spec, tmp_path, read_sidecar(exported_ctc.onnx, "k"), exported_ctc.onnx)


@pytest.mark.skipif(HAVE_TRT, reason="checks the message shown where tensorrt is missing")
def test_gen_trt_engine_checks_the_spec_then_fails_fast_without_tensorrt(
    exported_ctc, trained_workspace, tmp_path, capsys
):
    ws = trained_workspace
    spec = tmp_path / "trt.yaml"
    spec.write_text(yaml.safe_dump(_trt_spec(ws, exported_ctc, tmp_path, data_type="FP16")))
    assert cli(["gen_trt_engine", "-e", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "tensorrt" in err and "GPU" in err and "Traceback" not in err
    assert not list((tmp_path / "gen").glob("*.engine"))
    # Bad inputs are reported before the missing package: character list, calibration images.
    chars = tmp_path / "chars.txt"
    chars.write_text("abc\n")
    assert cli(["gen_trt_engine", "-e", str(spec), f"dataset.character_list_file={chars}"]) == 2
    assert "dataset.character_list_file" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["gen_trt_engine.tensorrt.data_type=INT8", f"gen_trt_engine.tensorrt.calibration.cal_image_dir=[{empty}]"]
    assert cli(["gen_trt_engine", "-e", str(spec), *args]) == 2
    assert "cal_image_dir" in capsys.readouterr().err


@pytest.mark.skipif(HAVE_TRT, reason="checks the message shown where tensorrt is missing")
def test_deploy_engine_without_tensorrt_and_profile_check(exported_ctc, trained_workspace, tmp_path, capsys):
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"serialized engine")
    side = json.loads(exported_ctc.onnx.with_name("ctc.onnx.json").read_text())
    side["tensorrt"] = {"min_batch_size": 1, "opt_batch_size": 2, "max_batch_size": 4, "data_type": "FP16"}
    engine.with_name("model.engine.json").write_text(json.dumps(side))
    spec = tmp_path / "deploy.yaml"
    spec.write_text(yaml.safe_dump(deploy_spec(trained_workspace, engine, tmp_path / "out", batch_size=4)))
    assert cli(["deploy", "evaluate", "-e", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "tensorrt" in err and ".onnx" in err  # says what is missing and the CPU alternative
    assert cli(["deploy", "evaluate", "-e", str(spec), "evaluate.batch_size=8"]) == 2
    err = capsys.readouterr().err
    assert "evaluate.batch_size" in err and "max_batch_size" in err
    assert not (tmp_path / "out" / "evaluate" / "results.json").exists()
