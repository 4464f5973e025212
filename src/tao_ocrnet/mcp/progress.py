# SPDX-License-Identifier: Apache-2.0
"""Signs of life while a call waits on a job: progress on every change and as a heartbeat, and log lines.

`JobWatch.poll` reads the job once and sends a progress notification when its state or epoch moved, and
otherwise every HEARTBEAT_SECONDS, so a client sees the wait is alive even while an epoch runs for minutes.
The spec wants every value larger than the last: for training the value is the number of finished epochs,
and between two epochs each heartbeat creeps towards the next one without reaching it (for other actions
the unit is a state change). With logging enabled (`log` set) the job's new log lines (secrets masked,
bounded per poll) and its state changes go out as `notifications/message`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import anyio

from tao_ocrnet.config.secrets import redact
from tao_ocrnet.jobs.record import ERROR, TERMINAL
from tao_ocrnet.jobs.service import JobService
from tao_ocrnet.mcp.context import LogFn, ProgressFn

HEARTBEAT_SECONDS = 3.0
LOG_FIRST_BYTES = 8 << 10  # a watch that starts on a running job sends only the log's tail
LOG_LINES_PER_POLL = 40
LOG_LINE_CHARS = 500
KPIS_SHOWN = 3
TRAIN_LIKE = ("train", "retrain")


def epochs_of(record: dict[str, Any]) -> int | None:
    """The epoch budget of a training job (None for other actions)."""
    value = ((record.get("spec") or {}).get("train") or {}).get("num_epochs")
    return value if isinstance(value, int) and record["action"] in TRAIN_LIKE else None


def kpi_text(kpis: dict[str, Any]) -> str:
    shown = [(k, v) for k, v in sorted(kpis.items()) if isinstance(v, int | float)][:KPIS_SHOWN]
    return ", ".join(f"{k} {v:.4g}" for k, v in shown)


def status_line(state: str, epoch: Any, total: int | None, kpis: dict[str, Any]) -> str:
    """`RUNNING: epoch 2/5; val_acc 0.8123, val_loss 0.41` (what progress and task status messages say)."""
    text = state
    if total and isinstance(epoch, int):
        text += f": epoch {epoch + 1}/{total}"  # status.json epochs are 0-based
    kpi = kpi_text(kpis)
    return text + (f"; {kpi}" if kpi else "")


@dataclass
class Creep:
    """Strictly increasing progress values: a new unit is sent as is; a heartbeat within the same unit creeps
    towards the next one (`base + 0.99 * n / (n + 1)`) without ever reaching it."""

    base: float = -1.0
    beats: int = 0

    def value(self, base: float) -> float:
        if base > self.base:
            self.base, self.beats = base, 0
            return base
        self.beats += 1
        return self.base + 0.99 * self.beats / (self.beats + 1)


@dataclass
class JobWatch:
    service: JobService
    job_id: str
    progress: ProgressFn
    log: LogFn | None = None
    heartbeat: float = HEARTBEAT_SECONDS
    started: float = field(default_factory=time.monotonic)
    _last: tuple[str, Any] | None = None
    _creep: Creep = field(default_factory=Creep)
    _changes: int = 0
    _emitted: float = 0.0
    _log_offset: int | None = None
    _log_lines: int = 0

    def _read(self) -> tuple[dict[str, Any], dict[str, Any]]:
        record = self.service.get(self.job_id)
        return record, self.service.view(record)

    async def poll(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """One look at the job: (record, view), after sending what changed (and a heartbeat when due)."""
        record, view = await anyio.to_thread.run_sync(self._read)
        state, epoch = view["state"], (view.get("progress") or {}).get("epoch")
        if self.log is not None:
            await self._send_log_lines(record)
        changed = (state, epoch) != self._last
        if changed:
            if self.log is not None and (self._last is None or state != self._last[0]):
                level = "error" if state == ERROR else "notice"
                await self.log(level, {"job_id": self.job_id, "state": state, "message": view["message"]})
            self._last = (state, epoch)
            self._changes += 1
        now = time.monotonic()
        if changed or now - self._emitted >= self.heartbeat:
            self._emitted = now
            total = epochs_of(record)
            await self.progress(*self._value(state, epoch, total), self._message(view, epoch, total, now))
        return record, view

    def _value(self, state: str, epoch: Any, total: int | None) -> tuple[float, float | None]:
        if total:
            done = epoch + 1 if isinstance(epoch, int) else 0
            base = float(total) if state in TERMINAL else float(min(done, total - 1))
        else:
            base = float(self._changes)
        return self._creep.value(base), float(total) if total else None

    def _message(self, view: dict[str, Any], epoch: Any, total: int | None, now: float) -> str:
        text = status_line(view["state"], epoch, total, view.get("kpis") or {})
        if view["state"] in TERMINAL:
            return text
        lines = f", {self._log_lines} log lines" if self.log is not None else ""
        return f"{text}; waited {now - self.started:.0f} s{lines}"

    async def _send_log_lines(self, record: dict[str, Any]) -> None:
        assert self.log is not None
        platform = self.service.platform_for(record)
        offset = -LOG_FIRST_BYTES if self._log_offset is None else self._log_offset
        chunk = await anyio.to_thread.run_sync(lambda: platform.logs(record, offset=offset))
        text = chunk.text
        if self._log_offset is None and chunk.size > LOG_FIRST_BYTES:
            text = text.partition("\n")[2]  # the tail starts mid-line
        # Only whole lines: a partial last line is read again, complete, on the next poll.
        complete, _, rest = text.rpartition("\n")
        self._log_offset = chunk.offset - len(rest.encode())
        if not complete:
            return
        lines = complete.split("\n")
        skipped = max(0, len(lines) - LOG_LINES_PER_POLL)
        self._log_lines += len(lines)
        if skipped:
            await self.log("info", {"job_id": self.job_id, "skipped_lines": skipped})
        for line in lines[skipped:]:
            await self.log("info", {"job_id": self.job_id, "line": redact(line)[0][:LOG_LINE_CHARS]})
