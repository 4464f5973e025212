# SPDX-License-Identifier: Apache-2.0
"""`ocrnet prune`: structured channel pruning; writes `<results_dir>/pruned_<checkpoint stem>.pth`.

The pruned file is our weights-only model file (architecture + smaller state_dict + a `pruned`
report), so retrain (`model.pruned_graph_path`), evaluate, inference and export read it directly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tao_ocrnet.actions.common import RunContext, cli_main
from tao_ocrnet.data.charset import load_charset
from tao_ocrnet.deploy.files import output_folder, refuse_existing
from tao_ocrnet.deploy.prune import PruneSettings, prune_model
from tao_ocrnet.model.checkpoint import load_model_file, resolve_model_path, save_model_file

log = logging.getLogger(__name__)

KEY = "prune.checkpoint"
OUT_KEY = "prune.pruned_file"


def prune(ctx: RunContext) -> dict[str, Any]:
    p = ctx.spec.prune
    source = resolve_model_path(p.checkpoint, KEY)
    out = Path(p.pruned_file).expanduser() if p.pruned_file else ctx.results_dir / f"pruned_{source.stem}.pth"
    refuse_existing([out], OUT_KEY, ctx.overwrite)
    output_folder(out, OUT_KEY)
    charset_file = ctx.spec.dataset.character_list_file
    model, arch, _ = load_model_file(
        source,
        allow_pickle=ctx.allow_pickle,
        expected_charset=load_charset(charset_file) if charset_file else None,
        key=KEY,
        allow_quantized=False,
    )
    settings = PruneSettings.from_spec(p.prune_setting)
    pruned, report = prune_model(model, arch, settings)
    summary = report.summary()
    for name, before, after in report.groups:
        log.debug("group %s: %d -> %d channels", name, before, after)
    log.info(
        "pruned (%s, %s): parameters %d -> %d (%.1f%%), MACs %d -> %d (%.1f%%)",
        settings.mode,
        settings.norm,
        report.params_before,
        report.params_after,
        100 * summary["param_ratio"],
        report.macs_before,
        report.macs_after,
        100 * summary["mac_ratio"],
    )
    record = {**summary, "mode": settings.mode, "amount": settings.amount, "granularity": settings.granularity}
    record.update({"threshold": settings.threshold, "raw_prune_score": settings.norm, "source": str(source)})
    save_model_file(out, pruned, arch, pruned=record)
    ctx.status.write("RUNNING", "Pruning finished.", kpi={k: float(v) for k, v in summary.items()})
    return {**summary, "pruned_file": str(out)}


main = cli_main("prune", prune)
