# SPDX-License-Identifier: Apache-2.0
"""`experiment.yaml`: the resolved spec of the run whose outputs are in the folder, secrets masked.

TAO writes it when an action starts, so the spec is there to read while the action runs; we do the same,
under the folder's run lock (`results.lock`). A run that fails or is interrupted must not leave its spec
beside the previous run's outputs, so the previous file is kept aside (`.experiment.yaml.previous`) while
a run is in progress and put back if the run fails; a success drops it. A run killed outright (kill -9)
cannot put it back, so the next run does, before it writes its own. A first run that fails keeps its spec:
it replaces nothing and says what was tried.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from tao_ocrnet.atomic import write_bytes_atomic, write_text_atomic
from tao_ocrnet.config.loader import spec_to_yaml
from tao_ocrnet.config.spec import ExperimentSpec

EXPERIMENT_NAME = "experiment.yaml"
PREVIOUS_NAME = f".{EXPERIMENT_NAME}.previous"


@contextlib.contextmanager
def experiment_yaml(results_dir: Path, spec: ExperimentSpec) -> Iterator[Path]:
    """experiment.yaml of the run in the block: written now, the previous one restored if the block fails.

    Call it only while holding the folder's run lock: the backup belongs to the one run in progress.
    """
    path, previous = results_dir / EXPERIMENT_NAME, results_dir / PREVIOUS_NAME
    if previous.is_file():  # left by a run that was killed: its predecessor's spec is the current one
        os.replace(previous, path)
    if path.is_file():
        write_bytes_atomic(previous, path.read_bytes())
    write_text_atomic(path, spec_to_yaml(spec))
    try:
        yield path
    except BaseException:
        if previous.is_file():
            os.replace(previous, path)
        raise
    previous.unlink(missing_ok=True)
