# SPDX-License-Identifier: Apache-2.0
"""Job lifecycle: submit (resolve, record, launch), status with reconciliation, list, logs, cancel, results.

This is the API the CLI (`ocrnet jobs`), the MCP server and the AutoML runner call. Reading a job
reconciles it with its platform: a process that died without an exit record becomes ERROR with the reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tao_ocrnet.config.actions import action_info
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs import paths
from tao_ocrnet.jobs.catalog import job_action
from tao_ocrnet.jobs.hooks import apply_observation, task_dir_of
from tao_ocrnet.jobs.ids import check_job_id, new_job_id
from tao_ocrnet.jobs.platforms.base import ComputeShape, Launch, Observation, Platform, get_platform
from tao_ocrnet.jobs.queue import launch_transition
from tao_ocrnet.jobs.record import (
    CANCELED,
    ERR_INFRA,
    ERROR,
    PENDING,
    RUNNING,
    TERMINAL,
    is_terminal,
    last_transition,
    new_record,
    state_of,
)
from tao_ocrnet.jobs.request import JobRequest
from tao_ocrnet.jobs.runstate import LOG_NAME, RUNNER_NAME, SPEC_NAME, write_launch
from tao_ocrnet.jobs.store import JobStore, TerminalStateError
from tao_ocrnet.results.checkpoints import BEST_NAME
from tao_ocrnet.results.status import summarize

if TYPE_CHECKING:  # resolve loads the spec models (pydantic): imported at run time only by submit
    from tao_ocrnet.jobs.resolve import ResolvedJob

log = logging.getLogger(__name__)

DEFAULT_GRACE = 10.0  # seconds between SIGTERM and SIGKILL on cancel
LAUNCH_GRACE = 120.0  # a PENDING record with no process after this long was never launched
TAIL_BYTES = 256 << 10
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class Submitted:
    job_id: str
    record: dict[str, Any] | None  # None for a dry run
    spec_yaml: str
    results_dir: Path
    notes: list[str]


def _age_seconds(stamp: str) -> float:
    then = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return (dt.datetime.now(dt.UTC) - then).total_seconds()


def ensure_writable(root: Path) -> None:
    """The results root exists (created if needed) and accepts new folders; else a clear UserError."""
    hint = "set OCRNET_RESULTS_ROOT to a writable folder"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"the results root `{root}` cannot be created: {exc.strerror}; {hint}") from None
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".write-probe-", dir=root))
    except OSError as exc:
        raise UserError(f"the results root `{root}` is not writable: {exc.strerror}; {hint}") from None


class JobService:
    def __init__(
        self,
        store: JobStore | None = None,
        platform: Platform | None = None,
        results_root: Path | None = None,
        cache_root: Path | None = None,
    ) -> None:
        self.store = store or JobStore()
        self._platform = platform
        self.results_root = results_root or paths.results_root()
        self.cache_root = cache_root or paths.cache_dir()

    def platform_for(self, record: dict[str, Any] | None = None, name: str | None = None) -> Platform:
        """The platform that launched `record`, else the one named, else the service's (or the environment's)."""
        wanted = record["platform"] if record else name
        if self._platform is not None and (wanted is None or wanted == self._platform.name):
            return self._platform
        return get_platform(wanted)

    # --- reading -----------------------------------------------------------------------------------

    def refresh(self, record: dict[str, Any]) -> dict[str, Any]:
        """Reconcile a non-terminal record with what its platform sees (source: poller)."""
        if is_terminal(record):
            return record
        if record.get("backend_ref") is None:
            if _age_seconds(record["submitted_at"]) > LAUNCH_GRACE:
                obs = Observation(ERROR, "never launched (the submitting process stopped first)", err_class=ERR_INFRA)
                return apply_observation(self.store, record, obs, "poller")
            return record
        return apply_observation(self.store, record, self.platform_for(record).status(record), "poller")

    def get(self, job_id: str) -> dict[str, Any]:
        return self.refresh(self.store.read(check_job_id(job_id)))

    def list(self, action: str | None = None, state: str | None = None) -> list[dict[str, Any]]:
        records = [self.refresh(r) for r in self.store.list()]
        if action:
            records = [r for r in records if r["action"] == action]
        if state:
            records = [r for r in records if state_of(r) == state.upper()]
        return sorted(records, key=lambda r: r["submitted_at"], reverse=True)

    def view(self, record: dict[str, Any]) -> dict[str, Any]:
        """The status summary callers show: state, last message, KPIs (live while running), exit code."""
        last = last_transition(record)
        out = {
            "id": record["id"],
            "action": record["action"],
            "state": last["state"],
            "message": last["message"],
            "submitted_at": record["submitted_at"],
            "updated_at": last["ts"],
            "parent_job": record.get("parent_job"),
            "results_dir": record["results_dir"],
            "exit_code": record.get("exit_code"),
            "kpis": record.get("kpis") or {},
        }
        if last["state"] == RUNNING:
            live = summarize(task_dir_of(record))
            out["kpis"] = live["kpis"]
            out["progress"] = {"epoch": live["epoch"], "status": live["status"], "message": live["message"]}
        return out

    # --- submit ------------------------------------------------------------------------------------

    def submit(self, request: JobRequest, dry_run: bool = False) -> Submitted:
        """Resolve the spec, write the record (PENDING), then launch. Any failure before the launch leaves
        no record and no job folder behind; a launch that cannot be recorded is stopped and removed."""
        from tao_ocrnet.jobs.resolve import resolve_job  # pydantic: kept off `ocrnet jobs list|status`

        action = job_action(request.action)
        platform = self.platform_for(name=request.platform)
        check = getattr(platform, "check", None)  # a cluster platform's settings and commands, before any record
        if check is not None:
            check()
        if request.key_env is not None:
            if not _ENV_NAME.match(request.key_env):
                raise UserError(f"--key-env takes an environment variable NAME, not `{request.key_env}`")
            if not os.environ.get(request.key_env):
                raise UserError(f"--key-env {request.key_env}: that environment variable is not set")
        ensure_writable(self.results_root)
        if dry_run:
            job_id = new_job_id(action.name)
            resolved = resolve_job(
                request, action, job_id, self.results_root / job_id, self.cache_root, self.get, dry_run=True
            )
            return Submitted(job_id, None, resolved.spec_yaml, resolved.results_dir, resolved.notes)

        job_id = self.store.reserve(action.name)
        results_dir = self.results_root / job_id
        created_results = False
        try:
            results_dir.mkdir()
            created_results = True
            resolved = resolve_job(request, action, job_id, results_dir, self.cache_root, self.get)
            record = self._prepare(request, resolved, platform.name)
            self.store.create(record)
        except BaseException as exc:
            self.store.release(job_id)
            if created_results:
                shutil.rmtree(results_dir, ignore_errors=True)
            if isinstance(exc, OSError):  # disk full, read-only: one clear line, nothing recorded or launched
                raise UserError(
                    f"job not submitted: `{exc.filename or self.store.root}`: {exc.strerror}; free space there or "
                    "set OCRNET_HOME and OCRNET_RESULTS_ROOT to writable folders (nothing was recorded or launched)"
                ) from None
            raise
        return Submitted(job_id, self._launch(record, platform), resolved.spec_yaml, results_dir, record["notes"])

    def _prepare(self, request: JobRequest, resolved: ResolvedJob, platform_name: str) -> dict[str, Any]:
        """Write the job folder (spec, runner copy, launch file) and build the PENDING record."""
        from tao_ocrnet.jobs.runner_shim import render_runner, runner_record  # reads skill_info: pydantic

        job_dir = self.store.job_dir(resolved.job_id)
        (job_dir / SPEC_NAME).write_text(resolved.spec_yaml, encoding="utf-8")
        runner_text = render_runner(resolved.action)
        runner = job_dir / RUNNER_NAME
        runner.write_text(runner_text, encoding="utf-8")
        runner.chmod(0o755)
        write_launch(job_dir, {
            "job_id": resolved.job_id, "action": resolved.action.name, "config": SPEC_NAME,
            "key_env": request.key_env, "task_dir": str(resolved.task_dir),
        })  # fmt: skip
        notes = list(resolved.notes)
        if resolved.resume_checkpoint is not None:
            notes += _seed_best(resolved.resume_checkpoint.parent, resolved.task_dir)
        return new_record(
            job_id=resolved.job_id,
            action=resolved.action.name,
            command=resolved.action.command,
            platform=platform_name,
            results_dir=str(resolved.results_dir),
            job_dir=str(job_dir),
            spec=resolved.spec,
            parent_job=request.parent_job,
            retry_of=request.resume_from,
            request={
                "roots": request.roots.to_dict(),
                "split": resolved.split,
                "parent_job": request.parent_job,
                "resume_from": request.resume_from,
                "checkpoint_epoch": request.checkpoint_epoch,
                "checkpoint_step": request.checkpoint_step,
                "key_env": request.key_env,
                "overrides": dict(request.overrides),
            },
            inputs=resolved.inputs,
            outputs=resolved.outputs,
            credentials=resolved.credentials,
            runner=runner_record(resolved.action, runner, runner_text),
            python=sys.executable,
            notes=notes,
        )

    def _launch(self, record: dict[str, Any], platform: Platform) -> dict[str, Any]:
        job_id = record["id"]
        job_dir = Path(record["job_dir"])
        info = action_info(record["action"])
        shape = ComputeShape.from_spec(record["spec"], info.section, gpu=info.deploy)
        launch = Launch(job_id, job_dir, job_dir / RUNNER_NAME, job_dir / LOG_NAME, sys.executable, shape)
        try:
            ref = platform.submit(launch)
        except Exception as exc:
            try:
                self.store.mark(job_id, ERROR, f"launch failed: {exc}", "agent", err_class=ERR_INFRA)
            except OSError:  # a store that cannot be written keeps no PENDING record either
                self._discard(record)
            raise UserError(f"job {job_id} could not be launched on {platform.name}: {exc}") from None
        try:
            return self.store.mark(job_id, *_launch_transition(platform.name, ref), "agent", backend_ref=ref)
        except TerminalStateError:  # the runner already finished and recorded its exit
            return self.store.read(job_id)
        except OSError as exc:
            # A job whose record lacks its process reference could never be canceled: stop it, keep nothing.
            platform.cancel({**record, "backend_ref": ref}, DEFAULT_GRACE)
            self._discard(record)
            raise UserError(
                f"job {job_id} was stopped and removed: its launch could not be recorded in the job store "
                f"(`{exc.filename or self.store.root}`: {exc.strerror}); free space there or set OCRNET_HOME to "
                "a writable folder"
            ) from None

    def _discard(self, record: dict[str, Any]) -> None:
        """Remove a job that failed at submit: record, job folder, results folder."""
        try:
            self.store.discard(record["id"])
        except OSError as exc:  # read-only store: the record stays; reading it later turns it into ERROR
            log.warning("could not remove the record of job %s: %s", record["id"], exc.strerror)
        shutil.rmtree(record["results_dir"], ignore_errors=True)

    # --- control -----------------------------------------------------------------------------------

    def cancel(self, job_id: str, grace: float = DEFAULT_GRACE) -> dict[str, Any]:
        record = self.get(job_id)
        if is_terminal(record):
            return record  # idempotent: nothing to stop
        obs = self.platform_for(record).cancel(record, grace)
        record = self.store.read(record["id"])
        return apply_observation(self.store, record, Observation(CANCELED, obs.message, obs.exit_code), "agent")

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.5) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.get(job_id)
            if state_of(record) in TERMINAL:
                return record
            if deadline is not None and time.monotonic() > deadline:
                raise UserError(f"job {job_id} is still {state_of(record)} after {timeout:g} s")
            time.sleep(poll)

    def logs(self, job_id: str, tail: int | None = None, follow: bool = False, poll: float = 0.5) -> Iterator[str]:
        """The job log: all of it, or its last `tail` lines; `follow` keeps reading until the job ends."""
        record = self.get(job_id)
        platform = self.platform_for(record)
        if tail is not None:
            chunk = platform.logs(record, offset=-TAIL_BYTES)
            lines = chunk.text.splitlines(keepends=True)
            if chunk.offset - len(chunk.text.encode()) > 0 and lines:
                lines = lines[1:]  # the first line was cut by the byte window
            yield "".join(lines[-tail:] if tail > 0 else [])
            offset = chunk.offset
        else:
            offset = 0
            while (chunk := platform.logs(record, offset=offset)).text:
                yield chunk.text
                offset = chunk.offset
        while follow:
            chunk = platform.logs(record, offset=offset)
            if chunk.text:
                yield chunk.text
                offset = chunk.offset
                continue
            if is_terminal(record):
                break
            time.sleep(poll)
            record = self.get(job_id)

    def results(self, job_id: str) -> dict[str, Any]:
        """Where the job's outputs are, which exist, and its KPIs."""
        record = self.get(job_id)
        folder = task_dir_of(record)
        outputs = {
            key: {"path": value, "exists": Path(value).exists()} for key, value in (record.get("outputs") or {}).items()
        }
        files = []
        if folder.is_dir():
            # Dot files are the run's own bookkeeping (its lock, the previous experiment.yaml), not results.
            files = [
                {"name": p.name, "bytes": p.stat().st_size}
                for p in sorted(folder.iterdir())
                if p.is_file() and not p.name.startswith(".")
            ]
        return {
            **self.view(record),
            "task_dir": str(folder),
            "outputs": outputs,
            "files": files,
            "kpis": record.get("kpis") or summarize(folder)["kpis"],
        }


def _launch_transition(platform: str, ref: dict[str, Any]) -> tuple[str, str]:
    """A job handed to a scheduler (its reference names `scheduler_job`) waits PENDING for its allocation."""
    if ref.get("scheduler_job") is not None:
        return PENDING, f"submitted to {platform} as job {ref['scheduler_job']}; waiting for its allocation"
    return launch_transition(platform, ref)


def _seed_best(old_task_dir: Path, new_task_dir: Path) -> list[str]:
    """A resumed run keeps the best model of the run it resumes: copy best_accuracy.pth across.

    The trainer restores its best score from the checkpoint and rewrites the file only on improvement, so
    without the copy a resumed job whose remaining epochs do not improve would have no best model.
    """
    best = old_task_dir / BEST_NAME
    if not best.is_file():
        return []
    new_task_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(best, new_task_dir / BEST_NAME)
    return [f"copied {best} into {new_task_dir} (the resumed run's best model so far)"]
