# SPDX-License-Identifier: Apache-2.0
"""dataset_convert: raw images + gt file -> OCR LMDB (reference key layout, see `lmdb_io`).

- Streams the gt file: memory does not grow with the dataset (commits every 1000 samples).
- Stores the original encoded bytes (no re-encode) after a full decode check; missing and
  undecodable images, and gt lines without a label, are skipped and listed in
  ``error_image_log.txt`` (line number, path, reason) in the output folder. So are entries that name a file
  outside the image folder, a FIFO or device, a file over 32 MiB or an image over the pixel limit
  (`tao_ocrnet.data.gt.entry_path`, `tao_ocrnet.data.images.read_image_file`): never opened or decoded.
- A full or failing disk is one DataError naming the output folder; the partial folder is removed.
- Writes into a locked `.partial-` sibling folder (`tao_ocrnet.results.partial`) and moves the result in at
  the end (data.mdb last), so a failed or interrupted run never leaves a half-written LMDB where a reader
  would find it; discovery skips partial folders, and the next run removes the ones killed runs left.
- Refuses to replace an existing LMDB unless `overwrite` is set.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import lmdb
from tqdm import tqdm

from tao_ocrnet.data.gt import BadLine, entry_path, iter_gt_file
from tao_ocrnet.data.images import ImageDecodeError, ImageRefusedError, decode_image, read_image_file
from tao_ocrnet.data.lmdb_io import DATA_FILE, NUM_SAMPLES_KEY, image_key, label_key
from tao_ocrnet.errors import DataError
from tao_ocrnet.results.partial import clean_stale_partials, partial_dir

__all__ = ["ERROR_LOG_NAME", "ConvertSummary", "SkippedSample", "convert_to_lmdb"]

log = logging.getLogger(__name__)

ERROR_LOG_NAME = "error_image_log.txt"
COMMIT_EVERY = 1000
#: Map sizes tried in order: LMDB files are sparse on Linux, so 1 TiB costs nothing, but some
#: systems (small address space, ulimit -v) refuse it; the map also grows on MapFullError.
_MAP_SIZES = (1 << 40, 1 << 36, 1 << 32, 1 << 30)
#: Only this many skipped samples are kept in memory; the error log has all of them.
_MAX_SKIPPED_KEPT = 1000
_LMDB_FILES = ("lock.mdb", ERROR_LOG_NAME, DATA_FILE)  # moved in this order: data.mdb last


@dataclass(frozen=True)
class SkippedSample:
    line_no: int
    path: str
    reason: str


@dataclass
class ConvertSummary:
    out_dir: Path
    written: int = 0
    num_skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    #: The first skipped samples (at most 1000); `error_log` lists every one.
    skipped: list[SkippedSample] = field(default_factory=list)
    error_log: Path | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "out_dir": str(self.out_dir),
            "written": self.written,
            "skipped": self.num_skipped,
            "skipped_by_reason": dict(self.skipped_by_reason),
            "error_log": str(self.error_log) if self.error_log else None,
        }


def _count_lines(path: Path) -> int:
    n = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def _open_writable(path: Path) -> lmdb.Environment:
    last: lmdb.Error | None = None
    for size in _MAP_SIZES:
        try:
            return lmdb.open(str(path), map_size=size, subdir=True, meminit=False)
        except lmdb.Error as exc:  # e.g. ENOMEM on a capped address space
            last = exc
    raise DataError(f"cannot create an LMDB in {path}: {last}")


def _reason_kind(reason: str) -> str:
    return reason.split(" (", 1)[0].split(":", 1)[0]


class _Writer:
    """Puts samples in batches of COMMIT_EVERY and grows the map if it ever fills."""

    def __init__(self, env: lmdb.Environment):
        self.env = env
        self.pending: list[tuple[bytes, bytes]] = []

    def put(self, key: bytes, value: bytes) -> None:
        self.pending.append((key, value))

    def commit(self) -> None:
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    for k, v in self.pending:
                        txn.put(k, v)
                break
            except lmdb.MapFullError:
                self.env.set_mapsize(self.env.info()["map_size"] * 2)
        self.pending.clear()


def convert_to_lmdb(
    img_dir: str | Path,
    gt_file: str | Path,
    out_dir: str | Path,
    overwrite: bool = False,
    *,
    img_dir_key: str = "dataset_convert.input_img_dir",
    gt_key: str = "dataset_convert.gt_file",
    overwrite_flag: str = "overwrite=True",
    progress: bool = True,
) -> ConvertSummary:
    """Convert `img_dir` + `gt_file` into an LMDB in `out_dir` (created; other files there are kept).

    Raises DataError for a missing input, an existing LMDB without `overwrite`, or no valid sample.
    The `*_key` / `overwrite_flag` strings only shape error messages.
    """
    img_root = Path(img_dir)
    gt_path = Path(gt_file)
    out = Path(out_dir)
    if not img_root.is_dir():
        raise DataError(f"{img_dir_key}: {img_root} does not exist or is not a folder")
    if not gt_path.is_file():
        raise DataError(f"{gt_key}: {gt_path} does not exist or is not a file")
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in clean_stale_partials(out):
        log.warning("dataset_convert: removed %s, the unfinished output of a run that was killed", stale)
    if (out / DATA_FILE).exists() and not overwrite:
        raise DataError(f"{out} already holds an LMDB ({DATA_FILE}); refusing to overwrite it without {overwrite_flag}")

    total_lines = _count_lines(gt_path)
    lines = iter_gt_file(gt_path, key=gt_key)
    summary = ConvertSummary(out_dir=out)
    reasons: Counter[str] = Counter()
    # A sibling on the same filesystem, so that the final move is a rename.
    with _write_errors(out), partial_dir(out) as tmp:
        env = _open_writable(tmp)
        try:
            with (tmp / ERROR_LOG_NAME).open("w", encoding="utf-8") as errlog:

                def skip(line_no: int, path: str, reason: str) -> None:
                    errlog.write(f"{line_no}\t{path}\t{reason}\n")
                    reasons[_reason_kind(reason)] += 1
                    summary.num_skipped += 1
                    if len(summary.skipped) < _MAX_SKIPPED_KEPT:
                        summary.skipped.append(SkippedSample(line_no, path, reason))

                writer = _Writer(env)
                bar = tqdm(total=total_lines, desc="dataset_convert", unit="line", disable=not progress)
                last_line = 0
                with bar:
                    for item in lines:
                        bar.update(item.line_no - last_line)
                        last_line = item.line_no
                        if isinstance(item, BadLine):
                            skip(item.line_no, "", f"bad gt line: {item.reason}")
                            continue
                        path = entry_path(img_root, item.rel_path)
                        if isinstance(path, str):  # outside the image folder: never opened
                            skip(item.line_no, item.rel_path, path)
                            continue
                        try:
                            data = read_image_file(path)
                            decode_image(data, 1, source=str(path))
                        except ImageRefusedError as exc:  # missing, not a regular file, too big
                            skip(item.line_no, str(path), exc.reason)
                            continue
                        except ImageDecodeError as exc:
                            skip(item.line_no, str(path), f"corrupt image: {exc.__cause__ or exc}")
                            continue
                        summary.written += 1
                        writer.put(image_key(summary.written), data)
                        writer.put(label_key(summary.written), item.label.encode("utf-8"))
                        if summary.written % COMMIT_EVERY == 0:
                            writer.commit()
                    bar.update(max(0, total_lines - last_line))
                writer.put(NUM_SAMPLES_KEY, str(summary.written).encode("ascii"))
                writer.commit()
            env.sync(True)
        finally:
            env.close()
        if summary.written == 0:
            raise DataError(
                f"{gt_key}: {gt_path} gave no valid sample ({summary.num_skipped} skipped: {dict(reasons)})"
            )
        if summary.num_skipped == 0:
            (tmp / ERROR_LOG_NAME).unlink()
        _publish(tmp, out)
    summary.skipped_by_reason = dict(reasons)
    summary.error_log = out / ERROR_LOG_NAME if summary.num_skipped else None
    if summary.num_skipped:
        log.warning(
            "dataset_convert: skipped %d of %d samples (%s); see %s",
            summary.num_skipped,
            summary.num_skipped + summary.written,
            ", ".join(f"{k}: {v}" for k, v in reasons.items()),
            summary.error_log,
        )
    log.info("dataset_convert: wrote %d samples to %s", summary.written, out)
    return summary


@contextlib.contextmanager
def _write_errors(out: Path) -> Iterator[None]:
    """A full or failing disk (LMDB reports ENOSPC as an I/O error) is one clear line naming the output folder;
    the partial folder is gone by then."""
    try:
        yield
    except (lmdb.Error, OSError) as exc:
        detail = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and exc.filename else str(exc)
        raise DataError(
            f"dataset_convert could not write the LMDB in {out} ({detail}); is the disk full? Free space there or "
            "choose another dataset_convert.results_dir, then run it again (nothing was left behind)"
        ) from None


def _publish(tmp: Path, out: Path) -> None:
    """Move the finished LMDB into `out`: a rename when `out` is new, else file by file, data.mdb last."""
    if not out.exists():
        try:
            os.replace(tmp, out)
            return
        except OSError:
            pass  # e.g. created meanwhile: fall back to moving files
    out.mkdir(parents=True, exist_ok=True)
    if not (tmp / ERROR_LOG_NAME).exists():
        # A stale log from an earlier (overwritten) run would describe the wrong data.
        (out / ERROR_LOG_NAME).unlink(missing_ok=True)
    for name in _LMDB_FILES:
        src = tmp / name
        if src.exists():
            os.replace(src, out / name)
