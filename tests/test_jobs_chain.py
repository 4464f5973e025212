# SPDX-License-Identifier: Apache-2.0
"""The whole workflow through `ocrnet jobs` only, on synthetic data:

dataset_convert (train and eval splits) -> train (tiny) -> evaluate with --parent-job -> export -> prune ->
retrain -> deploy evaluate with ONNX Runtime.

Steps whose command the installed CLI does not have yet are skipped, detected at run time with
`ocrnet <command> --help`, so they start running as soon as the commands land.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tao_ocrnet.jobs.store import JobStore

from jobs_fixtures import cli_has, log_tail, make_env, run, synth_root, tiny, wait_for  # noqa: F401

pytestmark = pytest.mark.slow

HAS_EXPORT = cli_has("export")
HAS_PRUNE = cli_has("prune")
HAS_DEPLOY_EVALUATE = cli_has("deploy", "evaluate")
needs_export = pytest.mark.skipif(not HAS_EXPORT, reason="`ocrnet export` is not in the CLI yet")
needs_prune = pytest.mark.skipif(not HAS_PRUNE, reason="`ocrnet prune` is not in the CLI yet")
needs_deploy = pytest.mark.skipif(
    not (HAS_EXPORT and HAS_DEPLOY_EVALUATE), reason="`ocrnet export` / `ocrnet deploy evaluate` not in the CLI yet"
)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, synth_root: Path) -> Iterator[dict]:  # noqa: F811
    """The shared job environment and the ids of the jobs made so far (each step adds its own)."""
    with pytest.MonkeyPatch.context() as mp:
        env = make_env(mp, tmp_path_factory.mktemp("chain"))
        yield {"env": env, "data": str(synth_root)}


@pytest.fixture(scope="module")
def converted(chain: dict) -> dict:
    # Both splits at once: two detached jobs, then wait for both.
    from tao_ocrnet.cli import main as cli

    ids = {}
    for split, option in (("train", "--train-dataset"), ("eval", "--eval-dataset")):
        ids[split] = _submit_quiet(cli, "dataset_convert", option, chain["data"])
    for job_id in ids.values():
        assert wait_for(job_id, ("COMPLETE", "ERROR", "CANCELED"))["terminal_state"] == "COMPLETE"
    chain.update(convert_train=ids["train"], convert_eval=ids["eval"])
    return chain


def _submit_quiet(cli, *args: str) -> str:
    """Module fixtures cannot use capsys: submit with the CLI's output captured by hand."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()) as err:
        code = cli(["jobs", "submit", *args])
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())["job_id"]


def _wait_complete(job_id: str) -> dict:
    record = wait_for(job_id, ("COMPLETE", "ERROR", "CANCELED"), timeout=600)
    assert record["terminal_state"] == "COMPLETE", _log(job_id)
    return record


def _log(job_id: str) -> str:
    return log_tail(job_id, 60)


@pytest.fixture(scope="module")
def trained(converted: dict) -> dict:
    from tao_ocrnet.cli import main as cli

    job_id = _submit_quiet(cli, "train", "--train-dataset", f"job:{converted['convert_train']}",
                           "--eval-dataset", f"job:{converted['convert_eval']}", *tiny(1))  # fmt: skip
    converted["train"] = _wait_complete(job_id)["id"]
    return converted


@pytest.fixture(scope="module")
def first_wave(trained: dict) -> dict[str, str]:
    """evaluate, export and prune all read the train job: submitted together, they run side by side."""
    from tao_ocrnet.cli import main as cli

    parent = ("--parent-job", trained["train"])
    ids = {"evaluate": _submit_quiet(cli, "evaluate", "--eval-dataset", f"job:{trained['convert_eval']}", *parent,
                                     "evaluate.batch_size=8")}  # fmt: skip
    if HAS_EXPORT:
        ids["export"] = _submit_quiet(cli, "export", "--eval-dataset", trained["data"], *parent)
    if HAS_PRUNE:
        ids["prune"] = _submit_quiet(cli, "prune", "--eval-dataset", trained["data"], *parent)
    return ids


@pytest.fixture(scope="module")
def second_wave(trained: dict, first_wave: dict[str, str]) -> dict[str, str]:
    """retrain (after prune) and deploy evaluate (after export), also side by side."""
    from tao_ocrnet.cli import main as cli

    ids = {}
    if "prune" in first_wave:
        _wait_complete(first_wave["prune"])
        training = [o for o in tiny(1) if not o.startswith("model.")]  # the pruned graph fixes the model
        ids["retrain"] = _submit_quiet(cli, "retrain", "--train-dataset", f"job:{trained['convert_train']}",
                                       "--eval-dataset", f"job:{trained['convert_eval']}",
                                       "--parent-job", first_wave["prune"], *training)  # fmt: skip
    if "export" in first_wave and HAS_DEPLOY_EVALUATE:
        _wait_complete(first_wave["export"])
        ids["deploy"] = _submit_quiet(cli, "trt_evaluate", "--eval-dataset", trained["data"],
                                      "--parent-job", first_wave["export"])  # fmt: skip
    return ids


def test_dataset_convert_both_splits(converted):
    store = JobStore()
    for key, split in (("convert_train", "train"), ("convert_eval", "eval")):
        record = store.read(converted[key])
        assert record["request"]["split"] == split and record["kpis"]["skipped"] == 0
        assert (Path(record["results_dir"]) / "data.mdb").is_file()  # LMDB directly in the job's results


def test_train_from_the_converted_lmdbs(trained):
    record = JobStore().read(trained["train"])
    assert record["spec"]["dataset"]["train_dataset_dir"] == [JobStore().read(trained["convert_train"])["results_dir"]]
    assert record["exit_code"] == 0 and "val_acc" in record["kpis"]
    assert (Path(record["outputs"]["task_dir"]) / "best_accuracy.pth").is_file()
    runner = Path(record["runner"]["path"])
    assert runner.is_file() and runner.parent == Path(record["job_dir"])


def test_evaluate_with_parent_job(trained, first_wave):
    record = _wait_complete(first_wave["evaluate"])
    train_task = Path(JobStore().read(trained["train"])["outputs"]["task_dir"])
    assert record["spec"]["evaluate"]["checkpoint"] == str(train_task / "best_accuracy.pth")
    assert record["parent_job"] == trained["train"]
    assert 0.0 <= record["kpis"]["test_acc"] <= 100.0


@needs_export
def test_export(first_wave):
    record = _wait_complete(first_wave["export"])
    onnx = Path(record["outputs"]["export.onnx_file"])
    assert onnx.is_file() and onnx.suffix == ".onnx" and onnx.parent == Path(record["outputs"]["task_dir"])


@needs_prune
def test_prune_then_retrain(first_wave, second_wave):
    prune = _wait_complete(first_wave["prune"])
    assert Path(prune["outputs"]["prune.pruned_file"]).is_file()
    record = _wait_complete(second_wave["retrain"])
    assert record["spec"]["model"]["pruned_graph_path"] == prune["outputs"]["prune.pruned_file"]
    assert (Path(record["outputs"]["task_dir"]) / "best_accuracy.pth").is_file()


@needs_deploy
def test_deploy_evaluate_with_onnx_runtime(first_wave, second_wave):
    record = _wait_complete(second_wave["deploy"])
    assert record["command"] == "ocrnet deploy evaluate -e {config_path}"
    onnx = JobStore().read(first_wave["export"])["outputs"]["export.onnx_file"]
    assert record["spec"]["evaluate"]["trt_engine"] == onnx
    assert record["exit_code"] == 0


def test_the_chain_is_listed(trained, first_wave, second_wave, capsys):
    for job_id in (*first_wave.values(), *second_wave.values()):
        _wait_complete(job_id)
    code, out, _ = run(capsys, "list", "--json")
    views = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and {trained["convert_train"], trained["convert_eval"], trained["train"]} <= {
        v["id"] for v in views
    }
    assert all(v["state"] == "COMPLETE" for v in views)
