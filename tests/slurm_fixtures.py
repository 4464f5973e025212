# SPDX-License-Identifier: Apache-2.0
"""The loopback Slurm cluster of `scripts/slurm.sh` for the tests marked `slurm`.

The session fixture starts it (`scripts/slurm.sh up`, idempotent) and stops it at the end only if it started it.
When it cannot be started (not root, packages missing), the tests fail in CI (env CI set) and skip elsewhere,
saying why: a cluster test never passes silently without a cluster.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "slurm.sh"


def _slurm(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[str]:
    """SLURM_CONF of the running loopback cluster (also set in the environment for the session)."""
    was_up = _slurm("status").returncode == 0
    done = _slurm("up")
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        reason = f"the loopback Slurm cluster could not be started (scripts/slurm.sh up): {why}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    conf = done.stdout.strip().rpartition("SLURM_CONF=")[2]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLURM_CONF", conf)
        yield conf
    if not was_up:
        _slurm("down")


def write_settings(home: Path, text: str = "gpus: false\ncpus_per_task: 1\n") -> Path:
    """`$OCRNET_HOME/slurm.yaml`; the default suits the loopback cluster (no GPU GRES, 1 CPU per task)."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "slurm.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def slurm_job_state(job: str, timeout: float = 30) -> str:
    """Slurm's own final word on a job (`scontrol show job` JobState), once it has left PENDING/RUNNING (the
    runner records the job's end just before its process, and so Slurm's job, ends)."""
    deadline = time.monotonic() + timeout
    while True:
        out = subprocess.run(["scontrol", "show", "job", "-o", job], capture_output=True, text=True, check=True)
        state = next(word.split("=", 1)[1] for word in out.stdout.split() if word.startswith("JobState="))
        if state not in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING") or time.monotonic() > deadline:
            return state
        time.sleep(0.2)
