# SPDX-License-Identifier: Apache-2.0
"""Safe, idempotent archive extraction for `runtime: extracted_folder` data sources.

Every member is checked before anything is written, and the archive is refused when a member
- has an absolute path or a `..` component (it would land outside the folder),
- is a device or a FIFO, or a link whose target is absolute or climbs with `..`, or a hard link to a
  file outside the archive,
- or when the declared sizes add up to an absurd expansion of the archive (a decompression bomb) or more
  than the free disk space.

Extraction goes to a temporary sibling folder that is renamed into place once complete, with a `.extracted`
marker inside; a folder with the marker is reused as is. A file lock makes concurrent jobs extract once.
One leading folder is stripped only when every member sits under that one folder (a leading `./` aside):
never a blind `--strip-components=1` (skill_info `data_source_layout.extraction`).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import secrets
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from tao_ocrnet.atomic import file_lock
from tao_ocrnet.errors import DataError

log = logging.getLogger(__name__)

SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
MARKER = ".extracted"
# An archive may expand this many times its own size, beyond the floor below which any ratio is fine
# (text files compress 10x; nothing real compresses 200x at gigabyte scale).
MAX_RATIO = 200.0
RATIO_FLOOR_BYTES = 256 << 20
_CHUNK = 1 << 20

Opened = tarfile.TarFile | zipfile.ZipFile


class ArchiveError(DataError):
    """An archive that is corrupt or hostile; nothing was extracted."""


def is_archive(name: str) -> bool:
    return name.lower().endswith(SUFFIXES)


def archive_stem(name: str) -> str:
    """`train.tar.gz` -> `train` (the extraction folder's name)."""
    lower = name.lower()
    for suffix in SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True)
class Member:
    parts: tuple[str, ...]  # the normalised relative path
    kind: str  # file | dir | symlink | hardlink
    size: int = 0
    target: str = ""  # link target (symlink: as stored; hardlink: normalised member path)
    ref: tarfile.TarInfo | zipfile.ZipInfo | None = None


def _parts(name: str, archive: Path) -> tuple[str, ...]:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"{archive}: member `{name}` has an absolute path; refusing to extract the archive")
    parts = tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", "."))
    if ".." in parts:
        raise ArchiveError(f"{archive}: member `{name}` climbs out of the folder with `..`; refusing to extract")
    return parts


def _check_symlink(member_name: str, target: str, archive: Path) -> None:
    if target.startswith("/") or ".." in PurePosixPath(target).parts:
        raise ArchiveError(
            f"{archive}: link `{member_name}` -> `{target}` points outside the folder; refusing to extract"
        )


def _tar_members(tf: tarfile.TarFile, archive: Path) -> list[Member]:
    out = []
    for info in tf:  # iterating reads every header: a truncated archive fails here, before any write
        parts = _parts(info.name, archive)
        if info.ischr() or info.isblk() or info.isfifo() or info.isdev():
            raise ArchiveError(f"{archive}: member `{info.name}` is a device or FIFO; refusing to extract")
        if info.issym():
            _check_symlink(info.name, info.linkname, archive)
            out.append(Member(parts, "symlink", target=info.linkname, ref=info))
        elif info.islnk():
            out.append(Member(parts, "hardlink", target="/".join(_parts(info.linkname, archive)), ref=info))
        elif info.isdir():
            out.append(Member(parts, "dir", ref=info))
        elif info.isreg():
            out.append(Member(parts, "file", info.size, ref=info))
        else:
            raise ArchiveError(f"{archive}: member `{info.name}` has an unsupported type; refusing to extract")
    return out


def _zip_members(zf: zipfile.ZipFile, archive: Path) -> list[Member]:
    out = []
    for info in zf.infolist():
        parts = _parts(info.filename, archive)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"{archive}: member `{info.filename}` is a link (not supported in zip archives)")
        if mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)):
            raise ArchiveError(f"{archive}: member `{info.filename}` is a device or FIFO; refusing to extract")
        out.append(Member(parts, "dir" if info.is_dir() else "file", info.file_size, ref=info))
    return out


def _strip(members: list[Member]) -> list[Member]:
    """Drop one leading folder when every member sits under that single folder."""
    tops = {m.parts[0] for m in members if m.parts}
    if len(tops) != 1:
        return members
    if any(m.kind != "dir" and len(m.parts) == 1 for m in members):
        return members  # the only top-level entry is a file, not a folder
    out = []
    for m in members:
        if len(m.parts) <= 1:
            continue
        target = m.target
        if m.kind == "hardlink":
            target = "/".join(PurePosixPath(target).parts[1:])
        out.append(Member(m.parts[1:], m.kind, m.size, target, m.ref))
    return out


def _check_size(members: list[Member], archive: Path, dest_parent: Path) -> None:
    total = sum(m.size for m in members if m.kind == "file")
    packed = max(archive.stat().st_size, 1)
    if total > RATIO_FLOOR_BYTES and total / packed > MAX_RATIO:
        raise ArchiveError(
            f"{archive}: expands to {total} bytes, {total / packed:.0f}x its size (limit {MAX_RATIO:g}x); "
            "refusing a likely decompression bomb"
        )
    free = shutil.disk_usage(dest_parent).free
    if total > free:
        raise ArchiveError(f"{archive}: needs {total} bytes but only {free} are free under {dest_parent}")


def _inside(root: Path, path: Path) -> bool:
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(path)]) == real_root


def _copy_stream(src: IO[bytes], dest: Path, size: int) -> None:
    written = 0
    with open(dest, "xb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > size:  # never trust the stream beyond the declared size
                raise ArchiveError(f"member `{dest.name}` is larger than its header says")
            out.write(chunk)


def _write_members(opened: Opened, members: list[Member], root: Path, archive: Path) -> None:
    for m in members:
        if not m.parts:
            continue
        target = root.joinpath(*m.parts)
        if not _inside(root, target.parent):
            raise ArchiveError(f"{archive}: `{'/'.join(m.parts)}` would be written through a link outside the folder")
        if m.kind == "dir":
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if m.kind == "symlink":
            os.symlink(m.target, target)
        elif m.kind == "hardlink":
            source = root.joinpath(*PurePosixPath(m.target).parts)
            if not source.is_file() or not _inside(root, source):
                raise ArchiveError(f"{archive}: hard link `{'/'.join(m.parts)}` names a file outside the archive")
            shutil.copyfile(source, target)
        else:
            src: IO[bytes] | None = None
            if isinstance(opened, tarfile.TarFile) and isinstance(m.ref, tarfile.TarInfo):
                src = opened.extractfile(m.ref)
            elif isinstance(opened, zipfile.ZipFile) and isinstance(m.ref, zipfile.ZipInfo):
                src = opened.open(m.ref)
            if src is None:
                raise ArchiveError(f"{archive}: member `{'/'.join(m.parts)}` cannot be read")
            with src:
                _copy_stream(src, target, m.size)


_READ_ERRORS = (tarfile.TarError, zipfile.BadZipFile, zlib.error, gzip.BadGzipFile, EOFError, ValueError)


@contextlib.contextmanager
def _open(archive: Path) -> Iterator[tuple[Opened, list[Member]]]:
    """The opened archive and its checked member list; errors while listing mean a corrupt archive."""
    with contextlib.ExitStack() as stack:
        try:
            opened: Opened
            if archive.name.lower().endswith(".zip"):
                zf = stack.enter_context(zipfile.ZipFile(archive))
                opened, members = zf, _zip_members(zf, archive)
            else:
                tf = stack.enter_context(tarfile.open(archive, "r:*"))
                opened, members = tf, _tar_members(tf, archive)
        except ArchiveError:
            raise
        except (*_READ_ERRORS, OSError) as exc:
            raise ArchiveError(
                f"{archive} is not a readable archive ({type(exc).__name__}: {exc}); re-create it"
            ) from None
        yield opened, members


def extract_once(archive: Path, dest: Path) -> Path:
    """Extract `archive` into `dest` unless `dest` already holds a complete extraction; return `dest`."""
    if (dest / MARKER).is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(dest.parent / f".{dest.name}.lock"):
        if (dest / MARKER).is_file():  # another job finished it while we waited
            return dest
        tmp = dest.parent / f".{dest.name}.partial-{os.getpid()}-{secrets.token_hex(3)}"
        tmp.mkdir()
        try:
            with _open(archive) as (opened, members):
                members = _strip(members)
                _check_size(members, archive, dest.parent)
                try:
                    _write_members(opened, members, tmp, archive)
                except ArchiveError:
                    raise
                except _READ_ERRORS as exc:
                    raise ArchiveError(f"{archive} is corrupt ({type(exc).__name__}: {exc}); re-create it") from None
            (tmp / MARKER).write_text(f"{archive}\n", encoding="utf-8")
            if dest.exists():  # a partial folder from an older version or a hand copy: replace it
                shutil.rmtree(dest)
            os.rename(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("extracted %s into %s", archive, dest)
    return dest
