# SPDX-License-Identifier: Apache-2.0
"""Evaluate a model on the external sets of recipes/external_sets.py with `ocrnet evaluate`, and tabulate.

    python recipes/evaluate_external.py SET_DIR [SET_DIR ...] [--model ocrnet_cpu_small] [--out figures.json]
                                        [--results DIR]

Each SET_DIR holds images/, gt_new.txt and manifest.json. Prints one row per set: crops, word accuracy,
normalised edit distance and word accuracy by label length (the buckets of `ocrnet evaluate`'s metrics.json
`by_length`); --out writes the same figures, with each set's generator, seed and font families, as JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tao_ocrnet.model.metrics import LENGTH_BUCKETS, bucket_name

BUCKETS = [bucket_name(lo, hi) for lo, hi in LENGTH_BUCKETS]


def evaluate_set(model: str, folder: Path, results: Path) -> dict[str, Any]:
    """One real `ocrnet evaluate` run; its metrics.json plus what the set's manifest says made it."""
    command = [
        *(sys.executable, "-m", "tao_ocrnet", "evaluate"),
        f"evaluate.checkpoint={model}",
        f"evaluate.test_dataset_dir={folder}",
        f"evaluate.test_dataset_gt_file={folder / 'gt_new.txt'}",
        f"results_dir={results}",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"ocrnet evaluate failed on {folder} (exit {done.returncode}):\n{done.stderr[-2000:]}")
    metrics = json.loads((results / "evaluate" / "metrics.json").read_text(encoding="utf-8"))
    manifest_file = folder / "manifest.json"
    manifest = json.loads(manifest_file.read_text(encoding="utf-8")) if manifest_file.is_file() else {}
    return {
        "set": manifest.get("name", folder.name),
        "crops": metrics["num_samples"],
        "accuracy": round(metrics["accuracy"], 4),
        "norm_ed": round(metrics["norm_ed"], 4),
        "by_length": {
            b: {"num_samples": v["num_samples"], "accuracy": None if v["accuracy"] is None else round(v["accuracy"], 4)}
            for b, v in metrics["by_length"].items()
        },
        "generator": manifest.get("generator", {}).get("name"),
        "generator_version": manifest.get("generator", {}).get("version"),
        "seed": manifest.get("seed"),
        "description": manifest.get("settings", {}).get("description"),
        "font_families": manifest.get("font_families"),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table: accuracy by length as 'percent (crops)'."""
    head = ["set", "crops", "word accuracy", "norm_ed", *(f"len {b}" for b in BUCKETS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["set"], str(r["crops"]), f"{100 * r['accuracy']:.1f}%", f"{r['norm_ed']:.3f}"]
        for b in BUCKETS:
            v = r["by_length"].get(b, {"num_samples": 0, "accuracy": None})
            cells.append("-" if v["accuracy"] is None else f"{100 * v['accuracy']:.1f}% ({v['num_samples']})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sets", type=Path, nargs="+", help="set folders made by recipes/external_sets.py")
    p.add_argument("--model", default="ocrnet_cpu_small", help="model file or shipped name (default ocrnet_cpu_small)")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    p.add_argument("--results", type=Path, help="keep each set's evaluate results (predictions.csv) in RESULTS/<set>")
    args = p.parse_args(argv)
    missing = [str(s) for s in args.sets if not (s / "gt_new.txt").is_file()]
    if missing:
        p.error(f"no gt_new.txt in {', '.join(missing)}: make the sets with recipes/external_sets.py first")
    with tempfile.TemporaryDirectory() as tmp:
        where = args.results or Path(tmp)
        rows = [evaluate_set(args.model, s.resolve(), where / s.resolve().name) for s in args.sets]
    print(table(rows))
    if args.out:
        args.out.write_text(json.dumps({"model": args.model, "sets": rows}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
