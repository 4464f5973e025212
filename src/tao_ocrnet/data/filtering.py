# SPDX-License-Identifier: Apache-2.0
"""Sample validation: skip-and-count bad samples (the reference crashed or dropped them silently), or fail
fast in strict mode.

Counters live in shared memory so the counts made inside DataLoader worker processes (corrupt images
are only found when decoded) reach the main process, which writes them to status.json.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.context import get_spawning_popen
from typing import Any

from torch.utils.data import get_worker_info

from tao_ocrnet.errors import DataError

__all__ = ["REASONS", "SampleFilter", "SharedCounts", "SharedFlags"]

log = logging.getLogger(__name__)

#: Every reason a sample can be skipped for, in the order reported.
REASONS: tuple[str, ...] = (
    "label_too_long",
    "char_not_in_charset",
    "empty_label",
    "bad_gt_line",
    "missing_image",
    "missing_sample",
    "corrupt_image",
)


# Shared memory without locks (RawArray): a lock created under the default "fork" start method
# cannot be handed to "spawn"/"forkserver" workers, while raw shared memory can go to any of them.
# Each process writes only its own row of counters, so no increment is ever lost.
_MAX_SLOTS = 257  # the main process + up to 256 DataLoader workers


def _slot() -> int:
    info = get_worker_info()
    return 0 if info is None else 1 + info.id % (_MAX_SLOTS - 1)


class SharedCounts:
    """Integer counters by reason, summed over the main process and its DataLoader workers."""

    def __init__(self, reasons: Sequence[str] = REASONS):
        self._reasons = tuple(reasons)
        self._values = multiprocessing.RawArray(ctypes.c_longlong, _MAX_SLOTS * len(self._reasons))

    def add(self, reason: str, n: int = 1) -> None:
        self._values[_slot() * len(self._reasons) + self._reasons.index(reason)] += n

    def as_dict(self) -> dict[str, int]:
        k = len(self._reasons)
        totals = [0] * k
        for pos, v in enumerate(self._values):
            if v:
                totals[pos % k] += v
        return dict(zip(self._reasons, totals, strict=True))

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedCounts:
        return self  # a deep copy keeps counting into the same memory

    def __getstate__(self) -> dict[str, Any]:
        # Shared memory can only be handed to a process being started (DataLoader workers under
        # spawn / forkserver); any other pickle gets a detached snapshot of the counts.
        if get_spawning_popen() is not None:
            return {"reasons": self._reasons, "shared": self._values}
        return {"reasons": self._reasons, "snapshot": list(self._values)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._reasons = state["reasons"]
        if "shared" in state:
            self._values = state["shared"]
        else:
            self._values = multiprocessing.RawArray(ctypes.c_longlong, state["snapshot"])


class SharedFlags:
    """One shared byte per sample, set when the sample's image proved corrupt: every process skips
    it afterwards, and it is counted once however many workers meet it (in one epoch each sample
    goes to one worker, so two workers cannot discover the same one at the same time)."""

    def __init__(self, n: int):
        self._flags = multiprocessing.RawArray(ctypes.c_uint8, max(n, 1))

    def __getitem__(self, i: int) -> bool:
        return bool(self._flags[i])

    def test_and_set(self, i: int) -> bool:
        """Set flag i; True if it was not set before (the first discovery)."""
        if self._flags[i]:
            return False
        self._flags[i] = 1
        return True

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedFlags:
        return self

    def __getstate__(self) -> dict[str, Any]:
        if get_spawning_popen() is not None:  # see SharedCounts.__getstate__
            return {"shared": self._flags}
        return {"snapshot": bytes(self._flags)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "shared" in state:
            self._flags = state["shared"]
        else:
            self._flags = multiprocessing.RawArray(ctypes.c_uint8, state["snapshot"])


class SampleFilter:
    """Checks labels against the charset and `max_label_length` and counts every skip by reason.

    `charset=None` / `max_label_length=None` disable those checks (e.g. for inference folders).
    In strict mode the first bad sample raises DataError naming it instead of being skipped.
    """

    def __init__(
        self,
        charset: Iterable[str] | None = None,
        max_label_length: int | None = None,
        strict: bool = False,
    ):
        self.charset = frozenset(charset) if charset is not None else None
        self.max_label_length = max_label_length
        self.strict = strict
        self.counts = SharedCounts()
        # Only used up front (main process) to tell the user what went wrong.
        self.unknown_chars: Counter[str] = Counter()
        self.first_rejection: str | None = None

    def label_problem(self, label: str) -> tuple[str, str] | None:
        """(reason, human detail) if the label cannot be trained on, else None."""
        if not label:
            return "empty_label", "the label is empty"
        if self.max_label_length is not None and len(label) > self.max_label_length:
            return (
                "label_too_long",
                f"label {label!r} has {len(label)} characters (dataset.max_label_length is {self.max_label_length})",
            )
        if self.charset is not None and not self.charset.issuperset(label):
            missing = sorted(set(label) - self.charset)
            return (
                "char_not_in_charset",
                f"label {label!r} has characters outside the character list: {''.join(missing)!r}",
            )
        return None

    def reject(self, reason: str, where: str, detail: str) -> None:
        """Count one skipped sample, or raise in strict mode. `where` names the sample."""
        if self.strict:
            raise DataError(f"{where}: {detail} (strict mode: bad samples are errors, not skipped)")
        self.counts.add(reason)
        if self.first_rejection is None:
            self.first_rejection = f"{where}: {detail}"

    def accept_label(self, label: str, where: str | Callable[[], str]) -> bool:
        """True if the label is usable; otherwise count (or raise). `where` may be a callable so
        the sample's name is only built for bad samples (label scans touch millions)."""
        problem = self.label_problem(label)
        if problem is None:
            return True
        if problem[0] == "char_not_in_charset" and self.charset is not None:
            self.unknown_chars.update(set(label) - self.charset)
        self.reject(problem[0], where() if callable(where) else where, problem[1])
        return False

    def stats(self) -> dict[str, int]:
        """Skipped-sample counts by reason (all reasons, zeros included) plus `total`."""
        counts = self.counts.as_dict()
        counts["total"] = sum(counts.values())
        return counts

    def log_summary(self, name: str) -> None:
        """One warning with the counts (and the most common unknown characters) if anything was skipped."""
        counts = {k: v for k, v in self.stats().items() if v and k != "total"}
        if not counts:
            return
        msg = f"{name}: skipped samples: " + ", ".join(f"{k}={v}" for k, v in counts.items())
        if self.unknown_chars:
            top = "".join(ch for ch, _ in self.unknown_chars.most_common(20))
            msg += f"; characters not in the character list (most common first): {top!r}"
            if any(ch.isupper() for ch in top) and self.charset and not any(c.isupper() for c in self.charset):
                msg += " (labels are case-sensitive; the character list has no upper-case letters)"
        log.warning(msg)
