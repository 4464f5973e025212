# SPDX-License-Identifier: Apache-2.0
"""Archive extraction for data sources: the strip rule, idempotence, and hostile or corrupt archives."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from tao_ocrnet.datasources import archives
from tao_ocrnet.datasources.archives import ArchiveError, archive_stem, extract_once


def make_tar(path: Path, members: list[tuple[str, str, object]], mode: str = "w:gz") -> Path:
    """members: (name, kind, payload) with kind file|dir|symlink|hardlink|fifo|chr."""
    with tarfile.open(path, mode) as tf:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                data = payload if isinstance(payload, bytes) else str(payload).encode()
                info.size = len(data)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, str(payload)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, str(payload)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            elif kind == "chr":
                info.type = tarfile.CHRTYPE
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def test_stem_and_suffixes():
    assert archive_stem("train.tar.gz") == "train" and archive_stem("x.TGZ") == "x" and archive_stem("a.zip") == "a"
    assert archives.is_archive("test.tar") and not archives.is_archive("gt_new.txt")


def test_contents_at_top_level_and_single_folder_stripped(tmp_path):
    flat = make_tar(tmp_path / "flat.tar.gz", [("./gt_new.txt", "file", "a.jpg\tab\n"), ("./a.jpg", "file", b"x")])
    out = extract_once(flat, tmp_path / "s1" / "flat")
    assert sorted(p.name for p in out.iterdir()) == [".extracted", "a.jpg", "gt_new.txt"]
    wrapped = make_tar(tmp_path / "w.tar.gz", [("train/", "dir", None), ("train/gt_new.txt", "file", "x"),
                                                ("train/img/a.jpg", "file", b"x")])  # fmt: skip
    out = extract_once(wrapped, tmp_path / "s2" / "train")
    assert (out / "gt_new.txt").is_file() and (out / "img" / "a.jpg").is_file()
    mixed = make_tar(tmp_path / "m.tar.gz", [("train/a.jpg", "file", b"x"), ("gt_new.txt", "file", "x")])
    out = extract_once(mixed, tmp_path / "s3" / "m")
    assert (out / "train" / "a.jpg").is_file()  # two top-level entries: nothing stripped
    z = tmp_path / "d.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("data/gt_new.txt", "x")
        zf.writestr("data/b.png", b"y")
    out = extract_once(z, tmp_path / "s4" / "d")
    assert (out / "b.png").read_bytes() == b"y"


def test_extraction_is_idempotent(tmp_path):
    tar = make_tar(tmp_path / "t.tar.gz", [("a.txt", "file", "1")])
    dest = tmp_path / "stage" / "t"
    extract_once(tar, dest)
    (dest / "a.txt").write_text("changed by a job")
    assert extract_once(tar, dest) == dest
    assert (dest / "a.txt").read_text() == "changed by a job"  # the marker says done: not extracted again


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("/etc/evil", "file", "x")], "absolute path"),
        ([("../evil", "file", "x")], r"climbs out"),
        ([("a/../../evil", "file", "x")], r"climbs out"),
        ([("link", "symlink", "/etc/passwd")], "points outside"),
        ([("link", "symlink", "../../outside")], "points outside"),
        ([("ok.txt", "file", "x"), ("hard", "hardlink", "../../etc/passwd")], "climbs out"),
        ([("hard", "hardlink", "not/in/archive")], "outside the archive"),
        ([("pipe", "fifo", None)], "device or FIFO"),
        ([("tty", "chr", None)], "device or FIFO"),
    ],
    ids=["absolute", "dotdot", "nested-dotdot", "symlink-abs", "symlink-up", "hardlink-up", "hardlink-missing",
         "fifo", "device"],
)  # fmt: skip
def test_hostile_tar_members_are_refused(tmp_path, members, message):
    tar = make_tar(tmp_path / "bad.tar.gz", members)
    dest = tmp_path / "stage" / "bad"
    with pytest.raises(ArchiveError, match=message):
        extract_once(tar, dest)
    assert not dest.exists()
    assert not list((tmp_path / "stage").glob(".bad.partial-*"))  # nothing half-extracted left
    assert not (tmp_path / "etc").exists() and not (tmp_path / "evil").exists()


def test_writing_through_an_inner_link_is_refused(tmp_path):
    # `d` -> `.` is inside the folder, but a later member may not use a link to leave it either.
    tar = make_tar(tmp_path / "t.tar", [("d", "symlink", "sub"), ("sub/", "dir", None), ("d/ok.txt", "file", "1")],
                   mode="w")  # fmt: skip
    out = extract_once(tar, tmp_path / "stage" / "t")
    assert (out / "sub" / "ok.txt").read_text() == "1"  # a link that stays inside works


def test_zip_traversal_and_links_are_refused(tmp_path):
    z = tmp_path / "bad.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../../evil.txt", "x")
    with pytest.raises(ArchiveError, match="climbs out"):
        extract_once(z, tmp_path / "stage" / "bad")
    z2 = tmp_path / "link.zip"
    with zipfile.ZipFile(z2, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveError, match="link"):
        extract_once(z2, tmp_path / "stage" / "link")


def test_expansion_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(archives, "RATIO_FLOOR_BYTES", 1 << 20)
    bomb = make_tar(tmp_path / "bomb.tar.gz", [("zeros.bin", "file", bytes(8 << 20))])
    assert bomb.stat().st_size < 64 << 10
    with pytest.raises(ArchiveError, match="decompression bomb"):
        extract_once(bomb, tmp_path / "stage" / "bomb")
    assert not (tmp_path / "stage" / "bomb").exists()


def test_corrupt_archives_are_refused(tmp_path):
    good = make_tar(tmp_path / "g.tar.gz", [(f"f{i}.bin", "file", bytes(range(256)) * 400) for i in range(4)])
    data = good.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"this is not an archive at all" * 10)
    badzip = tmp_path / "bad.zip"
    badzip.write_bytes(b"PK\x03\x04 nope")
    for path in (truncated, garbage, badzip):
        with pytest.raises(ArchiveError, match=r"not a readable archive|corrupt"):
            extract_once(path, tmp_path / "stage" / path.name)
        assert not (tmp_path / "stage" / path.name).exists()
