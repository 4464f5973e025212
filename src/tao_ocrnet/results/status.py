# SPDX-License-Identifier: Apache-2.0
"""`status.json`: JSON lines in TAO's shape ({date, time, status, verbosity, message[, kpi]}).

One writer (`StatusWriter`, used by every action) and one reader (`read_status`), which the jobs layer, AutoML
and the MCP server use through `summarize`. `val_acc` is a 0-1 fraction at every validation; evaluate's
`test_acc` is in percent, as the reference writes them.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

STATUS_NAME = "status.json"
# time stamps, as the reference writes them
STATUS_DATE = "%m/%d/%Y"
STATUS_TIME = "%H:%M:%S"


class StatusWriter:
    """Appends one line per event; each line is flushed so that readers see it while the action runs."""

    def __init__(self, results_dir: Path, enabled: bool = True):
        self.path = results_dir / STATUS_NAME
        self.enabled = enabled

    def write(self, status: str, message: str, kpi: dict[str, float] | None = None, **extra: Any) -> None:
        if not self.enabled:
            return
        now = dt.datetime.now()
        record: dict[str, Any] = {
            "date": now.strftime(STATUS_DATE),
            "time": now.strftime(STATUS_TIME),
            "status": status,
            "verbosity": "INFO",
            "message": message,
        }
        if kpi is not None:
            record["kpi"] = {k: float(v) for k, v in kpi.items()}
        record.update(extra)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()


def status_time(record: dict[str, Any]) -> dt.datetime:
    """When a status.json line was written (the reference's separate date and time fields)."""
    return dt.datetime.strptime(f"{record['date']} {record['time']}", f"{STATUS_DATE} {STATUS_TIME}")


def read_status(path: Path) -> list[dict[str, Any]]:
    """The lines of a status.json; a torn last line (the writer may be mid-append) and non-objects are skipped,
    a missing or unreadable file reads as empty."""
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
    lines = read_status(task_dir / STATUS_NAME)
    kpis: dict[str, float] = {}
    epoch = None
    for item in lines:
        kpis.update({k: v for k, v in (item.get("kpi") or {}).items() if isinstance(v, int | float)})
        if isinstance(item.get("epoch"), int):
            epoch = item["epoch"]
    last = lines[-1] if lines else {}
    return {"kpis": kpis, "epoch": epoch, "status": last.get("status"), "message": last.get("message")}
