# SPDX-License-Identifier: Apache-2.0
"""KPIs and progress from an action's `status.json` (JSON lines; a torn last line is ignored)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STATUS_NAME = "status.json"


def read_lines(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out


def summarize(task_dir: Path) -> dict[str, Any]:
    """{kpis: every KPI's last value, epoch, status, message} of the action's status.json."""
    lines = read_lines(task_dir / STATUS_NAME)
    kpis: dict[str, float] = {}
    epoch = None
    for item in lines:
        kpis.update({k: v for k, v in (item.get("kpi") or {}).items() if isinstance(v, int | float)})
        if isinstance(item.get("epoch"), int):
            epoch = item["epoch"]
    last = lines[-1] if lines else {}
    return {"kpis": kpis, "epoch": epoch, "status": last.get("status"), "message": last.get("message")}
