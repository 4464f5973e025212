# SPDX-License-Identifier: Apache-2.0
"""Results belong to their run: a busy results folder refuses a second run, a failed run keeps the previous
run's experiment.yaml and outputs, a job cannot point its results anywhere but its own folder, and what a
killed dataset_convert leaves is never data and is cleaned by the next run.

Real CLI runs on real files: a real `ocrnet dataset_convert` process, killed with a real SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tao_ocrnet.cli import main as cli
from tao_ocrnet.data.lmdb_io import DATA_FILE, find_lmdb_dirs
from tao_ocrnet.datasources.resolver import find_lmdb
from tao_ocrnet.results.lock import LOCK_NAME
from tao_ocrnet.results.partial import clean_stale_partials

from data_fixtures import RawSet, make_raw_set, write_charset
from jobs_fixtures import jobs_env, run, synth_root  # noqa: F401

NUM_IMAGES = 300
REPEATS = 200  # 60,000 gt lines: the conversion runs for many seconds, long enough to be caught mid-way


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> RawSet:
    """A few hundred real images; `slow.txt` lists them REPEATS times over, `gt.txt` once."""
    root = tmp_path_factory.mktemp("ownership")
    raw = make_raw_set(root, [f"w{i}" for i in range(NUM_IMAGES)])
    lines = raw.gt_file.read_text(encoding="utf-8")
    (root / "slow.txt").write_text(lines * REPEATS, encoding="utf-8")
    return raw


def _convert_args(raw: RawSet, out: Path, gt: Path, *extra: str) -> list[str]:
    return [
        "dataset_convert",
        f"dataset_convert.input_img_dir={raw.img_dir}",
        f"dataset_convert.gt_file={gt}",
        f"dataset_convert.results_dir={out}",
        *extra,
    ]


def _partials(parent: Path) -> list[Path]:
    return sorted(parent.glob(".lmdb.partial-*"))


@pytest.fixture
def slow_convert(images: RawSet, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A finished conversion into `<root>/test/lmdb` (a data root: `test/` beside a character_list), then a
    real `ocrnet dataset_convert --overwrite` process caught mid-conversion into the same folder: it holds
    the folder's lock and is writing its partial LMDB. Yields (process, LMDB folder); killed at the end."""
    out = tmp_path / "root" / "test" / "lmdb"
    assert cli(_convert_args(images, out, images.gt_file)) == 0
    write_charset(tmp_path / "root" / "character_list")
    gt = images.gt_file.parent / "slow.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tao_ocrnet", *_convert_args(images, out, gt, "--overwrite")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parent = out.parent
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if any((p / DATA_FILE).is_file() for p in _partials(parent)):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the conversion ended before it could be caught mid-way"
        assert _partials(parent), "no partial LMDB appeared"
        yield proc, out
    finally:
        proc.kill()
        proc.wait()


def _status_lines(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "status.json").read_text().splitlines()]


def test_second_run_in_a_busy_folder_is_refused(slow_convert, images, capsys):
    proc, out = slow_convert
    holder = json.loads((out / LOCK_NAME).read_text())
    assert holder["pid"] == proc.pid and holder["action"] == "dataset_convert"
    spec_before = (out / "experiment.yaml").read_bytes()
    status_before = _status_lines(out)

    capsys.readouterr()
    code = cli(_convert_args(images, out, images.gt_file, "--overwrite"))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err  # one line
    assert f"results folder `{out}` is in use by ocrnet dataset_convert (pid {proc.pid}" in err, err
    assert "Traceback" not in err
    # The refused run wrote nothing: the running run's spec and status stay as they were.
    assert (out / "experiment.yaml").read_bytes() == spec_before
    assert _status_lines(out) == status_before
    assert proc.poll() is None
    # The live run's partial output is not anyone's to clean.
    assert clean_stale_partials(out) == [] and _partials(out.parent)


def test_killed_convert_is_never_data_and_is_cleaned_by_the_next_run(slow_convert, images, jobs_env, tmp_path, capsys):  # noqa: F811
    proc, out = slow_convert
    parent, root = out.parent, out.parent.parent
    previous_spec = (out / ".experiment.yaml.previous").read_bytes()
    assert b"slow.txt" not in previous_spec and b"slow.txt" in (out / "experiment.yaml").read_bytes()
    data_before = (out / DATA_FILE).read_bytes()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    [partial] = _partials(parent)
    assert (partial / DATA_FILE).is_file()  # what a careless discovery would take for an LMDB

    # Discovery never returns it: the LMDB scan of datasets, the data-source resolver, and a real job submit
    # that resolves the data root to the finished LMDB only.
    assert find_lmdb_dirs(root) == [out] and find_lmdb(parent, str(parent)) == out
    code, spec, err = run(capsys, "submit", "evaluate", "--eval-dataset", str(root),
                          "evaluate.checkpoint=ocrnet_cpu_small", "--dry-run")  # fmt: skip
    assert code == 0, err
    assert yaml.safe_load(spec)["evaluate"]["test_dataset_dir"] == str(out)

    # The next run in the folder (the lock died with the killed process) removes the stale partial output
    # and puts back the spec of the last run that finished; failing itself, it leaves both as they are.
    bad_gt = tmp_path / "bad.txt"
    bad_gt.write_text("no_such_image.png\tword\n", encoding="utf-8")
    capsys.readouterr()
    assert cli(_convert_args(images, out, bad_gt, "--overwrite")) == 2
    assert "gave no valid sample" in capsys.readouterr().err
    assert _partials(parent) == []
    assert "the unfinished output of a run that was killed" in (out / "dataset_convert.log").read_text()
    assert (out / "experiment.yaml").read_bytes() == previous_spec
    assert not (out / ".experiment.yaml.previous").exists()
    assert (out / DATA_FILE).read_bytes() == data_before


def test_failed_run_keeps_the_previous_experiment_yaml_and_outputs(images, tmp_path, capsys):
    out = tmp_path / "lmdb"
    assert cli(_convert_args(images, out, images.gt_file)) == 0
    spec_before = (out / "experiment.yaml").read_bytes()
    data_before = (out / DATA_FILE).read_bytes()

    bad_gt = tmp_path / "bad.txt"
    bad_gt.write_text("no_such_image.png\tword\n", encoding="utf-8")
    capsys.readouterr()
    assert cli(_convert_args(images, out, bad_gt, "--overwrite")) == 2
    assert "gave no valid sample" in capsys.readouterr().err
    assert (out / "experiment.yaml").read_bytes() == spec_before  # the previous run's spec, not the failed one's
    assert (out / DATA_FILE).read_bytes() == data_before
    assert not (out / ".experiment.yaml.previous").exists() and _partials(out.parent) == []
    assert _status_lines(out)[-1]["status"] == "FAILURE"  # status.json tells what happened


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--train-dataset", "DATA", "train.results_dir=/tmp/elsewhere"],
        ["train", "--train-dataset", "DATA", "train={results_dir: /tmp/elsewhere}"],
        ["evaluate", "--eval-dataset", "DATA", "evaluate.checkpoint=/m.pth", "evaluate.results_dir=OTHER_JOB"],
        ["dataset_convert", "--train-dataset", "DATA", "dataset_convert.results_dir=/tmp/elsewhere"],
        ["export", "--eval-dataset", "DATA", "export.checkpoint=/m.pth", "export.onnx_file=/tmp/model.onnx"],
        ["gen_trt_engine", "gen_trt_engine.onnx_file=/m.onnx", "gen_trt_engine.timing_cache=/tmp/timing.cache"],
    ],
    ids=["train.results_dir", "as-a-section", "into-another-job", "dataset_convert", "export.onnx_file", "timing"],
)
def test_job_overrides_cannot_move_results(jobs_env, synth_root, capsys, args):  # noqa: F811
    other_job = jobs_env.results / "ocrnet-train-abcdef"
    args = [a.replace("DATA", str(synth_root)).replace("OTHER_JOB", str(other_job)) for a in args]
    code, out, err = run(capsys, "submit", *args, "--dry-run")
    assert code == 2 and out == ""
    key = args[-1].split("=", 1)[0]
    key = "train.results_dir" if key == "train" else key
    assert f"`{key}` is bound to the job's results folder" in err, err
    assert "<results root>/<job id>" in err and "set OCRNET_RESULTS_ROOT" in err
    assert jobs_env.entries() == ([], [])


def test_spec_params_still_place_outputs_in_the_job_folder(jobs_env, synth_root, capsys):  # noqa: F811
    for args, key in (
        (["dataset_convert", "--train-dataset", str(synth_root)], ("dataset_convert", "results_dir")),
        (["export", "--eval-dataset", str(synth_root), "export.checkpoint=ocrnet_cpu_small"], ("export", "onnx_file")),
    ):
        code, out, err = run(capsys, "submit", *args, "--dry-run")
        assert code == 0, err
        spec = yaml.safe_load(out)
        assert Path(spec[key[0]][key[1]]).is_relative_to(spec["results_dir"])
        assert Path(spec["results_dir"]).parent == jobs_env.results
