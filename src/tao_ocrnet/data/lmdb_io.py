# SPDX-License-Identifier: Apache-2.0
"""The OCR LMDB format (shared by dataset_convert and the reader) and how to find and open one.

Keys (reference-compatible): ``image-%09d`` -> original encoded image bytes, ``label-%09d`` -> UTF-8
label, ``num-samples`` -> decimal count. Indices are 1-based and contiguous.

LMDB reads go through a memory map, and a read past the end of a damaged file is a SIGBUS that kills the
process. So before a data.mdb is mapped, `check_lmdb` reads its pages with plain file reads and proves that
every read LMDB can make stays inside the file (a cut-short file, a broken page or a loop is a DataError
naming the folder); a value that points past the end is listed in `LmdbCheck.bad_keys` and never read.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

import lmdb
import numpy as np

from tao_ocrnet.errors import DataError
from tao_ocrnet.results.partial import is_partial

__all__ = [
    "DATA_FILE",
    "NUM_SAMPLES_KEY",
    "LmdbCheck",
    "check_lmdb",
    "find_lmdb_dirs",
    "image_key",
    "label_key",
    "open_readonly",
    "shared_readonly_env",
]

DATA_FILE = "data.mdb"
NUM_SAMPLES_KEY = b"num-samples"


def image_key(index: int) -> bytes:
    return b"image-%09d" % index


def label_key(index: int) -> bytes:
    return b"label-%09d" % index


def find_lmdb_dirs(root: str | Path) -> list[Path]:
    """Folders holding an LMDB at or under `root`, sorted.

    `root` may be the folder that directly holds data.mdb, the data.mdb file itself, or a parent
    of several LMDB folders (all are used, like the reference's hierarchical reader). The search skips
    unfinished outputs (`.partial-` folders a killed dataset_convert left): they are never data.
    """
    p = Path(root)
    if p.is_file() and p.name == DATA_FILE:
        return [p.parent]
    if not p.is_dir():
        return []
    if (p / DATA_FILE).is_file():
        return [p]
    found = []
    for folder, subdirs, files in os.walk(p, followlinks=True):
        subdirs[:] = [d for d in subdirs if not is_partial(d)]
        if DATA_FILE in files:
            found.append(Path(folder))
    return sorted(found, key=lambda d: d.relative_to(p).as_posix())


class CorruptLmdbError(DataError):
    """A data.mdb that LMDB cannot read safely (cut short, damaged, or not an LMDB)."""

    def __init__(self, folder: str | Path, what: str):
        super().__init__(f"{folder}: {what}; re-create it with dataset_convert (or copy it again)")


@dataclass(frozen=True)
class LmdbCheck:
    entries: int  # key/value pairs in the main database
    bad_keys: frozenset[bytes]  # keys whose value lies (partly) outside data.mdb: never read them
    page_size: int
    last_page: int  # what LMDB must see too once it maps the file


# liblmdb 0.9's on-disk layout (64-bit, little-endian), as far as `check_lmdb` needs it: a page header
# (pgno u64, pad u16, flags u16, lower u16, upper u16), then u16 node offsets; a node is (lo u16, hi u16,
# flags u16, ksize u16, key, data); the meta (pages 0 and 1) is magic, version, address, map size, the free
# and main databases (pad=page size u32, flags u16, depth u16, 4 page counts u64, entries u64, root u64),
# last page, transaction id.
_META = struct.Struct("<IIQQ" + "IHHQQQQQ" * 2 + "QQ")
_MAGIC, _VERSION = 0xBEEFC0DE, 1
_PAGE_HEADER, _NODE_HEADER = 16, 8
_P_BRANCH, _P_LEAF = 0x01, 0x02
_PAGE_KINDS = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40  # branch, leaf, overflow, meta, leaf2, sub-page
_F_BIGDATA = 0x01  # the node's data is the number of the overflow page that holds the value
_NO_PAGE = 2**64 - 1
_MAX_DEPTH = 32  # LMDB's own cursor stack limit
_BATCH_BYTES = 4 << 20  # tree pages checked together (numpy over all their nodes at once)


def _meta(buf: bytes, folder: Path, which: int) -> tuple[int, ...]:
    if len(buf) < _PAGE_HEADER + _META.size:
        raise CorruptLmdbError(folder, f"{DATA_FILE} is cut short (meta page {which} is incomplete)")
    meta = _META.unpack_from(buf, _PAGE_HEADER)
    if meta[0] != _MAGIC:
        raise CorruptLmdbError(folder, f"{DATA_FILE} is not an LMDB (meta page {which} has no LMDB signature)")
    if meta[1] != _VERSION:
        raise CorruptLmdbError(folder, f"{DATA_FILE} has LMDB format version {meta[1]}, not {_VERSION}")
    return meta


def _damaged(folder: Path, pgnos: list[int], row: np.ndarray, broken: np.ndarray, what: str) -> CorruptLmdbError:
    """The error for the first page of a batch that `broken` (one flag per node or page) marks."""
    return CorruptLmdbError(folder, f"{DATA_FILE} page {pgnos[int(row[np.argmax(broken)])]} is damaged ({what})")


def _check_pages(
    folder: Path, pgnos: list[int], buf: bytes, psize: int, pages: int
) -> tuple[list[int], int, list[bytes]]:
    """Check a batch of tree pages: (child page numbers of its branch pages, leaf entries, keys of bad values)."""
    count = len(pgnos)
    raw = np.frombuffer(buf, dtype=np.uint8)
    words = np.frombuffer(buf, dtype="<u2").reshape(count, psize // 2)
    flags, lower, upper = (words[:, i].astype(np.int64) for i in (5, 6, 7))
    kind = flags & _PAGE_KINDS
    broken = ((kind != _P_BRANCH) & (kind != _P_LEAF)) | (lower < _PAGE_HEADER) | (lower > upper) | (upper > psize)
    broken |= (lower % 2).astype(bool)
    if broken.any():
        raise _damaged(folder, pgnos, np.arange(count), broken, "bad page header")
    # One row per node: its page (row) and its offset there.
    n = (lower - _PAGE_HEADER) // 2
    row = np.repeat(np.arange(count), n)
    slot = np.arange(len(row)) - np.repeat(np.cumsum(n) - n, n)
    ptr = words[row, _PAGE_HEADER // 2 + slot].astype(np.int64)
    broken = (ptr < upper[row]) | (ptr > psize - _NODE_HEADER) | (ptr % 2).astype(bool)
    if broken.any():
        raise _damaged(folder, pgnos, row, broken, "a node outside the page")
    # LMDB keeps nodes 2-byte aligned, so a node header is 4 whole words: lo, hi, flags, key size.
    at = row * (psize // 2) + ptr // 2
    flat = words.reshape(-1)
    low, high, node_flags = (flat[at + i].astype(np.int64) for i in range(3))
    data_at = ptr + _NODE_HEADER + flat[at + 3]
    if (data_at > psize).any():
        raise _damaged(folder, pgnos, row, data_at > psize, "a key runs past the page")
    branch = kind[row] == _P_BRANCH
    children = (low | high << 16 | node_flags << 32)[branch]
    leaf = ~branch
    broken = leaf & (node_flags & ~_F_BIGDATA).astype(bool)
    if broken.any():
        raise _damaged(folder, pgnos, row, broken, "a node with duplicate or sub-database flags")
    dsize = low | high << 16
    big = leaf & (node_flags == _F_BIGDATA)
    if (big & (data_at + 8 > psize)).any():
        raise _damaged(folder, pgnos, row, big & (data_at + 8 > psize), "an overflow reference runs past the page")
    # An overflow value lies on the page its node's 8 data bytes name, after that page's header.
    start = (row * psize + data_at)[big]
    overflow = np.zeros(len(start), dtype=np.uint64)
    for i in range(8):
        overflow |= raw[start + i].astype(np.uint64) << np.uint64(8 * i)
    in_file = (overflow >= 2) & (overflow < pages)
    end = np.where(in_file, overflow, 0).astype(np.int64) * psize + _PAGE_HEADER + dsize[big]
    outside = leaf & ~big & (data_at + dsize > psize)
    outside[big] = ~in_file | (end > pages * psize)  # LMDB maps the pages in use, not the whole file
    bad = [
        bytes(raw[r * psize + p + _NODE_HEADER : r * psize + d])
        for r, p, d in zip(row[outside], ptr[outside], data_at[outside], strict=True)
    ]
    return [int(c) for c in children], int(leaf.sum()), bad


def _walk(fd: int, folder: Path, root: int, psize: int, pages: int) -> LmdbCheck:
    """Visit every branch and leaf page under `root`, a tree level at a time, and bound every offset LMDB
    will follow."""
    entries = 0
    bad: list[bytes] = []
    seen: set[int] = set()
    level = [root]
    for _depth in range(_MAX_DEPTH + 1):
        if not level:
            return LmdbCheck(entries, frozenset(bad), psize, pages - 1)
        following: list[int] = []
        step = max(1, _BATCH_BYTES // psize)
        for first in range(0, len(level), step):
            batch = level[first : first + step]
            for pgno in batch:
                if not 2 <= pgno < pages:
                    raise CorruptLmdbError(folder, f"{DATA_FILE} is damaged (a page number {pgno} outside the file)")
                if pgno in seen:
                    raise CorruptLmdbError(folder, f"{DATA_FILE} page {pgno} is damaged (the tree loops)")
                seen.add(pgno)
            buf = b"".join(os.pread(fd, psize, pgno * psize) for pgno in batch)
            if len(buf) < len(batch) * psize:
                raise CorruptLmdbError(folder, f"{DATA_FILE} is cut short (a page is incomplete)")
            children, leaf_entries, batch_bad = _check_pages(folder, batch, buf, psize, pages)
            following += children
            entries += leaf_entries
            bad += batch_bad
        level = following
    raise CorruptLmdbError(folder, f"{DATA_FILE} is damaged (the tree is deeper than {_MAX_DEPTH} levels)")


def _check_file(folder: Path) -> LmdbCheck:
    path = folder / DATA_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise CorruptLmdbError(folder, f"cannot read {DATA_FILE} ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CorruptLmdbError(folder, f"{DATA_FILE} is not a regular file")
        meta0 = _meta(os.pread(fd, _PAGE_HEADER + _META.size, 0), folder, 0)
        psize = meta0[4]
        if psize < 512 or psize > 1 << 16 or psize & (psize - 1):
            raise CorruptLmdbError(folder, f"{DATA_FILE} is damaged (page size {psize})")
        meta1 = _meta(os.pread(fd, _PAGE_HEADER + _META.size, psize), folder, 1)
        if meta1[4] != psize:
            raise CorruptLmdbError(folder, f"{DATA_FILE} is damaged (its meta pages disagree on the page size)")
        meta = meta1 if meta0[-1] < meta1[-1] else meta0  # the newer transaction, as LMDB picks it
        main_flags, main_root, last_page = meta[13], meta[19], meta[-2]
        pages = last_page + 1
        if st.st_size < pages * psize:
            raise CorruptLmdbError(
                folder,
                f"{DATA_FILE} is cut short: {st.st_size} bytes, but its header says {pages * psize} "
                f"({pages} pages of {psize} bytes), as after an interrupted copy",
            )
        if main_flags:
            raise CorruptLmdbError(
                folder, f"{DATA_FILE} is not an OCR LMDB (its main database has flags {main_flags:#x})"
            )
        if main_root == _NO_PAGE:
            return LmdbCheck(0, frozenset(), psize, last_page)
        try:
            return _walk(fd, folder, main_root, psize, pages)
        except OSError as exc:
            raise CorruptLmdbError(folder, f"cannot read {DATA_FILE} ({exc.strerror})") from None
    finally:
        os.close(fd)


_checked: dict[tuple[str, int, int, int], LmdbCheck] = {}


def check_lmdb(path: str | Path) -> LmdbCheck:
    """Prove that the LMDB in folder `path` can be read without leaving its data.mdb (see the module text).

    Raises CorruptLmdbError naming the folder and the damage. Cached per file version (inode, size, mtime),
    so DataLoader workers and repeated opens pay nothing.
    """
    folder = Path(path)
    try:
        st = os.stat(folder / DATA_FILE)
    except OSError as exc:
        raise CorruptLmdbError(folder, f"cannot read {DATA_FILE} ({exc.strerror})") from None
    key = (os.path.realpath(folder), st.st_ino, st.st_size, st.st_mtime_ns)
    found = _checked.get(key)
    if found is None:
        found = _checked[key] = _check_file(folder)
    return found


def open_readonly(path: str | Path) -> lmdb.Environment:
    """Open for reading: no lock file (works on read-only media), no readahead (random access)."""
    return lmdb.open(str(path), max_readers=126, readonly=True, lock=False, readahead=False, meminit=False)


# py-lmdb refuses to open one environment twice in a process, and handles must not be used
# across fork(). So readers share one handle per LMDB per process; a forked child (a DataLoader
# worker) closes the copies it inherited and opens its own.
_envs: dict[tuple[str, int], lmdb.Environment] = {}
_envs_pid = os.getpid()
_envs_lock = threading.Lock()


def shared_readonly_env(path: str | Path) -> lmdb.Environment:
    """This process's read-only handle on the LMDB in folder `path` (opened on first use)."""
    global _envs_pid
    real = os.path.realpath(path)
    # The data file's inode is part of the key: an LMDB replaced on disk (overwrite) is a new one.
    key = (real, os.stat(os.path.join(real, DATA_FILE)).st_ino)
    with _envs_lock:
        if _envs_pid != os.getpid():
            for inherited in _envs.values():
                with contextlib.suppress(lmdb.Error):
                    inherited.close()
            _envs.clear()
            _envs_pid = os.getpid()
        env = _envs.get(key)
        if env is None:
            check = check_lmdb(real)  # before the map: a damaged file must never be read through it
            env = open_readonly(real)
            if (env.stat()["psize"], env.info()["last_pgno"]) != (check.page_size, check.last_page):
                env.close()  # LMDB read the header otherwise than the check did: trust neither
                raise CorruptLmdbError(real, f"{DATA_FILE} is damaged (its meta pages disagree)")
            _envs[key] = env
        return env
