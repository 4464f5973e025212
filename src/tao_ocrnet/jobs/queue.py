# SPDX-License-Identifier: Apache-2.0
"""How many jobs a platform runs at once, the FIFO queue of the others, and each job's share of the cores.

A job's command runs only while its runner holds a *slot*: an exclusive `flock` on `<queue>/slot-N.lock`.
A *ticket* (`<queue>/ticket-<seq>-<job id>`, also flocked) holds a waiting job's place in the queue. The
submitting process takes the slot or the ticket under `<queue>/queue.lock` and hands its descriptor to the
runner it starts (`pass_fds`); a waiting runner takes the first free slot once no older ticket is left. The
kernel drops a lock when the last process holding it ends, however it ends (exit, crash, kill -9), so a slot
or a place in the queue never leaks, there is no daemon, and every count is made under `queue.lock`: two
processes never start one job twice or more jobs than the limit.

A queued job is launched at once, as a runner that waits, rather than started later by whichever process
happens to touch the jobs layer: it keeps the environment, CPU affinity and secrets of the process that
submitted it (an encryption key passed by environment name stays in that process's memory, never on disk).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tao_ocrnet.atomic import file_lock, write_text_atomic
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.hooks import apply_observation
from tao_ocrnet.jobs.platforms.base import Observation
from tao_ocrnet.jobs.record import PENDING, RUNNING, is_terminal, now
from tao_ocrnet.jobs.runstate import state_dir
from tao_ocrnet.jobs.store import JobStore, TerminalStateError

LIMIT_ENV = "OCRNET_MAX_JOBS"  # jobs run at once on this machine (default: `default_limit`)
QUEUE_ENV = "OCRNET_QUEUE_PLACE"  # how the runner finds the slot or ticket its launcher handed it
THREAD_ENVS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # torch reads OMP_NUM_THREADS; actions call set_num_threads
QUEUE_DIR = ".queue"  # in the job store, one folder per platform
LOCK_NAME = "queue.lock"
ADMITTED_NAME = "admitted.json"  # in the job's .runner folder: the job got its slot (and when, and its share)
POLL_S = 0.25  # how often a waiting runner looks for its turn
RECORD_WAIT_S = 60.0  # a queued runner whose launch is never recorded gives up (its launcher died at once)


def machine_cpus() -> int:
    """The CPUs this process may use: its affinity (a container's or `taskset`'s share, not the host's), and inside
    a Slurm job no more than the CPUs per task it was given. A cluster whose task plugin does not bind jobs to their
    CPUs (task/none) leaves every job the whole node's affinity: two 1-CPU jobs each running 2 threads on 2 cores
    ran at half speed, while one thread each ran them side by side (benchmarks/bench_automl_workers.py)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    given = os.environ.get("SLURM_CPUS_PER_TASK", "")
    return min(cpus, int(given)) if given.isdigit() and int(given) > 0 else cpus


def default_limit() -> int:
    # Half the cores, at least 1: a training job is more than its compute threads (the action's main thread
    # and its data-loader processes decoding and augmenting images; the CPU recipe runs one loader worker),
    # so two cores per job keep its loader fed. Compute threads never overlap either way: each job gets
    # cores // limit (`thread_share`); OpenMP threads of two jobs spinning on the same cores cut a tiny
    # training from ~320 to 4-33 images/s (benchmarks/bench_job_cores.py). A machine of small loader-less
    # jobs gets more images/s in all from OCRNET_MAX_JOBS = the cores (one thread each).
    return max(1, machine_cpus() // 2)


def job_limit() -> int:
    """`$OCRNET_MAX_JOBS`, else the default for this machine."""
    text = os.environ.get(LIMIT_ENV, "").strip()
    if not text:
        return default_limit()
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UserError(
            f"{LIMIT_ENV}=`{text}` is not a number of jobs >= 1; unset it for the default ({default_limit()} here)"
        )
    return value


def thread_share(limit: int, cpus: int) -> int:
    """Threads for one job when `limit` jobs share `cpus` cores: each its own cores, at least one."""
    return max(1, cpus // limit)


def share_line(threads: int, cpus: int, limit: int | None) -> str:
    jobs = "no job limit" if limit is None else f"{limit} job{'s' if limit != 1 else ''} at once"
    return f"threads: {threads} of {cpus} core{'s' if cpus != 1 else ''}; {jobs}"


def queued_message(ahead: int, limit: int) -> str:
    return f"queued: {ahead} ahead (at most {limit} job{'s' if limit != 1 else ''} at once)"


def started_message(admitted: dict[str, Any]) -> str:
    """RUNNING's message once a queued job took its slot (the runner and a poller may write it: same text)."""
    return f"started after {admitted.get('waited_s', 0):.1f} s in the queue"


def launch_transition(platform: str, ref: dict[str, Any]) -> tuple[str, str]:
    """The state and message a launch is recorded with: RUNNING, or PENDING for a runner that waits its turn."""
    queued = ref.get("queue")
    if queued:
        where = f"; its runner (pid {ref.get('pid')}) waits on {platform}"
        return PENDING, queued_message(int(queued["ahead"]), int(queued["limit"])) + where
    return RUNNING, f"launched on {platform} (pid {ref.get('pid')})"


def queue_dir(jobs_root: Path, platform: str) -> Path:
    return jobs_root / QUEUE_DIR / platform


def read_admitted(job_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((state_dir(job_dir) / ADMITTED_NAME).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _write_admitted(job_dir: Path, slot: int, limit: int, waited_s: float) -> None:
    folder = state_dir(job_dir)
    folder.mkdir(parents=True, exist_ok=True)
    info = {"slot": slot, "limit": limit, "at": now(), "waited_s": round(waited_s, 3)}
    write_text_atomic(folder / ADMITTED_NAME, json.dumps(info) + "\n")


def _lock_nb(path: Path) -> int | None:
    """An open descriptor holding an exclusive flock on `path` (created if absent), or None if it is held."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _is_held(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@dataclass
class Place:
    """What a launch got: a slot (run now) or a ticket (wait, `ahead` older tickets first); `fd` holds it."""

    fd: int
    limit: int
    folder: Path
    slot: int | None = None
    ticket: str | None = None
    ahead: int = 0

    def env_value(self) -> str:
        return json.dumps(
            {
                "fd": self.fd,
                "limit": self.limit,
                "dir": str(self.folder),
                "slot": self.slot,
                "ticket": self.ticket,
                "ahead": self.ahead,
            }
        )


class JobQueue:
    """One platform's slots and queue in the job store (all counting under `queue.lock`)."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder = folder
        self.limit = limit

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        return file_lock(self.folder / LOCK_NAME)

    def _tickets(self) -> list[str]:
        """Live tickets, oldest first (one whose runner is gone is removed); call under the lock."""
        live = []
        for name in sorted(p.name for p in self.folder.glob("ticket-*")):
            if _is_held(self.folder / name):
                live.append(name)
            else:
                (self.folder / name).unlink(missing_ok=True)
        return live

    def _take_slot(self) -> tuple[int, int] | None:
        """(slot index, descriptor holding it) if fewer than `limit` slots are held; call under the lock."""
        held = {p.name for p in self.folder.glob("slot-*.lock") if _is_held(p)}
        if len(held) >= self.limit:
            return None
        for index in range(self.limit):
            if f"slot-{index}.lock" not in held:
                fd = _lock_nb(self.folder / f"slot-{index}.lock")
                if fd is not None:
                    return index, fd
        return None

    @contextlib.contextmanager
    def admit(self, job_id: str, job_dir: Path) -> Iterator[Place]:
        """A slot if one is free and nobody waits, else a ticket at the end of the queue; held for the block
        (launch the runner inside it, handing it `place.fd`), then this process's descriptor is closed."""
        with self._lock():
            tickets = self._tickets()
            taken = None if tickets else self._take_slot()
            if taken is not None:
                place = Place(taken[1], self.limit, self.folder, slot=taken[0])
            else:
                newest = int(tickets[-1].split("-")[1]) if tickets else 0
                name = f"ticket-{max(time.time_ns(), newest + 1):020d}-{job_id}"
                fd = _lock_nb(self.folder / name)
                assert fd is not None  # a fresh name, created under the queue lock
                place = Place(fd, self.limit, self.folder, ticket=name, ahead=len(tickets))
            try:
                if place.slot is not None:  # before the runner exists: a running job never reads as queued
                    _write_admitted(job_dir, place.slot, self.limit, 0.0)
                yield place
            except BaseException:
                if place.ticket:
                    (self.folder / place.ticket).unlink(missing_ok=True)
                else:
                    (state_dir(job_dir) / ADMITTED_NAME).unlink(missing_ok=True)
                raise
            finally:
                os.close(place.fd)

    def wait_turn(
        self, place: Place, job_dir: Path, stop: Callable[[], bool], on_position: Callable[[int], None]
    ) -> tuple[int, int] | None:
        """In the runner: wait until `place`'s ticket is the oldest and a slot is free, then take the slot:
        (its index, the descriptor holding it, to keep open while the job runs); None once `stop()`."""
        assert place.ticket is not None
        started = time.monotonic()
        told = place.ahead  # what the launcher recorded
        while not stop():
            with self._lock():
                tickets = self._tickets()
                ahead = tickets.index(place.ticket) if place.ticket in tickets else 0
                taken = self._take_slot() if ahead == 0 else None
                if taken is not None:
                    (self.folder / place.ticket).unlink(missing_ok=True)
                    os.close(place.fd)
                    _write_admitted(job_dir, taken[0], self.limit, time.monotonic() - started)
                    return taken
            if ahead != told:
                on_position(ahead)
                told = ahead
            time.sleep(POLL_S)
        return None


@dataclass
class Turn:
    """A job's turn to run: the descriptor holding its slot (None outside the queue) and its thread share."""

    slot_fd: int | None
    threads: int
    line: str  # what the job got, for its log

    @property
    def fds(self) -> tuple[int, ...]:
        return () if self.slot_fd is None else (self.slot_fd,)

    def env(self) -> dict[str, str]:
        return dict.fromkeys(THREAD_ENVS, str(self.threads))


def take_turn(job_dir: Path, stop: Callable[[], bool]) -> Turn | None:
    """In the runner, before the command: the slot its launcher handed it, or its place in the queue kept
    (the record says `queued: N ahead`) until the slot is free. None when `stop()` turned true first."""
    text = os.environ.pop(QUEUE_ENV, "")  # popped: the job's own command must not inherit it
    cpus = machine_cpus()
    if not text:  # launched outside the queue (a platform without a limit, or by hand): the whole machine
        return Turn(None, cpus, share_line(cpus, cpus, None))
    info = json.loads(text)
    place = Place(int(info["fd"]), int(info["limit"]), Path(info["dir"]), info["slot"], info["ticket"], info["ahead"])
    slot_fd: int | None = place.fd
    if place.ticket is not None:
        store = JobStore(job_dir.parent)
        job_id = job_dir.name
        if not _launch_recorded(store, job_id, stop):
            return None
        queue = JobQueue(place.folder, place.limit)

        def position(ahead: int) -> None:
            with contextlib.suppress(TerminalStateError):
                store.mark(job_id, PENDING, queued_message(ahead, place.limit), "backend-hook")

        taken = queue.wait_turn(place, job_dir, stop, position)
        if taken is None:
            return None
        slot_fd = taken[1]
        obs = Observation(RUNNING, started_message(read_admitted(job_dir) or {}))
        if stop() or is_terminal(apply_observation(store, store.read(job_id), obs, "backend-hook")):
            return None  # canceled just as its turn came
    threads = thread_share(place.limit, cpus)
    return Turn(slot_fd, threads, share_line(threads, cpus, place.limit))


def _launch_recorded(store: JobStore, job_id: str, stop: Callable[[], bool]) -> bool:
    """Wait until the launcher has recorded this runner (its backend_ref): this runner's own transitions
    must come after that one. False if the record ends, `stop()` turns true or the launcher never records it."""
    deadline = time.monotonic() + RECORD_WAIT_S
    while not stop() and time.monotonic() < deadline:
        record = store.read(job_id)
        if is_terminal(record):
            return False
        if record.get("backend_ref"):
            return True
        time.sleep(0.05)
    return False
