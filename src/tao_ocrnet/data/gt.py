# SPDX-License-Identifier: Apache-2.0
"""The ground-truth (gt) file parser shared by dataset_convert, raw+gt datasets and deploy evaluate.

One line per sample: ``relative/path<TAB>label``. The reference splits on TAB in convert but on any
whitespace elsewhere, and BOMs occur in the wild (the reference choked on both), so the single rule here is:
strip a leading BOM; strip the line; split at the first TAB, else at the first run of whitespace.
Blank lines are ignored. A line without a label (or not valid UTF-8, or longer than MAX_LINE_BYTES) is
reported as a bad line with its 1-based line number; it never stops the parse.

An entry's path names a file inside the image folder (`entry_path`): an absolute path or one that climbs
out with `..` is refused, so a gt file cannot make a reader open files elsewhere.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

from tao_ocrnet.errors import DataError

__all__ = [
    "MAX_LINE_BYTES",
    "BadLine",
    "GtEntry",
    "GtParseResult",
    "entry_path",
    "iter_gt_file",
    "parse_gt_file",
    "parse_gt_line",
]

_BOM = b"\xef\xbb\xbf"
_WS_RUN = re.compile(r"\s+")
#: A gt line is a path and a word: anything longer is not one (and is never held in memory whole).
MAX_LINE_BYTES = 64 << 10


class GtEntry(NamedTuple):
    line_no: int
    rel_path: str
    label: str


class BadLine(NamedTuple):
    line_no: int
    reason: str


@dataclass
class GtParseResult:
    entries: list[GtEntry] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)


def parse_gt_line(line: str) -> tuple[str, str] | str | None:
    """Split one decoded line: ``(path, label)``, a reason string when bad, or None when blank."""
    line = line.strip()
    if not line:
        return None
    if "\t" in line:
        path, label = line.split("\t", 1)
    else:
        parts = _WS_RUN.split(line, maxsplit=1)
        path, label = (parts[0], parts[1]) if len(parts) == 2 else (parts[0], "")
    path, label = path.strip(), label.strip()
    if not label:
        return "no label (expected 'path<TAB>label')"
    if not path:
        return "no image path"
    return path, label


def entry_path(img_dir: str | Path, rel_path: str) -> Path | str:
    """The file a gt entry names inside `img_dir`, or the reason it is refused (absolute, or climbing out)."""
    if "\0" in rel_path:
        return "bad image path: it holds a NUL character"
    if os.path.isabs(rel_path):
        return f"bad image path: {rel_path} is absolute; paths are relative to the image folder"
    normal = os.path.normpath(rel_path)
    if normal == os.pardir or normal.startswith(os.pardir + os.sep):
        return f"bad image path: {rel_path} climbs out of the image folder"
    return Path(img_dir, normal)


def iter_gt_file(path: str | Path, key: str = "gt file") -> Iterator[GtEntry | BadLine]:
    """Stream a gt file line by line (constant memory), yielding entries and bad lines in order.

    A missing or unreadable file raises DataError here, not at the first ``next()``.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{key}: {p} does not exist or is not a file")
    try:
        f = p.open("rb")
    except OSError as exc:
        raise DataError(f"{key}: cannot read {p}: {exc}") from exc
    return _iter_lines(f)


def _iter_lines(f: BinaryIO) -> Iterator[GtEntry | BadLine]:
    with f:
        line_no = 0
        # Lines split at b"\n" only; the CR of CRLF files goes with strip().
        while raw := f.readline(MAX_LINE_BYTES + 1):
            line_no += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while (rest := f.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of the overlong line, a bounded chunk at a time
                yield BadLine(line_no, f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            if line_no == 1:
                raw = raw.removeprefix(_BOM)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield BadLine(line_no, "not valid UTF-8")
                continue
            parsed = parse_gt_line(text)
            if parsed is None:
                continue
            if isinstance(parsed, str):
                yield BadLine(line_no, parsed)
            else:
                yield GtEntry(line_no, parsed[0], parsed[1])


def parse_gt_file(path: str | Path, key: str = "gt file") -> GtParseResult:
    """Parse a whole gt file; `key` (e.g. ``dataset.train_gt_file``) is named in errors."""
    result = GtParseResult()
    for item in iter_gt_file(path, key=key):
        if isinstance(item, GtEntry):
            result.entries.append(item)
        else:
            result.bad_lines.append(item)
    return result
