# SPDX-License-Identifier: Apache-2.0
"""Which rank of a distributed run this process is, read from its launcher's environment before any process
group exists: Slurm's `srun` (one task per rank), torchrun, or Lightning's own launcher (the `ocrnet train` a user
starts on each node, which starts the node's other ranks with `LOCAL_RANK` set).

Light on purpose (no torch): `actions.common.run_action` asks it before an action body runs.
"""

from __future__ import annotations

import os

# Lightning treats a Slurm job named like this as a shell the user launches processes from, not as srun's ranks.
SLURM_INTERACTIVE_NAMES = ("bash", "interactive")


def srun_task() -> bool:
    """True inside a task that `srun` started; Lightning then takes ranks and world size from Slurm
    (`SLURMEnvironment`: `SLURM_NTASKS` set, job not interactive)."""
    return "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in SLURM_INTERACTIVE_NAMES


def started_as_rank_zero() -> bool:
    """True for the process that owns the run's results folder: the global rank zero, or a plain single process."""
    if srun_task():
        return os.environ.get("SLURM_PROCID", "0") == "0"
    # torchrun sets RANK (GROUP_RANK per node); Lightning's launcher NODE_RANK and LOCAL_RANK.
    return all(
        os.environ.get(name, "0").strip() in ("", "0") for name in ("RANK", "GROUP_RANK", "NODE_RANK", "LOCAL_RANK")
    )
