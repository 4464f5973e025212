# SPDX-License-Identifier: Apache-2.0
"""Helpers for the job-layer tests: an isolated $OCRNET_HOME, a tiny synthetic dataset, the CLI, fakes."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tao_ocrnet.cli import main as cli
from tao_ocrnet.jobs.platforms.base import LogChunk, Observation
from tao_ocrnet.jobs.record import CANCELED, RUNNING, state_of

from tiny_config import TINY_TRAIN, cli_words


def tiny(epochs: int = 1) -> tuple[str, ...]:
    """Overrides for `ocrnet jobs submit train`: the tiny model for `epochs` epochs."""
    return (*cli_words(TINY_TRAIN), f"train.num_epochs={epochs}")


@dataclass
class JobsEnv:
    home: Path
    results: Path

    @property
    def jobs(self) -> Path:
        return self.home / "jobs"

    def entries(self) -> tuple[list[str], list[str]]:
        """(job store entries, results root entries): what a failed submit must not leave behind."""
        jobs = sorted(p.name for p in self.jobs.iterdir()) if self.jobs.is_dir() else []
        results = sorted(p.name for p in self.results.iterdir()) if self.results.is_dir() else []
        return jobs, results


def make_env(monkeypatch: pytest.MonkeyPatch, root: Path) -> JobsEnv:
    env = JobsEnv(root / "home", root / "results")
    monkeypatch.setenv("OCRNET_HOME", str(env.home))
    monkeypatch.setenv("OCRNET_RESULTS_ROOT", str(env.results))
    monkeypatch.delenv("OCRNET_CACHE_DIR", raising=False)
    monkeypatch.delenv("OCRNET_PLATFORM", raising=False)
    return env


@pytest.fixture
def jobs_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> JobsEnv:
    return make_env(monkeypatch, tmp_path)


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 train / 16 test crops in the skill's data-source layout (archives, gt files, character_list)."""
    from tao_ocrnet.data.synth.generate import generate_dataset

    root = tmp_path_factory.mktemp("jobs_data") / "data"
    generate_dataset(root, 48, 16, seed=5, workers=1)
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`ocrnet jobs ARGS` in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = cli(["jobs", *args])
    out, err = capsys.readouterr()
    return code, out, err


def submit(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, out, err = run(capsys, "submit", *args)
    assert code == 0, err
    return json.loads(out)["job_id"]


def submit_wait(capsys: pytest.CaptureFixture[str], *args: str, expect: str = "COMPLETE") -> dict[str, Any]:
    code, out, err = run(capsys, "submit", *args, "--wait", "--timeout", "600")
    view = json.loads(out)
    assert view["state"] == expect, f"{view}\n{err}\n{log_tail(view['id'])}"
    assert code == (0 if expect == "COMPLETE" else 1)
    return view


def status(capsys: pytest.CaptureFixture[str], job_id: str) -> dict[str, Any]:
    code, out, err = run(capsys, "status", job_id)
    assert code == 0, err
    return json.loads(out)


def wait_for(job_id: str, states: tuple[str, ...], timeout: float = 300) -> dict[str, Any]:
    """Poll `ocrnet jobs status ID --record` until the job is in one of `states`; return its record."""
    import contextlib
    import io

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            assert cli(["jobs", "status", job_id, "--record"]) == 0
        record = json.loads(out.getvalue())
        if state_of(record) in states:
            return record
        time.sleep(0.2)
    raise AssertionError(f"{job_id} did not reach {states} in {timeout} s:\n{log_tail(job_id)}")


def log_tail(job_id: str, lines: int = 40) -> str:
    from tao_ocrnet.jobs.service import JobService

    try:
        return "".join(JobService().logs(job_id, tail=lines))
    except Exception as exc:  # only for assertion messages
        return f"(no log: {exc})"


def cli_has(*words: str) -> bool:
    """Whether the installed CLI has `ocrnet WORDS --help` (detected at run time, so skips end by themselves)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            cli([*words, "--help"])
        except SystemExit as exc:
            return exc.code == 0
    return False


class FakePlatform:
    """Launches nothing: records what it was asked, for store and resolution tests."""

    name = "local"

    def __init__(self) -> None:
        self.launched: list[str] = []

    def submit(self, launch: Any) -> dict[str, Any]:
        self.launched.append(launch.job_id)
        assert launch.runner.is_file() and (launch.job_dir / "spec.yaml").is_file()
        return {"kind": "fake", "host": "test", "pid": None, "pgid": None, "start_time": None}

    def status(self, record: dict[str, Any]) -> Observation:
        return Observation(RUNNING, "fake")

    def logs(self, record: dict[str, Any], offset: int = 0, max_bytes: int = 1 << 20) -> LogChunk:
        return LogChunk("", 0, 0)

    def cancel(self, record: dict[str, Any], grace: float) -> Observation:
        return Observation(CANCELED, "fake cancel")
