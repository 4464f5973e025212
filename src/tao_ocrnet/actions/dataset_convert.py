# SPDX-License-Identifier: Apache-2.0
"""`ocrnet dataset_convert`: images + gt file -> LMDB, written whole or not at all."""

from __future__ import annotations

from typing import Any

from tao_ocrnet.actions.common import RunContext, cli_main
from tao_ocrnet.data.convert import convert_to_lmdb


def dataset_convert(ctx: RunContext) -> dict[str, Any]:
    cfg = ctx.spec.dataset_convert
    summary = convert_to_lmdb(
        cfg.input_img_dir, cfg.gt_file, ctx.results_dir, overwrite=ctx.overwrite, overwrite_flag="--overwrite"
    )
    result = summary.to_dict()
    ctx.status.write(
        "RUNNING",
        f"Wrote {summary.written} samples, skipped {summary.num_skipped}.",
        kpi={"written": summary.written, "skipped": summary.num_skipped},
        skipped_by_reason=summary.skipped_by_reason,
    )
    return result


main = cli_main("dataset_convert", dataset_convert)
