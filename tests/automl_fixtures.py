# SPDX-License-Identifier: Apache-2.0
"""Helpers for the AutoML tests: an isolated $OCRNET_HOME whose worker processes are stopped afterwards."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tao_ocrnet.automl import workspace as wsp
from tao_ocrnet.automl.best_rec_schema import validate_best_rec
from tao_ocrnet.cli import main as cli
from tao_ocrnet.jobs.record import state_of
from tao_ocrnet.jobs.service import JobService

from jobs_fixtures import JobsEnv, make_env
from tiny_config import TINY_TRAIN, cli_words

# The tiny model on a one-core budget, as command-line words; the epoch count is the study's max_epochs.
TINY = cli_words(TINY_TRAIN)


def stop_leftovers(home: Path) -> None:
    """Kill workers still alive and cancel their running trial jobs (a failed test must not leak processes)."""
    root = home / "automl"
    for ws in root.iterdir() if root.is_dir() else []:
        for info in wsp.live_workers(ws):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(info["pid"], signal.SIGKILL)
    service = JobService()
    for record in service.list():
        if state_of(record) in ("PENDING", "RUNNING"):
            with contextlib.suppress(Exception):
                service.cancel(record["id"], grace=2.0)


@pytest.fixture
def automl_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[JobsEnv]:
    monkeypatch.delenv("OCRNET_AUTOML_STORAGE", raising=False)
    env = make_env(monkeypatch, tmp_path)
    yield env
    stop_leftovers(env.home)


def automl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`ocrnet automl ARGS` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = cli(["automl", *args])
    out, err = capsys.readouterr()
    return code, out, err


def automl_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code, out, err = automl(capsys, *args)
    assert code == 0, err
    return json.loads(out)


def assert_tiny_study_outputs(ws: Path, best: dict, history: list[dict]) -> None:
    """What a finished tiny study (3 trials of 1 epoch, delete_intermediate_ckpt) leaves in its workspace."""
    # best_rec.json: valid, nested, no epoch budget in the spec
    rec = json.loads((ws / "best_rec.json").read_text())
    validate_best_rec(rec)
    assert rec["best"]["rec_id"] == str(best["rec_id"]) and rec["best"]["checkpoint_uri"] == best["checkpoint"]
    assert rec["best"]["observed_budget"] == {"train.num_epochs": 1}
    assert "num_epochs" not in rec["best"]["specs"].get("train", {})
    assert rec["best"]["specs"]["model"] == {"feature_channel": 16, "hidden_size": 16}
    assert [r["rec_id"] for r in rec["all_recs"]] == ["0", "1", "2"]

    # retention: only the best and the baseline keep checkpoints; logs and status stay everywhere
    kept = {best["rec_id"], 0}
    for row in history:
        folder = Path(row["results_dir"])
        assert (folder / "status.json").is_file()
        assert bool(list(folder.glob("*.pth"))) == (row["rec_id"] in kept), row["rec_id"]
    assert (ws / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
