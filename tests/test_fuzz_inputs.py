# SPDX-License-Identifier: Apache-2.0
"""Fuzzing the data paths (hypothesis): malformed gt files, archives and LMDBs, fed to the functions the CLI and
the jobs layer call (`parse_gt_file`, `convert_to_lmdb`, `RawGtDataset`, `inspect_archive`, `extract_once`,
`LmdbDataset`). Whatever the input: a result or one DataError, never another exception (a traceback), a hang
(a deadline) or a write outside the input's folder. Examples are derandomized, so every run tries the same ones."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tarfile
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import lmdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tao_ocrnet.data.convert import convert_to_lmdb
from tao_ocrnet.data.datasets import LmdbDataset, RawGtDataset
from tao_ocrnet.data.filtering import SampleFilter
from tao_ocrnet.data.gt import parse_gt_file
from tao_ocrnet.data.images import decode_image
from tao_ocrnet.data.lmdb_io import image_key
from tao_ocrnet.datasources.archives import ArchiveError, extract_once, inspect_archive
from tao_ocrnet.errors import DataError

from data_fixtures import ALNUM36, image_bytes
from guards import deadline

FUZZ = settings(
    max_examples=50,
    deadline=None,  # the deadline() guard below catches hangs; timings vary on a shared machine
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SENTINEL_SIZE = (77, 13)  # the image outside the folder: if a sample ever has this size, it was read


def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every path under `root` (links not followed) with its size and mtime, `skip`'s subtree left out."""
    out = {}
    for folder, dirs, files in os.walk(root):
        if skip is not None:
            dirs[:] = [d for d in dirs if Path(folder, d) != skip and not d.startswith(f".{skip.name}.")]
        for name in [*dirs, *files]:
            st_ = os.lstat(os.path.join(folder, name))
            out[os.path.relpath(os.path.join(folder, name), root)] = (st_.st_size, st_.st_mtime_ns)
    return out


@pytest.fixture
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def fresh(base: Path) -> Path:
    """A new empty folder per example (hypothesis reuses a test's fixtures for all of its examples)."""
    return Path(tempfile.mkdtemp(dir=base))


# --- gt files ------------------------------------------------------------------------------------------------

PIECES = ["w0.png", "w1.png", "sub/w2.png", "sub/../w0.png", "../outside.png", "<abs>", "fifo.png", "zero.png",
          "missing.png", "sub", "", ".", "..", "bad.png", "n" * 300 + ".png", "w0.png\x00", "./w1.png"]  # fmt: skip
line = st.tuples(
    st.one_of(st.sampled_from(PIECES), st.text(max_size=12)),
    st.sampled_from(["\t", " ", "\t\t", ""]),
    st.one_of(st.sampled_from(["abc", "a b", "", "ü", "x" * 40]), st.text(max_size=12)),
    st.sampled_from(["\n", "\r\n", ""]),
)
gt_text = st.one_of(
    st.tuples(st.booleans(), st.lists(line, max_size=12)),
    st.binary(max_size=400),
)


def image_folder(root: Path) -> tuple[Path, Path]:
    """Images, a sub-folder, a FIFO, /dev/zero and a corrupt file named .png; a readable image outside."""
    imgs = root / "imgs"
    (imgs / "sub").mkdir(parents=True)
    for i, rel in enumerate(("w0.png", "w1.png", "sub/w2.png")):
        (imgs / rel).write_bytes(image_bytes(30 + 4 * i, 16, seed=i))
    (imgs / "bad.png").write_bytes(b"\x89PNG not really")
    os.mkfifo(imgs / "fifo.png")
    (imgs / "zero.png").symlink_to("/dev/zero")
    outside = root / "outside.png"
    outside.write_bytes(image_bytes(*SENTINEL_SIZE))
    return imgs, outside


@FUZZ
@given(text=gt_text)
def test_malformed_gt_files(workdir, text):
    root = fresh(workdir)
    imgs, outside = image_folder(root)
    if isinstance(text, bytes):
        data = text
    else:
        bom, lines = text
        body = "".join(p.replace("<abs>", str(outside)) + sep + label + end for p, sep, label, end in lines)
        data = (b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8", "surrogatepass")
    gt = root / "gt.txt"
    gt.write_bytes(data)
    before = snapshot(root)
    out = root / "lmdb"
    with deadline(30):
        parse_gt_file(gt)  # never raises for content
        with contextlib.suppress(DataError):
            convert_to_lmdb(imgs, gt, out, progress=False)
        try:
            dataset = RawGtDataset(imgs, gt, sample_filter=SampleFilter(), on_corrupt="drop")
            sizes = [item[0].size for item in (dataset[i] for i in range(len(dataset))) if item[0] is not None]
        except DataError:
            sizes = []
    assert snapshot(root, skip=out) == before  # nothing written outside the output folder
    assert SENTINEL_SIZE not in sizes
    if (out / "data.mdb").is_file():
        env = lmdb.open(str(out), readonly=True, lock=False)
        with env.begin() as txn:
            count = int(txn.get(b"num-samples"))
            stored = [decode_image(txn.get(image_key(i))).size for i in range(1, count + 1)]
        env.close()
        assert SENTINEL_SIZE not in stored  # the image outside the folder was never read


# --- archives ------------------------------------------------------------------------------------------------

NAMES = ["a.png", "d/b.png", "d", "./c.png", "../up.png", "/abs.png", "d/../e.png", "x" * 300, "", "l", "d/l2",
         "h", "a.png/in"]  # fmt: skip
TARGETS = ["a.png", "../x", "/etc/passwd", "", "d", ".", "d/b.png", "../../..", "l"]
member = st.tuples(
    st.sampled_from(NAMES),
    st.sampled_from(["file", "dir", "symlink", "hardlink", "fifo", "chr"]),
    st.sampled_from(TARGETS),
    st.binary(max_size=40),
)
damage = st.one_of(
    st.none(),
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 1 << 20)),
)
_TAR_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
              "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE}  # fmt: skip
_ZIP_MODES = {"file": 0o100644, "dir": 0o040755, "symlink": 0o120777, "hardlink": 0o100644, "fifo": 0o010644,
              "chr": 0o020644}  # fmt: skip


def write_archive(path: Path, members: list[tuple[str, str, str, bytes]]) -> None:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": duplicates are one of the cases
            for name, kind, target, payload in members:
                info = zipfile.ZipInfo(f"{name or 'unnamed'}{'/' if kind == 'dir' else ''}")
                info.external_attr = _ZIP_MODES[kind] << 16
                zf.writestr(info, target.encode() if kind == "symlink" else payload)
        return
    with tarfile.open(path, "w:gz" if path.name.endswith(".gz") else "w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, target, payload in members:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = _TAR_TYPES[kind], target
            info.size = len(payload) if kind == "file" else 0
            tf.addfile(info, io.BytesIO(payload) if kind == "file" else None)


@settings(FUZZ, max_examples=150)
@given(members=st.lists(member, max_size=8), suffix=st.sampled_from([".tar.gz", ".tar", ".zip"]), harm=damage)
def test_malformed_archives(workdir, members, suffix, harm):
    root = fresh(workdir)
    archive = root / f"data{suffix}"
    write_archive(archive, members)
    if harm is not None:
        raw = bytearray(archive.read_bytes())
        at = harm[1] % max(len(raw), 1)
        if harm[0] == "flip" and raw:
            raw[at] ^= harm[2]
        else:
            del raw[at:]
        archive.write_bytes(bytes(raw))
    stage = root / "stage"
    dest = stage / "data"
    before = snapshot(root)
    with deadline(30):
        for attempt in (inspect_archive, extract_once):
            with contextlib.suppress(ArchiveError):
                attempt(archive, dest)
    assert snapshot(root, skip=stage) == before  # nothing written outside the staging folder
    leftovers = [p.name for p in stage.iterdir() if p.name != "data"] if stage.exists() else []
    assert all(name.endswith(".lock") for name in leftovers)  # no half-extracted folder
    if dest.exists():  # extracted: only files, folders and links that stay inside
        real = os.path.realpath(dest)
        for folder, dirs, files in os.walk(dest):
            for name in [*dirs, *files]:
                path = os.path.join(folder, name)
                target = os.path.realpath(path)
                assert os.path.commonpath([real, target]) == real, f"{path} leads outside: {target}"
                mode = os.lstat(path).st_mode
                assert stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode), f"{path} is special"


# --- LMDBs ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_lmdb(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """data.mdb of 8 samples, one with a value on an overflow page."""
    folder = tmp_path_factory.mktemp("fuzz_lmdb")
    env = lmdb.open(str(folder), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i in range(1, 9):
            txn.put(b"image-%09d" % i, image_bytes(20 + 3 * i, 16, seed=i) + (bytes(5000) if i == 4 else b""))
            txn.put(b"label-%09d" % i, ALNUM36[i : i + 3].encode())
        txn.put(b"num-samples", b"8")
    env.close()
    return (folder / "data.mdb").read_bytes()


edit = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 16), st.integers(0, 7)),
    st.tuples(st.just("set"), st.integers(0, 1 << 16), st.integers(0, 255)),
    st.tuples(st.just("cut"), st.integers(0, 1 << 16), st.just(0)),
)
count = st.one_of(st.none(), st.sampled_from([b"-1", b"0", b"7", b"9", b"abc", b"", b"\xff", b"99999999999999999"]))


@settings(FUZZ, max_examples=150)
@given(num=count, edits=st.lists(edit, min_size=0, max_size=6))
def test_malformed_lmdbs(workdir, good_lmdb, num, edits):
    db = fresh(workdir)
    (db / "data.mdb").write_bytes(good_lmdb)
    if num is not None:
        env = lmdb.open(str(db))
        with env.begin(write=True) as txn:
            txn.put(b"num-samples", num)
        env.close()
        (db / "lock.mdb").unlink()
    raw = bytearray((db / "data.mdb").read_bytes())
    for kind, at, value in edits:
        at %= max(len(raw), 1)
        if kind == "cut":
            del raw[at:]
        elif raw:
            raw[at] = raw[at] ^ (1 << value) if kind == "flip" else value
    (db / "data.mdb").write_bytes(bytes(raw))
    with deadline(30):
        try:
            dataset = LmdbDataset(db, sample_filter=SampleFilter(ALNUM36), on_corrupt="drop")
            for i in range(len(dataset)):
                dataset[i]
        except DataError:
            pass
    assert sorted(p.name for p in db.iterdir()) == ["data.mdb"]  # read-only: nothing written beside it
