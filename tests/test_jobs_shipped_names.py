# SPDX-License-Identifier: Apache-2.0
"""Shipped models by their short name and plain image folders, through the jobs CLI and MCP (issue 15, items 1, 4).

- `train.pretrained_model_path=ocrnet_cpu_small` (and every model key that takes a shipped model) stays a name
  in the job's spec, so the job finds the packaged file; a real file of that name in the submitter's folder
  (the workspace, over MCP) still wins;
- a submit (dry run included) refuses a model path that will not exist, naming the key and the path;
- inference reads a plain folder of images as well as a dataset root.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from mcp import Client
from PIL import Image, ImageDraw

from tao_ocrnet.actions.demo import CPU_MODEL
from tao_ocrnet.config.shipped import DEFAULT_MODEL, SHIPPED_MODEL_KEYS
from tao_ocrnet.datasources.rules import Rule
from tao_ocrnet.jobs.catalog import job_actions
from tao_ocrnet.jobs.spec_params import model_keys

from jobs_fixtures import jobs_env, log_tail, run, submit_wait, synth_root  # noqa: F401
from mcp_fixtures import TINY, McpEnv, call, call_error, in_process_server, wait_state
from tiny_config import TINY_TRAIN, cli_words

# The shipped model's architecture: a pretrained file loads only into the same widths.
SHIPPED_ARCH = {f"model.{key}": value for key, value in CPU_MODEL.items()}
WORDS = ("house", "open", "exit")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def word_folder(folder: Path) -> Path:
    """A plain folder of PNG word crops: no archive, no test/ folder, no gt file."""
    folder.mkdir(parents=True)
    for word in WORDS:
        image = Image.new("L", (100, 32), 255)
        ImageDraw.Draw(image).text((8, 10), word, fill=0)
        image.save(folder / f"{word}.png")
    return folder


def dry_spec(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code, out, err = run(capsys, "submit", *args, "--dry-run")
    assert code == 0, err
    return yaml.safe_load(out)


def predictions(results_dir: Path) -> list[dict[str, str]]:
    [table] = list(results_dir.rglob("inference.csv"))
    with table.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


# --- the rules ---------------------------------------------------------------------------------------


def test_shipped_names_are_model_keys_and_image_folders_are_inference_rules():
    every_model_key = {key for action in job_actions().values() for key in model_keys(action.params)}
    assert every_model_key >= SHIPPED_MODEL_KEYS
    rule = job_actions()["inference"].rules["inference.inference_dataset_dir"]
    assert rule.image_folder and Rule.from_dict(rule.to_dict()) == rule
    assert job_actions()["trt_inference"].rules["inference.inference_dataset_dir"].image_folder


# --- item 1: shipped names through the jobs CLI ----------------------------------------------------------


def test_short_names_stay_names_and_a_real_file_wins(jobs_env, synth_root, capsys, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    spec = dry_spec(capsys, "train", "--train-dataset", str(synth_root), f"train.pretrained_model_path={DEFAULT_MODEL}")
    assert spec["train"]["pretrained_model_path"] == DEFAULT_MODEL
    for action, key in (("evaluate", "evaluate.checkpoint"), ("export", "export.checkpoint"),
                        ("prune", "prune.checkpoint"), ("inference", "inference.checkpoint")):  # fmt: skip
        spec = dry_spec(capsys, action, "--eval-dataset", str(synth_root), f"{key}={DEFAULT_MODEL}")
        section, leaf = key.split(".")
        assert spec[section][leaf] == DEFAULT_MODEL, action
    (tmp_path / DEFAULT_MODEL).write_bytes(b"the user's own file")
    spec = dry_spec(capsys, "evaluate", "--eval-dataset", str(synth_root), f"evaluate.checkpoint={DEFAULT_MODEL}")
    assert spec["evaluate"]["checkpoint"] == str(tmp_path / DEFAULT_MODEL)


def test_a_dry_run_refuses_model_files_that_will_not_exist(jobs_env, synth_root, capsys, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    cases = [
        (["evaluate", "--eval-dataset", str(synth_root), "evaluate.checkpoint=models/best.pth"],
         f"`evaluate.checkpoint`: model file {tmp_path / 'models' / 'best.pth'} does not exist"),
        (["train", "--train-dataset", str(synth_root), "train.pretrained_model_path=/no/such.pth"],
         "`train.pretrained_model_path`: model file /no/such.pth does not exist"),
        (["gen_trt_engine", "gen_trt_engine.onnx_file=/no/model.onnx"],
         "`gen_trt_engine.onnx_file`: model file /no/model.onnx does not exist"),
        (["evaluate", "--eval-dataset", str(synth_root), f"evaluate.checkpoint={synth_root}"],
         f"`evaluate.checkpoint`: model file {synth_root} is a folder, not a file"),
        (["retrain", "--train-dataset", str(synth_root), f"model.pruned_graph_path={DEFAULT_MODEL}"],
         f"`model.pruned_graph_path` = {DEFAULT_MODEL}: a shipped model's short name works only in"),
    ]  # fmt: skip
    for args, expected in cases:
        code, out, err = run(capsys, "submit", *args, "--dry-run")
        assert code == 2 and out == "" and expected in err, err
        # The same refusal without --dry-run: nothing is recorded or launched.
        code, out, err = run(capsys, "submit", *args)
        assert code == 2 and expected in err, err
    assert jobs_env.entries() == ([], [])


@pytest.mark.slow
def test_a_train_job_fine_tunes_the_shipped_model_by_its_short_name(jobs_env, synth_root, capsys):  # noqa: F811
    view = submit_wait(
        capsys, "train", "--train-dataset", str(synth_root), f"train.pretrained_model_path={DEFAULT_MODEL}",
        *cli_words({**TINY_TRAIN, **SHIPPED_ARCH}), "train.num_epochs=1",
    )  # fmt: skip
    assert "shipped model" in log_tail(view["id"], 400)


# --- item 1 over MCP: an evaluate job on the shipped model; dry runs refuse missing files ---------------


@pytest.mark.anyio
@pytest.mark.slow
async def test_an_mcp_evaluate_job_reads_with_the_shipped_model(mcp_env: McpEnv):
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        data = str(mcp_env.data)
        args = {
            "eval_dataset": data,
            "spec_overrides": {"evaluate.checkpoint": DEFAULT_MODEL, "evaluate.batch_size": 8},
        }
        dry = await call(client, "ocrnet_evaluate", {**args, "dry_run": True})
        assert f"checkpoint: {DEFAULT_MODEL}" in dry["spec_yaml"]
        job = await call(client, "ocrnet_evaluate", args)
        view = await wait_state(client, job["job_id"], ("COMPLETE", "ERROR"))
        assert view["state"] == "COMPLETE", view
        assert "test_acc" in json.dumps(view["kpis"])


@pytest.mark.anyio
async def test_mcp_dry_runs_refuse_missing_model_files_and_keep_workspace_files_first(mcp_env: McpEnv):
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        data = str(mcp_env.data)
        text = await call_error(client, "ocrnet_evaluate", {
            "eval_dataset": data, "dry_run": True, "spec_overrides": {"evaluate.checkpoint": "models/none.pth"},
        })  # fmt: skip
        assert f"`evaluate.checkpoint`: model file {mcp_env.workspace}/models/none.pth does not exist" in text
        text = await call_error(client, "ocrnet_train", {
            "train_datasets": [data], "dry_run": True, "automl_policy": "off",
            "spec_overrides": {**TINY, "train.pretrained_model_path": "gone.pth"},
        })  # fmt: skip
        assert "`train.pretrained_model_path`" in text and "gone.pth does not exist" in text
        # AutoML (the default route) checks its baseline the same way, and takes the short name.
        train = {"train_datasets": [data], "dry_run": True, "num_gpus": 0}
        text = await call_error(
            client, "ocrnet_train", {**train, "spec_overrides": {"train.pretrained_model_path": "gone.pth"}}
        )
        assert "`train.pretrained_model_path`" in text and "gone.pth does not exist" in text
        routed = await call(client, "ocrnet_train", {
            **train, "spec_overrides": {**TINY, **SHIPPED_ARCH, "train.pretrained_model_path": DEFAULT_MODEL},
        })  # fmt: skip
        assert routed["automl"]["applied"] == "automl" and routed["study"]
        # A file of the shipped name in the workspace is the user's: it wins over the packaged model.
        (mcp_env.workspace / DEFAULT_MODEL).write_bytes(b"mine")
        dry = await call(client, "ocrnet_inference", {
            "inference_dataset": data, "dry_run": True, "spec_overrides": {"inference.checkpoint": DEFAULT_MODEL},
        })  # fmt: skip
        assert f"checkpoint: {mcp_env.workspace}/{DEFAULT_MODEL}" in dry["spec_yaml"]
    assert mcp_env.job_entries() == ([], [])


# --- item 4: inference over a plain folder of images -----------------------------------------------------


def test_a_folder_without_images_names_every_accepted_layout(jobs_env, tmp_path, capsys):  # noqa: F811
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "submit", "inference", "--inference-dataset", str(tmp_path / "empty"), "--dry-run")
    assert code == 2 and "has no test.tar.gz (nor a test/ folder, nor images at its top)" in err, err


@pytest.mark.slow
def test_a_jobs_inference_reads_a_plain_image_folder(jobs_env, tmp_path, capsys):  # noqa: F811
    folder = word_folder(tmp_path / "crops")
    spec = dry_spec(capsys, "inference", "--inference-dataset", str(folder))
    assert spec["inference"]["inference_dataset_dir"] == str(folder)
    view = submit_wait(capsys, "inference", "--inference-dataset", str(folder), "inference.batch_size=4")
    rows = predictions(Path(view["results_dir"]))
    assert sorted(Path(row["path"]).name for row in rows) == sorted(f"{w}.png" for w in WORDS)


@pytest.mark.anyio
@pytest.mark.slow
async def test_an_mcp_inference_reads_a_plain_image_folder(mcp_env: McpEnv):
    folder = word_folder(mcp_env.workspace / "crops")
    async with Client(in_process_server(mcp_env), mode="legacy") as client:
        job = await call(client, "ocrnet_inference", {"inference_dataset": str(folder)})
        view = await wait_state(client, job["job_id"], ("COMPLETE", "ERROR"))
        assert view["state"] == "COMPLETE", view
        rows = predictions(Path(view["results_dir"]))
        assert sorted(Path(row["path"]).name for row in rows) == sorted(f"{w}.png" for w in WORDS)
        # A dataset root still works: its test split is read (from test.tar.gz, extracted at submit).
        dry = await call(client, "ocrnet_inference", {"inference_dataset": str(mcp_env.data), "dry_run": True})
        spec = yaml.safe_load(dry["spec_yaml"])
        assert Path(spec["inference"]["inference_dataset_dir"]).parts[-2:] == ("inference_dataset", "test")
