# SPDX-License-Identifier: Apache-2.0
"""`python tests/dist_probe.py <ocrnet args>`: the `ocrnet` CLI, with every rank recording the samples it loads.

A test helper, run as a script: Lightning starts a node's other ranks by re-running this same command, so they
record too. Each loaded sample appends one JSON line to `$PROBE_TRACE_DIR/<split>-rank<global rank>.jsonl`
(index, label, pid, torch threads); `PROBE_SAMPLE_DELAY` (seconds) slows each load, so that a test can act while
an epoch runs. Nothing else changes: the datasets are the DataModule's own, wrapped after `setup`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import Dataset

from tao_ocrnet.cli import main
from tao_ocrnet.data.datamodule import OCRDataModule

TRACE_DIR = Path(os.environ["PROBE_TRACE_DIR"])
DELAY = float(os.environ.get("PROBE_SAMPLE_DELAY", "0"))


class Recorded(Dataset):
    def __init__(self, inner: Any, split: str) -> None:
        self.inner = inner
        self.split = split

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, index: int) -> Any:
        item = self.inner[index]
        rank = dist.get_rank() if dist.is_initialized() else 0
        line = {"index": index, "label": item[1], "pid": os.getpid(), "threads": torch.get_num_threads()}
        with (TRACE_DIR / f"{self.split}-rank{rank}.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
        time.sleep(DELAY)
        return item


_setup = OCRDataModule.setup


def _recording_setup(self: OCRDataModule, stage: str | None = None) -> None:
    _setup(self, stage)
    for name in ("train_dataset", "val_dataset"):
        data = getattr(self, name)
        if data is not None and not isinstance(data, Recorded):
            setattr(self, name, Recorded(data, name.split("_")[0]))


OCRDataModule.setup = _recording_setup  # type: ignore[method-assign]

if __name__ == "__main__":
    TRACE_DIR.mkdir(parents=True, exist_ok=True)
    sys.exit(main(sys.argv[1:]))
