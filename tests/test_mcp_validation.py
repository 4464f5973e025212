# SPDX-License-Identifier: Apache-2.0
"""Server-side checks without a server: workspace confinement, argument and spec_overrides validation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tao_ocrnet.errors import UserError
from tao_ocrnet.mcp import constants as C
from tao_ocrnet.mcp.context import load_tools_file
from tao_ocrnet.mcp.errors import mcp_result, mcp_text
from tao_ocrnet.mcp.handlers import tail_text
from tao_ocrnet.mcp.validation import ArgumentValidator, SpecSchema, spec_names
from tao_ocrnet.mcp.workspace import Workspace, WorkspaceError
from tao_ocrnet.skill_root import find_project_root

ROOT = find_project_root()


@pytest.fixture(scope="module")
def doc() -> dict:
    return load_tools_file(ROOT)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "ws" / "data").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("x")
    (tmp_path / "results").mkdir()
    os.symlink(tmp_path / "outside", tmp_path / "ws" / "escape")
    os.symlink(tmp_path / "ws" / "data", tmp_path / "ws" / "inside")
    return Workspace.create([tmp_path / "ws"], managed=[tmp_path / "results"])


# --- workspace -------------------------------------------------------------------------------------


def test_paths_inside_are_resolved(ws, tmp_path):
    root = tmp_path / "ws"
    assert ws.confine("data", "x") == str(root / "data")  # relative: from the first root
    assert ws.confine(str(root / "data" / "new.onnx"), "x") == str(root / "data" / "new.onnx")  # may not exist yet
    assert ws.confine(str(root / "inside"), "x") == str(root / "data")  # a link that stays inside
    assert ws.confine(str(tmp_path / "results" / "job"), "x") == str(tmp_path / "results" / "job")
    assert ws.confine_uri(f"file://{root}/data", "eval_dataset") == str(root / "data")
    assert ws.confine_uri("s3://bucket/ocr", "eval_dataset") == "s3://bucket/ocr"
    assert ws.confine_uri("job:ocrnet-dataset_convert-1a2b3c", "eval_dataset") == "job:ocrnet-dataset_convert-1a2b3c"


@pytest.mark.parametrize(
    "value, words",
    [
        ("/etc/passwd", "outside the workspace"),
        ("../outside/secret.txt", "outside the workspace"),
        ("data/../../outside", "outside the workspace"),
        ("escape/secret.txt", "through a symbolic link"),
        ("file:///etc", "outside the workspace"),
        ("file://otherhost/data", "local path"),
        ("http://example.com/data", "unsupported URI scheme"),
        ("job:../../etc", "does not name a job id"),
        ("s3://", "names no bucket"),
        ("data/\x00x", "NUL"),
    ],
)
def test_paths_outside_are_refused_with_the_fix(ws, value, words):
    with pytest.raises(WorkspaceError) as err:
        ws.confine_uri(value, "eval_dataset")
    text = str(err.value)
    assert words in text and "`eval_dataset`" in text


def test_workspace_roots_must_exist_and_not_be_the_filesystem_root(tmp_path):
    with pytest.raises(UserError, match="not an existing folder"):
        Workspace.create([tmp_path / "missing"])
    with pytest.raises(UserError, match="filesystem root"):
        Workspace.create(["/"])


# --- tool arguments ----------------------------------------------------------------------------------


def problems(doc: dict, tool: str, args: dict) -> list[str]:
    binding = doc["bindings"][tool]
    names = {}
    if "schema" in binding:
        spec = SpecSchema.load(ROOT / C.JSON_SCHEMA_DIR / f"{binding['schema']}.json")
        names = {tool: spec_names(spec.leaves, binding["aliases"])}
    return ArgumentValidator(doc["tools"], names).problems(tool, args)


def test_argument_problems_name_the_argument_and_the_fix(doc):
    got = problems(
        doc,
        "ocrnet_train",
        {"num_epochs": "3", "num_gpus": -1, "automl_policy": "maybe", "learning_rate": 0.1, "num_epoch": 2,
         "parent_job_id": "train-1"},
    )  # fmt: skip
    text = "\n".join(got)
    assert "`num_epochs` must be an integer" in text
    assert "`num_gpus` = -1 is out of range; use a value in [0, 1024]" in text
    assert '`automl_policy` = "maybe" is not allowed; choose one of "on", "off", "auto"' in text
    assert 'put it in spec_overrides: {"train.optim.lr": 0.1}' in text  # a shorthand name given as an argument
    assert "`num_epoch` is not an argument of this tool; did you mean `num_epochs`?" in text
    assert "`parent_job_id`" in text and "job ids look like" in text
    assert problems(doc, "ocrnet_job_logs", {}) == [
        "`job_id` is required: a job id such as ocrnet-train-1a2b3c (see ocrnet_job_list)"
    ]


def test_oversized_arguments_are_refused_before_anything_else(doc):
    validator = ArgumentValidator(doc["tools"])
    with pytest.raises(UserError, match="the limit is 65536 bytes"):
        validator.problems("ocrnet_train", {"request": "x" * (C.MAX_ARGUMENTS_BYTES + 1)})


# --- spec_overrides ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def train_spec() -> SpecSchema:
    return SpecSchema.load(ROOT / C.JSON_SCHEMA_DIR / "train.json")


def test_spec_overrides_are_checked_against_the_full_schema(doc, train_spec):
    aliases = doc["bindings"]["ocrnet_train"]["aliases"]
    flat, found = train_spec.check(
        {
            "train.optim.lrr": 1.0,  # typo
            "model.backbone": "resnet",  # any case: canonicalised
            "model.hidden_size": 2,  # below the minimum
            "learning_rate": 0.5,  # shorthand
            "dataset": {"batch_size": 8},  # a whole section
            "prune.pruned_file": "x.pth",  # another action's key
            "encryption_key": "k",  # a secret
            "train.num_epochs": 3,  # also given as an argument, differently
            "model": 3,  # a section given a scalar
        },
        aliases,
        {"train.num_epochs": ("num_epochs", 5)},
    )
    text = "\n".join(found)
    assert "`spec_overrides.train.optim.lrr` is not a field of the train spec; did you mean `train.optim.lr`?" in text
    assert "`spec_overrides.model.hidden_size` = 2 is out of range; use a value in [4, 4096]" in text
    assert "`spec_overrides.prune.pruned_file` is not a field of the train spec" in text
    assert "secret" in text and "key_env" in text
    assert "`num_epochs` and `spec_overrides.train.num_epochs` both set" in text
    assert "`spec_overrides.model` is a section" in text
    assert flat["model.backbone"] == "ResNet" and flat["train.optim.lr"] == 0.5 and flat["dataset.batch_size"] == 8
    assert "encryption_key" not in flat


def test_valid_overrides_pass(doc, train_spec):
    flat, found = train_spec.check({"train.optim.name": "ADAM", "dataset.train_dataset_dir": ["/a"]}, {}, {})
    assert found == [] and flat == {"train.optim.name": "adam", "dataset.train_dataset_dir": ["/a"]}


# --- wording and values ------------------------------------------------------------------------------


# Messages of the jobs layer, the AutoML runner and the actions as they are worded for the CLI -> for a tool caller.
REWORDED = [
    ("pass --train-dataset URI or --parent-job ID", "pass `train_datasets` or `parent_job_id`"),
    ("wait for it (ocrnet jobs status ocrnet-train-1a2b3c)",
     "wait for it (ocrnet_job_status(job_id='ocrnet-train-1a2b3c'))"),
    ("no job `x` in /h (see `ocrnet jobs list`)", "no job `x` in /h (see ocrnet_job_list)"),
    ("boom; see the log (ocrnet jobs logs)", "boom; see the log (ocrnet_job_logs)"),
    ("the job received SIGTERM from outside `ocrnet jobs cancel`",
     "the job received SIGTERM from outside ocrnet_job_cancel"),
    ("--checkpoint-epoch/--checkpoint-step (periodic checkpoints there: 1, 2)",
     "`checkpoint_epoch`/`checkpoint_step` (periodic checkpoints there: 1, 2)"),
    ("--key-env K: that environment variable is not set", "`key_env` K: that environment variable is not set"),
    ("no study `s` in /a; give --storage URL for a study in a shared database",
     "no study `s` in /a; a study in a shared database needs the server's OCRNET_AUTOML_STORAGE environment variable"),
    ("study `s`: pass --storage URL (or set OCRNET_AUTOML_STORAGE); its password is not stored",
     "study `s`: set the server's OCRNET_AUTOML_STORAGE environment variable; its password is not stored"),
    ("no worker is running; continue with `ocrnet automl resume s`",
     "no worker is running; continue with the AutoML resume command on the server's host (no tool resumes a study)"),
    ("resume it with `ocrnet automl resume s --storage URL` or choose another study name",
     "resume it with the AutoML resume command on the server's host (no tool resumes a study) or choose another "
     "study name"),
    ("add workers with `ocrnet automl worker --study s` instead",
     "add workers with the AutoML worker command on the server's host (no tool adds workers) instead"),
    ("unknown until trial 0 finishes; `ocrnet automl status` then shows it",
     "unknown until trial 0 finishes; ocrnet_automl_status then shows it"),
    ("no study `s` in this storage (see `ocrnet automl list`)",
     "no study `s` in this storage (see the `study` of the ocrnet_train result)"),
    ("PyTorch checkpoints run with `ocrnet evaluate` / `ocrnet inference`, or export them with `ocrnet export`",
     "PyTorch checkpoints run with ocrnet_evaluate / ocrnet_inference, or export them with ocrnet_export"),
    ("`k` is a TensorRT engine; run it with `ocrnet deploy evaluate` (evaluate.trt_engine)",
     "`k` is a TensorRT engine; run it with ocrnet_trt_evaluate (evaluate.trt_engine)"),
    ("or run the .onnx file (ocrnet deploy evaluate/inference with evaluate.trt_engine = the .onnx)",
     "or run the .onnx file (ocrnet_trt_evaluate / ocrnet_trt_inference with evaluate.trt_engine = the .onnx)"),
    ("load it with allow_pickle=True (CLI flag --allow-pickle); never",
     "load it with allow_pickle=True (a command-line option of the actions; no tool sets it); never"),
    ("check it with --dry-run, or block with --wait", "check it with `dry_run`, or block with `wait_seconds`"),
]  # fmt: skip


@pytest.mark.parametrize(("cli", "tool"), REWORDED)
def test_cli_messages_are_reworded_for_tool_callers(cli, tool):
    assert mcp_text(cli) == tool


def test_override_hints_and_whole_results_are_reworded():
    assert "spec_overrides" in mcp_text("set it in the spec or as an override `evaluate.checkpoint=...`")
    result = {"message": "x; see the log (ocrnet jobs logs)", "notes": ["drop --parent-job"], "kpis": {"n": 1},
              "text": "a log line naming --parent-job", "spec_yaml": "# ocrnet train"}  # fmt: skip
    assert mcp_result(result) == {
        "message": "x; see the log (ocrnet_job_logs)", "notes": ["drop `parent_job_id`"], "kpis": {"n": 1},
        "text": "a log line naming --parent-job", "spec_yaml": "# ocrnet train",  # content stays as written
    }  # fmt: skip


def test_log_tails_are_cut_on_lines_and_bytes():
    text = "".join(f"line {i}\n" for i in range(100))
    out, cut = tail_text(text, 3, 10_000)
    assert out == "line 97\nline 98\nline 99\n" and not cut
    out, cut = tail_text(text, 100, 20)
    assert cut and out.endswith("line 99\n") and len(out.encode()) <= 20 and out.startswith("line")
