# SPDX-License-Identifier: Apache-2.0
"""Datasets: LMDB, raw images + gt file, and a plain image folder (inference).

Labelled samples are ``(image_tensor, label)``; folder samples are ``(image_tensor | None, path)``.
Labels are validated up front at construction (they are small), so ``len()`` is exact and no bad
label is ever trained on. Corrupt images are only found when decoded: with ``on_corrupt="replace"``
(training) the next valid sample is returned instead; with ``"drop"`` the image comes back as None
and the collate functions drop it. Either way it is counted once, across worker processes.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeAlias

import lmdb
import numpy as np
from PIL import Image
from torch.utils.data import ConcatDataset, Dataset

from tao_ocrnet.config.fields import is_unset
from tao_ocrnet.data.filtering import SampleFilter, SharedFlags
from tao_ocrnet.data.gt import GtEntry, entry_path, iter_gt_file
from tao_ocrnet.data.images import (
    ImageDecodeError,
    ImageRefusedError,
    decode_image,
    image_file_problem,
    list_images,
    load_image,
    read_image_file,
)
from tao_ocrnet.data.lmdb_io import (
    DATA_FILE,
    NUM_SAMPLES_KEY,
    check_lmdb,
    find_lmdb_dirs,
    image_key,
    label_key,
    shared_readonly_env,
)
from tao_ocrnet.errors import DataError

__all__ = [
    "ImageFolderDataset",
    "LabeledData",
    "LabeledDataset",
    "LmdbDataset",
    "OnCorrupt",
    "RawGtDataset",
    "build_labeled_dataset",
]

log = logging.getLogger(__name__)

OnCorrupt = Literal["replace", "drop"]
Transform = Callable[[Image.Image], Any]


class LabeledDataset(Dataset):
    """Shared decode / skip / transform logic; subclasses provide `_read(j) -> (bytes, label, name)`."""

    def __init__(
        self,
        transform: Transform | None,
        input_channel: int,
        sample_filter: SampleFilter | None,
        on_corrupt: OnCorrupt,
        where: str,
    ):
        if on_corrupt not in ("replace", "drop"):
            raise ValueError(f"on_corrupt must be 'replace' or 'drop', not {on_corrupt!r}")
        self.transform = transform
        self.input_channel = input_channel
        self.sample_filter = sample_filter if sample_filter is not None else SampleFilter()
        self.on_corrupt = on_corrupt
        self.where = where
        self._corrupt: SharedFlags | None = None  # created once len() is known

    def _init_flags(self) -> None:
        self._corrupt = SharedFlags(len(self))

    def __len__(self) -> int:
        raise NotImplementedError

    def _read(self, j: int) -> tuple[bytes, str, str]:
        raise NotImplementedError

    def _mark_corrupt(self, j: int, exc: ImageDecodeError) -> None:
        assert self._corrupt is not None
        if self._corrupt.test_and_set(j):
            self.sample_filter.reject("corrupt_image", self.where, str(exc))  # raises when strict
            log.warning("skipping corrupt image %s", exc)

    #: Evaluation sets yield (image, label, sample_name) so per-sample reports can name each sample.
    return_names = False

    def _item(self, img: Any, label: str, j: int) -> tuple[Any, ...]:
        return (img, label, self.sample_name(j)) if self.return_names else (img, label)

    def __getitem__(self, i: int) -> tuple[Any, ...]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(i)
        assert self._corrupt is not None
        i %= n
        for step in range(n):
            j = (i + step) % n
            if self._corrupt[j]:
                if self.on_corrupt == "drop":
                    return self._item(None, self._read_label(j), j)
                continue
            data, label, name = self._read(j)
            try:
                img = decode_image(data, self.input_channel, source=name)
            except ImageDecodeError as exc:
                self._mark_corrupt(j, exc)
                if self.on_corrupt == "drop":
                    return self._item(None, label, j)
                continue
            return self._item(self.transform(img) if self.transform is not None else img, label, j)
        raise DataError(f"{self.where}: none of the {n} samples has a decodable image")

    def _read_label(self, j: int) -> str:
        return self._read(j)[1]

    def sample_name(self, j: int) -> str:
        """How reports name sample j (an LMDB key, or the image path)."""
        return self._read(j)[2]


class LmdbDataset(LabeledDataset):
    """One OCR LMDB (`root` is the folder holding data.mdb, or data.mdb itself); read-only."""

    def __init__(
        self,
        root: str | Path,
        transform: Transform | None = None,
        input_channel: int = 1,
        sample_filter: SampleFilter | None = None,
        on_corrupt: OnCorrupt = "replace",
        key: str = "dataset.val_dataset_dir",
    ):
        p = Path(root)
        if p.is_file() and p.name == DATA_FILE:
            p = p.parent
        if not (p / DATA_FILE).is_file():
            raise DataError(f"{key}: {root} is not a folder holding an LMDB ({DATA_FILE})")
        self.root = p
        super().__init__(transform, input_channel, sample_filter, on_corrupt, where=f"{key}: {self.root}")
        self._indices = self._scan_labels(key)
        self._init_flags()

    def _scan_labels(self, key: str) -> np.ndarray:
        """Read only the labels (one sequential cursor pass) and keep the indices that pass the filter.

        `check_lmdb` runs first (in `shared_readonly_env`): a damaged data.mdb is an error here, before any
        read through the memory map, and values it found pointing outside the file are never read.
        """
        try:
            env = shared_readonly_env(self.root)
            check = check_lmdb(self.root)  # cached: shared_readonly_env ran it before mapping the file
        except DataError as exc:
            raise DataError(f"{key}: {exc}") from None
        except (lmdb.Error, OSError) as exc:
            raise DataError(f"{key}: cannot open the LMDB in {self.root}: {exc}") from exc
        self._bad_keys = check.bad_keys
        try:
            return self._scan(env, check.entries, key)
        except lmdb.Error as exc:  # a page of the wrong kind, say: LMDB finds it, and it is not a crash
            raise DataError(
                f"{key}: {self.root}: {DATA_FILE} is damaged ({exc}); re-create it with dataset_convert"
            ) from None

    def _scan(self, env: lmdb.Environment, entries: int, key: str) -> np.ndarray:
        keep: list[int] = []
        with env.begin(buffers=False) as txn:
            raw = None if NUM_SAMPLES_KEY in self._bad_keys else txn.get(NUM_SAMPLES_KEY)
            if raw is None:
                raise DataError(f"{key}: {self.root} is an LMDB without 'num-samples': not an OCR dataset")
            try:
                num = int(raw.decode("ascii"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise DataError(f"{key}: {self.root}: bad num-samples value {raw[:40]!r}") from exc
            # Each sample is two keys, so a count beyond the keys there are is damage, not data.
            if not 0 <= num <= entries:
                raise DataError(
                    f"{key}: {self.root}: num-samples is {num}, but {DATA_FILE} holds {entries} keys; the LMDB is "
                    "damaged: re-create it with dataset_convert"
                )
            seen = np.zeros(num + 1, dtype=bool)
            cursor = txn.cursor()
            if cursor.set_range(b"label-"):
                # Keys only: a value is read (cursor.value()) only once its key is known to be safe.
                for k in cursor.iternext(keys=True, values=False):
                    if not k.startswith(b"label-"):
                        break
                    try:
                        idx = int(k[6:])
                    except ValueError:
                        continue
                    if not 1 <= idx <= num or k in self._bad_keys:
                        continue  # a bad value: counted below as a missing sample
                    seen[idx] = True
                    try:
                        label = cursor.value().decode("utf-8")
                    except UnicodeDecodeError:
                        label = ""  # counted as an empty label: nothing usable to train on
                    if self.sample_filter.accept_label(label, functools.partial(self._label_where, idx)):
                        keep.append(idx)
            missing = np.flatnonzero(~seen[1:]) + 1
            if len(missing):
                first = f"{self.where} sample {int(missing[0])}"
                self.sample_filter.reject("missing_sample", first, "the label key is missing or damaged")
                if len(missing) > 1:
                    self.sample_filter.counts.add("missing_sample", len(missing) - 1)
        return np.asarray(keep, dtype=np.int64)

    def _label_where(self, idx: int) -> str:
        return f"{self.where} sample {idx} (label-{idx:09d})"

    def __len__(self) -> int:
        return len(self._indices)

    def sample_name(self, j: int) -> str:
        return f"{self.root}/{image_key(int(self._indices[j])).decode()}"

    def _txn(self) -> lmdb.Transaction[bytes]:
        # One handle per process (DataLoader workers get their own after fork), see lmdb_io.
        return shared_readonly_env(self.root).begin(buffers=False)

    def _read(self, j: int) -> tuple[bytes, str, str]:
        idx = int(self._indices[j])
        data: bytes | None = None
        with self._txn() as txn:
            try:
                if image_key(idx) not in self._bad_keys:  # see check_lmdb: such a value is never read
                    data = txn.get(image_key(idx))
                label = txn.get(label_key(idx), b"").decode("utf-8")
            except (lmdb.Error, UnicodeDecodeError):
                data, label = None, ""
        name = f"{self.root} sample {idx} ({image_key(idx).decode()})"
        if data is None:
            # Treated like an undecodable image: counted once, then skipped or dropped.
            data = b""
        return data, label, name


class RawGtDataset(LabeledDataset):
    """Raw image files listed by a gt file (paths relative to `img_dir`)."""

    def __init__(
        self,
        img_dir: str | Path,
        gt_file: str | Path,
        transform: Transform | None = None,
        input_channel: int = 1,
        sample_filter: SampleFilter | None = None,
        on_corrupt: OnCorrupt = "replace",
        key: str = "dataset.val_dataset_dir",
        gt_key: str = "dataset.val_gt_file",
    ):
        self.img_dir = Path(img_dir)
        if not self.img_dir.is_dir():
            raise DataError(f"{key}: {self.img_dir} does not exist or is not a folder")
        super().__init__(transform, input_channel, sample_filter, on_corrupt, where=f"{gt_key}: {gt_file}")
        paths: list[str] = []
        labels: list[str] = []
        for item in iter_gt_file(gt_file, key=gt_key):
            where = f"{self.where} line {item.line_no}"
            if not isinstance(item, GtEntry):
                self.sample_filter.reject("bad_gt_line", where, item.reason)
                continue
            if not self.sample_filter.accept_label(item.label, where):
                continue
            # Only files inside the image folder, and only regular files of sane size (never a FIFO or device).
            path = entry_path(self.img_dir, item.rel_path)
            problem = path if isinstance(path, str) else image_file_problem(path)
            if problem is not None:
                self.sample_filter.reject("missing_image", where, f"image {item.rel_path}: {problem}")
                continue
            paths.append(str(path))
            labels.append(item.label)
        self._paths = paths
        self._labels = labels
        self._init_flags()

    def __len__(self) -> int:
        return len(self._paths)

    def _read(self, j: int) -> tuple[bytes, str, str]:
        path = self._paths[j]
        try:
            data = read_image_file(path)
        except ImageRefusedError:
            data = b""  # vanished or swapped since construction: handled like a corrupt image
        return data, self._labels[j], path

    def _read_label(self, j: int) -> str:
        return self._labels[j]

    def sample_name(self, j: int) -> str:
        return self._paths[j]


class ImageFolderDataset(Dataset):
    """Every image under `directory` (recursive, sorted); yields ``(tensor | None, path)``.

    A corrupt image yields None (never a substitute: its path would be wrong); `collate_paths`
    reports it as skipped.
    """

    def __init__(
        self,
        directory: str | Path,
        transform: Transform | None = None,
        input_channel: int = 1,
        sample_filter: SampleFilter | None = None,
        key: str = "inference.inference_dataset_dir",
    ):
        self.paths = [str(p) for p in list_images(directory, recursive=True, key=key)]
        if not self.paths:
            raise DataError(f"{key}: {directory} holds no .jpg/.jpeg/.png/.bmp images")
        self.transform = transform
        self.input_channel = input_channel
        self.sample_filter = sample_filter if sample_filter is not None else SampleFilter()
        self.where = f"{key}: {directory}"

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[Any, str]:
        path = self.paths[i]
        try:
            img = load_image(path, self.input_channel)
        except ImageDecodeError as exc:
            log.warning("skipping corrupt image %s", exc)
            self.sample_filter.reject("corrupt_image", self.where, str(exc))
            return None, path
        return (self.transform(img) if self.transform is not None else img), path


# What `build_labeled_dataset` returns: one labelled dataset, or several concatenated.
LabeledData: TypeAlias = LabeledDataset | ConcatDataset[Any]


def _as_dir_list(dirs: str | Path | Sequence[str | Path] | None) -> list[str]:
    if dirs is None:
        return []
    if isinstance(dirs, str | Path):
        dirs = [dirs]
    return [str(d) for d in dirs if not is_unset(str(d))]


def build_labeled_dataset(
    dirs: str | Path | Sequence[str | Path] | None,
    gt_file: str | Path | None,
    *,
    transform: Transform | None,
    input_channel: int,
    sample_filter: SampleFilter,
    key: str = "dataset.train_dataset_dir",
    gt_key: str = "dataset.train_gt_file",
    on_corrupt: OnCorrupt = "replace",
) -> LabeledData:
    """LMDB(s) when `gt_file` is unset, else raw images + gt (which needs exactly one folder).

    Every folder is used (the reference silently used only the first). A folder
    may hold data.mdb directly or hold several LMDB sub-folders. The filter's counts are shared by
    all parts, and a result with no usable sample is an error.
    """
    folders = _as_dir_list(dirs)
    if not folders:
        raise DataError(f"{key} is not set")
    for d in folders:
        if not Path(d).exists():
            raise DataError(f"{key}: {d} does not exist")
    parts: list[LabeledDataset] = []
    if not is_unset(None if gt_file is None else str(gt_file)):
        if len(folders) != 1:
            raise DataError(f"{gt_key} is set, so {key} must name exactly one image folder (it names {len(folders)})")
        parts.append(
            RawGtDataset(
                folders[0], str(gt_file), transform, input_channel, sample_filter, on_corrupt, key=key, gt_key=gt_key
            )
        )
    else:
        for d in folders:
            lmdb_dirs = find_lmdb_dirs(d)
            if not lmdb_dirs:
                raise DataError(
                    f"{key}: {d} holds no LMDB (data.mdb); convert it with dataset_convert, "
                    f"or set {gt_key} to read raw images"
                )
            parts.extend(
                LmdbDataset(ld, transform, input_channel, sample_filter, on_corrupt, key=key) for ld in lmdb_dirs
            )
    dataset: LabeledData = parts[0] if len(parts) == 1 else ConcatDataset(parts)
    if len(dataset) == 0:
        stats = {k: v for k, v in sample_filter.stats().items() if v}
        first = f"; first: {sample_filter.first_rejection}" if sample_filter.first_rejection else ""
        raise DataError(f"{key}: no usable samples in {', '.join(folders)} (skipped: {stats}{first})")
    return dataset
