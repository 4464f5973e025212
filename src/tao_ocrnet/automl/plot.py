# SPDX-License-Identifier: Apache-2.0
"""The study's plots, drawn by Optuna's own visualization module (matplotlib backend), saved as PNG.

plot.png               the optimization history: val_acc per finished trial and the best so far
plot_intermediate.png  val_acc per trial over epochs (what the pruners judge)
plot_parallel.png      parallel coordinates: each searched parameter against val_acc

matplotlib (Agg, no display) is imported here only, when a report is written: never on the MCP start-up path.
Surplus trials (a budget overshoot that never ran a job) are left out, as in every other report.
"""

from __future__ import annotations

import io
import threading
import warnings
from pathlib import Path
from typing import Any

from tao_ocrnet.atomic import write_bytes_atomic
from tao_ocrnet.automl.algorithms import quiet_optuna
from tao_ocrnet.automl.workspace import PLOT_FILE, PLOT_INTERMEDIATE_FILE, PLOT_PARALLEL_FILE

DPI = 100
_LOCK = threading.Lock()  # pyplot keeps global state; a server may write reports from several threads


def _reported(study: Any) -> Any:
    """An in-memory copy of the study without surplus trials (Optuna's plots take a study)."""
    import optuna

    with quiet_optuna():  # no "a new study created in memory" line
        copy = optuna.create_study(direction="maximize", study_name=study.study_name)
    copy.add_trials([t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")])
    return copy


def render_plots(study: Any, ws: Path) -> list[Path]:
    """Write the plots into the workspace `ws`; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: files only, no display
    import matplotlib.pyplot as plt
    import optuna
    from matplotlib.figure import Figure
    from optuna.visualization import matplotlib as ovm

    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # Optuna marks these experimental
        warnings.simplefilter("ignore", UserWarning)  # e.g. "no intermediate values" on a fresh study
        shown = _reported(study)
        written = []
        for name, draw in (
            (PLOT_FILE, lambda: ovm.plot_optimization_history(shown, target_name="val_acc")),
            (PLOT_INTERMEDIATE_FILE, lambda: ovm.plot_intermediate_values(shown)),
            (PLOT_PARALLEL_FILE, lambda: ovm.plot_parallel_coordinate(shown, target_name="val_acc")),
        ):
            ax = draw()
            figure = (ax.flat[0] if hasattr(ax, "flat") else ax).get_figure(root=True)
            assert isinstance(figure, Figure)
            try:
                buf = io.BytesIO()
                figure.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")  # long parameter names
            finally:
                plt.close(figure)
            write_bytes_atomic(ws / name, buf.getvalue())
            written.append(ws / name)
        return written
