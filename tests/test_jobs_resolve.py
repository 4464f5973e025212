# SPDX-License-Identifier: Apache-2.0
"""Spec resolution for jobs (template -> data sources -> spec_params -> overrides -> validation) and the
bad-input contract: a clear error before anything launches, and no record left behind. No job runs here."""

from __future__ import annotations

import io
import os
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from tao_ocrnet.config.loader import parse_overrides
from tao_ocrnet.datasources.resolver import DataRoots
from tao_ocrnet.errors import SpecError, UserError
from tao_ocrnet.jobs.catalog import job_actions
from tao_ocrnet.jobs.record import COMPLETE, RUNNING, new_record
from tao_ocrnet.jobs.request import JobRequest
from tao_ocrnet.jobs.service import JobService
from tao_ocrnet.jobs.spec_params import latest_readable_checkpoint
from tao_ocrnet.jobs.store import JobStore

from jobs_fixtures import FakePlatform, jobs_env, run, synth_root  # noqa: F401


def dry(action: str, roots: DataRoots | None = None, *overrides: str, **kw) -> dict:
    request = JobRequest(action, roots or DataRoots(), overrides=parse_overrides(overrides), **kw)
    return yaml.safe_load(JobService(platform=FakePlatform()).submit(request, dry_run=True).spec_yaml)


def fake_job(action: str, files: dict[str, bytes] | None = None, state: str = COMPLETE, **extra) -> dict:
    """A record of a finished job whose results folder holds `files` (no process involved)."""
    store = JobStore()
    job_id = store.reserve(action)
    results = Path(os.environ["OCRNET_RESULTS_ROOT"]) / job_id
    task = results / extra.pop("task", action)
    task.mkdir(parents=True)
    for name, data in (files or {}).items():
        (task / name).parent.mkdir(parents=True, exist_ok=True)
        (task / name).write_bytes(data)
    outputs = {"task_dir": str(task), **{k: str(task / v) for k, v in extra.pop("outputs", {}).items()}}
    record = new_record(job_id=job_id, action=action, command="", platform="local", results_dir=str(results),
                        job_dir=str(store.job_dir(job_id)), spec={}, outputs=outputs, **extra)  # fmt: skip
    store.create(record)
    store.mark(job_id, RUNNING, "x", "agent", backend_ref={"kind": "fake", "pid": None})
    if state != RUNNING:
        store.mark(job_id, state, "done", "backend-hook", exit_code=0)
    return store.read(job_id)


def zipped(payload: bytes = b"w") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
    return buf.getvalue()


# --- data sources ------------------------------------------------------------------------------------


def test_train_from_a_local_root(jobs_env, synth_root):  # noqa: F811
    spec = dry("train", DataRoots(train_datasets=(str(synth_root),)), "num_epochs=2")
    d = spec["dataset"]
    staged = jobs_env.home / "cache" / "staging"
    assert len(d["train_dataset_dir"]) == 1 and Path(d["train_dataset_dir"][0]).is_relative_to(staged)
    assert Path(d["train_dataset_dir"][0]).name == "train" and not staged.exists()  # inspected, not extracted
    assert d["train_gt_file"] == str(synth_root / "train" / "gt_new.txt")  # beside the archive
    # The eval root falls back to the train root.
    assert Path(d["val_dataset_dir"]).parts[-2:] == ("eval_dataset", "test")
    assert d["val_gt_file"] == str(synth_root / "test" / "gt_new.txt")
    assert d["character_list_file"] == str(synth_root / "character_list")
    assert spec["train"]["num_epochs"] == 2
    assert spec["results_dir"].startswith(str(jobs_env.results))
    assert jobs_env.entries() == ([], [])  # a dry run records nothing


def test_file_uri_unpacked_folders_and_gt_inside_the_archive(jobs_env, synth_root, tmp_path):  # noqa: F811
    unpacked = tmp_path / "unpacked"
    shutil.copytree(synth_root / "train", unpacked / "train")
    shutil.copy(synth_root / "character_list", unpacked)
    spec = dry("dataset_convert", DataRoots(train_datasets=(f"file://{unpacked}",)))
    assert spec["dataset_convert"]["input_img_dir"] == str(unpacked / "train")
    assert spec["dataset_convert"]["gt_file"] == str(unpacked / "train" / "gt_new.txt")
    assert spec["dataset_convert"]["results_dir"] == spec["results_dir"]
    archive_only = tmp_path / "archive_only"
    archive_only.mkdir()
    shutil.copy(synth_root / "test.tar.gz", archive_only)
    spec = dry("dataset_convert", DataRoots(eval_dataset=str(archive_only)))
    assert Path(spec["dataset_convert"]["gt_file"]) == Path(spec["dataset_convert"]["input_img_dir"]) / "gt_new.txt"


def test_lmdb_inside_an_archive_is_found_and_its_gt_left_empty(jobs_env, synth_root, tmp_path):  # noqa: F811
    root = tmp_path / "lmdb_root"
    root.mkdir()
    with tarfile.open(root / "train.tar.gz", "w:gz") as tf:
        for name in ("lmdb/data.mdb", "lmdb/lock.mdb"):
            info = tarfile.TarInfo(f"export/{name}")
            info.size = 1
            tf.addfile(info, io.BytesIO(b"x"))
    spec = dry("train", DataRoots(train_datasets=(str(root),), eval_dataset=str(synth_root)))
    folder = Path(spec["dataset"]["train_dataset_dir"][0])
    assert folder.name == "lmdb" and not folder.exists()  # found in the archive's listing (a dry run)
    assert spec["dataset"]["train_gt_file"] == ""
    assert spec["dataset"]["val_gt_file"] == str(synth_root / "test" / "gt_new.txt")


def test_job_roots_use_the_dataset_convert_lmdb(jobs_env, synth_root):  # noqa: F811
    lmdb = {"data.mdb": b"x", "lock.mdb": b"x"}
    roots = {"train_datasets": [str(synth_root)], "eval_dataset": None}
    train = fake_job("dataset_convert", lmdb, task="", request={"split": "train", "roots": roots})
    eval_roots = {"train_datasets": [], "eval_dataset": str(synth_root)}
    ev = fake_job("dataset_convert", lmdb, task="", request={"split": "eval", "roots": eval_roots})
    spec = dry("train", DataRoots(train_datasets=(f"job:{train['id']}",), eval_dataset=f"job:{ev['id']}"))
    d = spec["dataset"]
    assert d["train_dataset_dir"] == [train["results_dir"]] and d["val_dataset_dir"] == ev["results_dir"]
    assert d["train_gt_file"] == "" and d["val_gt_file"] == ""
    assert d["character_list_file"] == str(synth_root / "character_list")  # from the job's own root
    with pytest.raises(UserError, match="wants the LMDB of a dataset_convert job on the eval split"):
        dry("train", DataRoots(train_datasets=(f"job:{train['id']}",), eval_dataset=f"job:{train['id']}"))
    running = fake_job("dataset_convert", lmdb, task="", state=RUNNING, request={"split": "train", "roots": roots})
    with pytest.raises(UserError, match="RUNNING, not COMPLETE"):
        dry("train", DataRoots(train_datasets=(f"job:{running['id']}",)))
    other = fake_job("evaluate")
    with pytest.raises(UserError, match="must be a dataset_convert job"):
        dry("train", DataRoots(train_datasets=(f"job:{other['id']}",)))


# --- spec_params -------------------------------------------------------------------------------------


def trained(**kw) -> dict:
    files = {"best_accuracy.pth": zipped(), "model_epoch_000_step_00003.pth": zipped(),
             "model_epoch_001_step_00006.pth": zipped()}  # fmt: skip
    files.update(kw.pop("files", {}))
    return fake_job("train", files, **kw)


def test_parent_model_selection_is_deterministic(jobs_env, synth_root):  # noqa: F811
    parent = trained()
    task = Path(parent["outputs"]["task_dir"])
    # A newer-by-time file never wins: best_accuracy.pth is the default.
    os.utime(task / "best_accuracy.pth", (1, 1))
    roots = DataRoots(eval_dataset=str(synth_root))
    spec = dry("evaluate", roots, parent_job=parent["id"])
    assert spec["evaluate"]["checkpoint"] == str(task / "best_accuracy.pth")
    spec = dry("evaluate", roots, parent_job=parent["id"], checkpoint_epoch=0)
    assert spec["evaluate"]["checkpoint"] == str(task / "model_epoch_000_step_00003.pth")
    spec = dry("evaluate", roots, parent_job=parent["id"], checkpoint_step=6)
    assert spec["evaluate"]["checkpoint"] == str(task / "model_epoch_001_step_00006.pth")
    with pytest.raises(UserError, match=r"no checkpoint for epoch 7 .*available: model_epoch_000_step_00003\.pth"):
        dry("evaluate", roots, parent_job=parent["id"], checkpoint_epoch=7)
    steps = trained(files={"model_epoch_001_step_00004.pth": zipped()})
    with pytest.raises(UserError, match="several checkpoints for epoch 1"):
        dry("evaluate", roots, parent_job=steps["id"], checkpoint_epoch=1)
    no_best = fake_job("train", {"model_epoch_000_step_00003.pth": zipped()})
    with pytest.raises(UserError, match=rf"parent job `{no_best['id']}` \(train, COMPLETE\) has no best_accuracy\.pth"):
        dry("evaluate", roots, parent_job=no_best["id"])
    # export: output path minted in the job's folder, named after the checkpoint
    spec = dry("export", roots, parent_job=parent["id"])
    assert spec["export"]["checkpoint"] == str(task / "best_accuracy.pth")
    assert spec["export"]["onnx_file"] == str(Path(spec["results_dir"]) / "export" / "best_accuracy.onnx")
    spec = dry("prune", roots, parent_job=parent["id"])
    assert spec["prune"]["pruned_file"] == str(Path(spec["results_dir"]) / "prune" / "pruned_best_accuracy.pth")
    # fine-tuning: a train parent becomes the pretrained model
    spec = dry("train", DataRoots(train_datasets=(str(synth_root),)), parent_job=parent["id"])
    assert spec["train"]["pretrained_model_path"] == str(task / "best_accuracy.pth")


def test_parent_kinds_and_states(jobs_env, synth_root):  # noqa: F811
    roots = DataRoots(eval_dataset=str(synth_root))
    exported = fake_job("export", {"best_accuracy.onnx": b"onnx"}, outputs={"export.onnx_file": "best_accuracy.onnx"})
    pruned = fake_job("prune", {"pruned.pth": zipped()}, outputs={"prune.pruned_file": "pruned.pth"})
    spec = dry("trt_evaluate", roots, parent_job=exported["id"])
    assert spec["evaluate"]["trt_engine"] == exported["outputs"]["export.onnx_file"]
    assert spec["evaluate"]["test_dataset_gt_file"] == str(synth_root / "test" / "gt_new.txt")  # raw images + gt
    spec = dry("gen_trt_engine", roots, parent_job=exported["id"])
    assert spec["gen_trt_engine"]["onnx_file"] == exported["outputs"]["export.onnx_file"]
    assert spec["gen_trt_engine"]["trt_engine"] == str(Path(spec["results_dir"]) / "best_accuracy.engine")
    spec = dry("retrain", DataRoots(train_datasets=(str(synth_root),)), parent_job=pruned["id"])
    assert spec["model"]["pruned_graph_path"] == pruned["outputs"]["prune.pruned_file"]
    spec = dry("evaluate", roots, parent_job=pruned["id"])  # a pruned model evaluates like any .pth
    assert spec["evaluate"]["checkpoint"] == pruned["outputs"]["prune.pruned_file"]
    with pytest.raises(UserError, match=rf"parent job `{exported['id']}` \(export, COMPLETE\) cannot feed "
                                        r"`model.pruned_graph_path`: it needs a prune job"):  # fmt: skip
        dry("retrain", DataRoots(train_datasets=(str(synth_root),)), parent_job=exported["id"])
    convert = fake_job("dataset_convert")
    with pytest.raises(UserError, match=r"cannot feed `evaluate\.checkpoint`: it needs a train or retrain or prune"):
        dry("evaluate", roots, parent_job=convert["id"])
    running = trained(state=RUNNING)
    with pytest.raises(UserError, match=rf"`{running['id']}` \(train, RUNNING\) is not COMPLETE"):
        dry("evaluate", roots, parent_job=running["id"])
    failed = trained(state="ERROR")
    with pytest.raises(UserError, match=r"\(train, ERROR\) is not COMPLETE"):
        dry("evaluate", roots, parent_job=failed["id"])
    with pytest.raises(UserError, match=r"--parent-job ocrnet-train-abcdef: no job `ocrnet-train-abcdef`"):
        dry("evaluate", roots, parent_job="ocrnet-train-abcdef")
    gone = fake_job("export", {}, outputs={"export.onnx_file": "missing.onnx"})
    with pytest.raises(UserError, match=r"has no `export.onnx_file` file .*missing\.onnx"):
        dry("trt_evaluate", roots, parent_job=gone["id"])
    with pytest.raises(UserError, match="dataset_convert takes no parent job"):
        dry("dataset_convert", DataRoots(train_datasets=(str(synth_root),)), parent_job=failed["id"])


def test_resume_takes_the_latest_readable_checkpoint(jobs_env, synth_root):  # noqa: F811
    killed = trained(state="ERROR", files={"model_epoch_002_step_00009.pth": b"torn: no zip directory"})
    task = Path(killed["outputs"]["task_dir"])
    assert latest_readable_checkpoint(task) == task / "model_epoch_001_step_00006.pth"
    spec = dry("train", DataRoots(train_datasets=(str(synth_root),)), resume_from=killed["id"])
    assert spec["train"]["resume_training_checkpoint_path"] == str(task / "model_epoch_001_step_00006.pth")
    assert spec["train"]["pretrained_model_path"] == ""
    running = trained(state=RUNNING)
    with pytest.raises(UserError, match="is RUNNING; resume only from a finished"):
        dry("train", DataRoots(train_datasets=(str(synth_root),)), resume_from=running["id"])
    with pytest.raises(UserError, match="evaluate cannot resume"):
        dry("evaluate", DataRoots(eval_dataset=str(synth_root)), resume_from=killed["id"])


# --- bad input: clear errors, nothing recorded ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trian"], "unknown action `trian`.*Did you mean `train`"),
        (["train", "--train-dataset", "/no/such/folder"], "`/no/such/folder` does not exist"),
        (["train", "--train-dataset", "gs://bucket/x"], r"unsupported URI scheme `gs://`"),
        (["evaluate", "--eval-dataset", "DATA", "--parent-job", "ocrnet-train-abcdef"], "no job `ocrnet-train-abcdef`"),
        (["evaluate", "--eval-dataset", "DATA", "--parent-job", "../../etc"], "is not a job id"),
        (["train", "--train-dataset", "DATA", "num_epochs=2", "train.num_epochs=3"], "set twice with different"),
        (["train", "--train-dataset", "DATA", "results_dir=/tmp/x"], "bound to the job's results folder"),
        (["train", "--train-dataset", "DATA", "encryption_key=abc"], "is a secret and is never stored"),
        (["train", "--train-dataset", "DATA", "--key-env", "OCRNET_TEST_UNSET_KEY"], "is not set"),
        (["train", "--train-dataset", "DATA", "train.num_epochs=0"], r"`train.num_epochs` = 0 is out of range"),
        (["evaluate", "--eval-dataset", "DATA"], r"`evaluate.checkpoint` is required .*or pass --parent-job ID"),
        (["train"], r"`dataset.train_dataset_dir` is required .*or pass --train-dataset URI"),
        (["dataset_convert", "--train-dataset", "DATA", "--eval-dataset", "DATA"], "one split per job"),
        (["train", "--train-dataset", "DATA/train.tar.gz"], "is a file; pass the folder"),
        (["train", "--train-dataset", "EMPTY"], r"has no train\.tar\.gz \(nor a train/ folder\)"),
    ],
)
def test_bad_requests_fail_before_anything_is_recorded(jobs_env, synth_root, capsys, tmp_path, args, message):  # noqa: F811
    empty = tmp_path / "empty_root"
    empty.mkdir()
    args = [a.replace("DATA", str(synth_root)).replace("EMPTY", str(empty)) for a in args]
    before = jobs_env.entries()
    code, out, err = run(capsys, "submit", *args)
    assert code == 2 and out == ""
    assert err.startswith("ocrnet jobs: error:"), err
    assert re.search(message, err, re.S), err
    assert "Traceback" not in err
    assert jobs_env.entries() == before  # no record, no job folder, no results folder


def test_hostile_archive_is_refused_at_submit(jobs_env, synth_root, tmp_path, capsys):  # noqa: F811
    root = tmp_path / "hostile"
    root.mkdir()
    with tarfile.open(root / "train.tar.gz", "w:gz") as tf:
        info = tarfile.TarInfo("../../escape.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    (root / "train").mkdir()
    (root / "train" / "gt_new.txt").write_text("a.jpg\tx\n")
    code, _, err = run(capsys, "submit", "dataset_convert", "--train-dataset", str(root))
    assert code == 2 and "climbs out of the folder" in err
    assert jobs_env.entries() == ([], [])
    assert not (tmp_path / "escape.txt").exists()


def test_results_root_not_writable(jobs_env, synth_root, monkeypatch, capsys, tmp_path):  # noqa: F811
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("OCRNET_RESULTS_ROOT", str(blocker / "results"))
    code, _, err = run(capsys, "submit", "dataset_convert", "--train-dataset", str(synth_root))
    assert code == 2 and "the results root" in err and "OCRNET_RESULTS_ROOT" in err
    assert jobs_env.entries()[0] == []
    if os.geteuid() != 0:  # root ignores permission bits
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        monkeypatch.setenv("OCRNET_RESULTS_ROOT", str(locked))
        code, _, err = run(capsys, "submit", "dataset_convert", "--train-dataset", str(synth_root))
        assert code == 2 and "is not writable" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything: permissions cannot be tested")
def test_unreadable_root(jobs_env, tmp_path, capsys):  # noqa: F811
    root = tmp_path / "secret"
    root.mkdir(mode=0o000)
    code, _, err = run(capsys, "submit", "train", "--train-dataset", str(root))
    assert code == 2 and "is not readable" in err


def test_every_job_action_command_is_a_cli_command():
    # skill_info's commands and the CLI are both ours: a job must never run a command the CLI lacks.
    import argparse

    from tao_ocrnet.cli import build_parser

    for action in job_actions().values():
        parser = build_parser()
        for word in action.cli_words:
            sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
            assert word in sub.choices, (action.name, action.command)
            parser = sub.choices[word]


# --- consistency with the rest of the package -----------------------------------------------------


def test_catalog_matches_skill_info_and_config():
    from tao_ocrnet.config.actions import ALL_ACTIONS, DEPLOY_ACTIONS
    from tao_ocrnet.jobs.skill_info import deploy_skill_info, skill_info

    actions = job_actions()
    assert set(skill_info()["actions"]) | set(DEPLOY_ACTIONS) == set(actions)
    assert set(actions) <= set(ALL_ACTIONS)
    assert actions["trt_evaluate"].command == deploy_skill_info()["actions"]["evaluate"]["command"]
    assert actions["retrain"].command == "ocrnet train -e {config_path}"


def test_task_dir_rule_matches_the_actions():
    from tao_ocrnet.config.actions import ALL_ACTIONS
    from tao_ocrnet.config.spec import ExperimentSpec
    from tao_ocrnet.results.layout import resolve_results_dir, task_dir

    for action in ALL_ACTIONS:
        for tree in ({"results_dir": "/r"}, {"results_dir": "/r", "train": {"results_dir": "/t"},
                                            "evaluate": {"results_dir": "/e"}}):  # fmt: skip
            spec = ExperimentSpec.model_validate(tree)
            assert task_dir(spec.model_dump(mode="json"), action) == resolve_results_dir(spec, action), action


def test_relative_paths_are_made_absolute(jobs_env, synth_root, tmp_path, monkeypatch):  # noqa: F811
    # The job runs in its own folder: paths typed relative to the caller's folder must still work there.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "best.pth").write_bytes(b"model")  # a submit refuses model files that do not exist
    spec = dry("evaluate", DataRoots(eval_dataset=str(synth_root)), "evaluate.checkpoint=models/best.pth",
               "evaluate.batch_size=4")  # fmt: skip
    assert spec["evaluate"]["checkpoint"] == str(tmp_path / "models" / "best.pth")
    assert spec["evaluate"]["batch_size"] == 4


def test_a_local_lmdb_folder_as_root(jobs_env, synth_root, tmp_path):  # noqa: F811
    lmdb = tmp_path / "lmdb_train"
    lmdb.mkdir()
    (lmdb / "data.mdb").write_bytes(b"x")
    spec = dry("train", DataRoots(train_datasets=(str(lmdb),), eval_dataset=str(synth_root)))
    assert spec["dataset"]["train_dataset_dir"] == [str(lmdb)] and spec["dataset"]["train_gt_file"] == ""


def test_overrides_arrive_as_values_not_text(jobs_env, synth_root):  # noqa: F811
    # 1e-05 written as YAML text without a dot would read back as a string; values never pass through text here.
    overrides = {"train.optim.lr": 1e-05, "learning_rate": 1e-05, "train.seed": 7, "wandb.enable": False}
    request = JobRequest("train", DataRoots(train_datasets=(str(synth_root),)), overrides=overrides)
    spec = yaml.safe_load(JobService(platform=FakePlatform()).submit(request, dry_run=True).spec_yaml)
    assert spec["train"]["optim"]["lr"] == 1e-05 and isinstance(spec["train"]["optim"]["lr"], float)
    assert spec["train"]["seed"] == 7 and spec["wandb"]["enable"] is False
    with pytest.raises(SpecError, match="set twice"):
        JobService(platform=FakePlatform()).submit(
            JobRequest("train", request.roots, overrides={"train.optim.lr": 0.1, "learning_rate": 0.2}), dry_run=True
        )
