# SPDX-License-Identifier: Apache-2.0
"""Safe, idempotent archive extraction for `runtime: extracted_folder` data sources.

Every member header is read and checked (never a member's data) before anything is written, and the
archive is refused, as one ArchiveError naming it, when
- a member has an absolute path or a `..` component, a name too long for the file system, appears twice,
  or sits inside a member that is a file;
- tar: the standard library's extraction filter (`tarfile.data_filter`) refuses a member (a device or FIFO,
  a link whose target is absolute or outside the folder); a link has an empty target; a hard link names no
  earlier file of the archive; an extended header (PAX, GNU long name) claims more than MAX_HEADER_BYTES
  (tarfile would read it whole into memory); a member is a GNU sparse file;
- zip: a member is a link or a device, is encrypted, or uses a compression method Python cannot read;
- the declared sizes (headers included) add up to an absurd expansion of the archive (a decompression bomb),
  counted while the headers are read so a bomb is refused before it is read through, or to more than the
  free disk space;
- the archive cannot be read (truncated, corrupt gzip, not an archive at all).
`inspect_archive` (a dry run) stops there. `extract_once` extracts into a temporary sibling folder (tar
members through `tarfile.data_filter` again, which then also sees the links extracted before them), renamed
into place once complete with a `.extracted` marker inside; a folder with the marker is reused as is. A file
lock makes concurrent jobs extract once.
One leading folder is stripped only when every member sits under that one folder (a leading `./` aside):
never a blind `--strip-components=1` (skill_info `data_source_layout.extraction`).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import lzma
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
from typing import IO, Any

from tao_ocrnet.atomic import file_lock
from tao_ocrnet.errors import DataError

log = logging.getLogger(__name__)

SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
MARKER = ".extracted"
# An archive may expand this many times its own size, beyond the floor below which any ratio is fine
# (text files compress 10x; nothing real compresses 200x at gigabyte scale).
MAX_RATIO = 200.0
RATIO_FLOOR_BYTES = 256 << 20
#: The most one tar extended header (PAX, GNU long name) may claim: real ones hold a path and a few numbers.
MAX_HEADER_BYTES = 1 << 20
_NAME_MAX, _PATH_MAX = 255, 4096  # bytes in one path component and in a whole path (Linux)
_ZIP_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
_EXTENDED_HEADERS = frozenset(
    {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE}
)
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

    @property
    def path(self) -> str:
        return "/".join(self.parts)


@dataclass(frozen=True)
class Contents:
    """What an archive extracts to (the strip rule applied): relative paths of its files and folders."""

    files: frozenset[str]  # files and links
    folders: frozenset[str]  # every folder, whether the archive lists it or only holds files inside it


class _Budget:
    """The bytes an archive expands to, counted while its headers are read; stops at the bomb limit."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive
        self.packed = max(archive.stat().st_size, 1)
        self.limit = max(RATIO_FLOOR_BYTES, int(self.packed * MAX_RATIO))
        self.total = 0

    def add(self, nbytes: int) -> None:
        self.total += nbytes
        if self.total > self.limit:
            raise ArchiveError(
                f"{self.archive}: expands to more than {self.total} bytes, over {MAX_RATIO:g}x its size "
                f"(limit {self.limit}); refusing a likely decompression bomb"
            )


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses an oversized extended header, or a sparse member, before tarfile reads it."""

    def _proc_member(self, tar: Any) -> Any:
        if self.type in _EXTENDED_HEADERS and self.size > MAX_HEADER_BYTES:
            raise ArchiveError(
                f"{tar.name}: a tar extended header claims {self.size} bytes (more than {MAX_HEADER_BYTES}); "
                "refusing a corrupt or hostile archive"
            )
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise ArchiveError(f"{tar.name}: member `{self.name}` is a GNU sparse file, which is not supported")
        return super()._proc_member(tar)  # type: ignore[misc]  # tarfile's dispatch, not in typeshed


def _parts(name: str, archive: Path) -> tuple[str, ...]:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"{archive}: member `{name}` has an absolute path; refusing to extract the archive")
    parts = tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", "."))
    if ".." in parts:
        raise ArchiveError(f"{archive}: member `{name}` climbs out of the folder with `..`; refusing to extract")
    if len(os.fsencode("/".join(parts))) > _PATH_MAX or any(len(os.fsencode(p)) > _NAME_MAX for p in parts):
        raise ArchiveError(f"{archive}: member `{name[:60]}...` has a name too long for the file system")
    return parts


def _filter_error(exc: tarfile.FilterError, archive: Path) -> ArchiveError:
    """`tarfile.data_filter`'s refusal, in this module's words."""
    info = exc.tarinfo
    if isinstance(exc, (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError)) and info.islnk():
        what = f"hard link `{info.name}` -> `{info.linkname}` climbs out of the folder"
    elif isinstance(exc, (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError)):
        what = f"link `{info.name}` -> `{info.linkname}` points outside the folder"
    elif isinstance(exc, tarfile.SpecialFileError):
        what = f"member `{info.name}` is a device or FIFO"
    elif isinstance(exc, (tarfile.AbsolutePathError, tarfile.OutsideDestinationError)):
        what = f"member `{info.name}` climbs out of the folder"
    else:
        what = str(exc)
    return ArchiveError(f"{archive}: {what}; refusing to extract")


def _tar_members(tf: tarfile.TarFile, archive: Path, budget: _Budget) -> list[Member]:
    out = []
    files: set[str] = set()
    # Before extraction the filter judges each member against a folder that does not exist: lexically.
    nowhere = os.path.join(os.path.realpath(archive.parent), f".{archive.name}.inspect-{secrets.token_hex(4)}")
    for info in tf:  # one header at a time: a truncated or hostile archive fails here, before any write
        budget.add(tarfile.BLOCKSIZE + info.size)
        parts = _parts(info.name, archive)
        try:
            tarfile.data_filter(info, nowhere)
        except tarfile.FilterError as exc:
            raise _filter_error(exc, archive) from None
        if info.issym():
            if not info.linkname:
                raise ArchiveError(f"{archive}: link `{info.name}` has an empty target; refusing to extract")
            out.append(Member(parts, "symlink", target=info.linkname, ref=info))
        elif info.islnk():
            target = "/".join(_parts(info.linkname, archive))
            if target not in files:
                raise ArchiveError(f"{archive}: hard link `{info.name}` names a file outside the archive")
            out.append(Member(parts, "hardlink", target=target, ref=info))
        elif info.isdir():
            out.append(Member(parts, "dir", ref=info))
        else:  # the filter lets through regular files only
            out.append(Member(parts, "file", info.size, ref=info))
            files.add("/".join(parts))
    return out


def _zip_members(zf: zipfile.ZipFile, archive: Path, budget: _Budget) -> list[Member]:
    out = []
    for info in zf.infolist():
        budget.add(info.file_size)
        parts = _parts(info.filename, archive)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"{archive}: member `{info.filename}` is a link (not supported in zip archives)")
        if mode and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)):
            raise ArchiveError(f"{archive}: member `{info.filename}` is a device or FIFO; refusing to extract")
        if info.flag_bits & 0x1:
            raise ArchiveError(f"{archive}: member `{info.filename}` is encrypted; give an archive without a password")
        if info.compress_type not in _ZIP_METHODS:
            raise ArchiveError(
                f"{archive}: member `{info.filename}` uses zip compression method {info.compress_type}, which "
                "cannot be read here; re-create the archive with deflate (zip's default)"
            )
        out.append(Member(parts, "dir" if info.is_dir() else "file", info.file_size, ref=info))
    return out


def _strip(members: list[Member]) -> list[Member]:
    """Drop one leading folder when every member sits under that single folder."""
    tops = {m.parts[0] for m in members if m.parts}
    if len(tops) != 1:
        return [m for m in members if m.parts]
    if any(m.kind != "dir" and len(m.parts) == 1 for m in members):
        return [m for m in members if m.parts]  # the only top-level entry is a file, not a folder
    out = []
    for m in members:
        if len(m.parts) <= 1:
            continue
        target = m.target
        if m.kind == "hardlink":
            target = "/".join(PurePosixPath(target).parts[1:])
        out.append(Member(m.parts[1:], m.kind, m.size, target, m.ref))
    return out


def _check_layout(members: list[Member], archive: Path) -> None:
    """Each path once (a folder may be listed again), and nothing inside a member that is a file."""
    kinds: dict[str, str] = {}
    for m in members:
        earlier = kinds.get(m.path)
        if earlier is not None and not earlier == m.kind == "dir":
            raise ArchiveError(f"{archive}: member `{m.path}` appears twice; refusing to extract")
        kinds[m.path] = m.kind
    for m in members:
        for depth in range(1, len(m.parts)):
            parent = "/".join(m.parts[:depth])
            if kinds.get(parent) in ("file", "hardlink"):
                raise ArchiveError(f"{archive}: member `{m.path}` is inside `{parent}`, which is a file")


def _free_bytes(folder: Path) -> int:
    while not folder.exists() and folder != folder.parent:  # a dry run's staging folder may not exist yet
        folder = folder.parent
    return shutil.disk_usage(folder).free


_READ_ERRORS = (
    tarfile.TarError,
    zipfile.BadZipFile,
    zlib.error,
    gzip.BadGzipFile,
    lzma.LZMAError,
    EOFError,
    ValueError,
    NotImplementedError,  # zipfile: a "version needed to extract" it does not know
)


@contextlib.contextmanager
def _open(archive: Path, dest: Path) -> Iterator[tuple[Opened, list[Member]]]:
    """The opened archive and its checked, stripped member list for extraction into `dest`."""
    with contextlib.ExitStack() as stack:
        try:
            budget = _Budget(archive)
            opened: Opened
            if archive.name.lower().endswith(".zip"):
                zf = stack.enter_context(zipfile.ZipFile(archive))
                opened, members = zf, _zip_members(zf, archive, budget)
            else:
                tf = stack.enter_context(tarfile.open(archive, "r:*", tarinfo=_BoundedTarInfo))
                opened, members = tf, _tar_members(tf, archive, budget)
        except ArchiveError:
            raise
        except (*_READ_ERRORS, OSError) as exc:
            raise ArchiveError(
                f"{archive} is not a readable archive ({type(exc).__name__}: {exc}); re-create it"
            ) from None
        members = _strip(members)
        _check_layout(members, archive)
        free = _free_bytes(dest.parent)
        if budget.total > free:
            raise ArchiveError(f"{archive}: needs {budget.total} bytes but only {free} are free under {dest.parent}")
        yield opened, members


def inspect_archive(archive: Path, dest: Path) -> Contents:
    """Check `archive` as `extract_once(archive, dest)` would, reading headers only (what a dry run does)."""
    with _open(archive, dest) as (_, members):
        files = frozenset(m.path for m in members if m.kind != "dir")
        folders = {m.path for m in members if m.kind == "dir"}
        folders.update("/".join(m.parts[:depth]) for m in members for depth in range(1, len(m.parts)))
        return Contents(files, frozenset(folders))


def _copy_stream(src: IO[bytes], dest: Path, size: int, archive: Path) -> None:
    written = 0
    with open(dest, "xb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > size:  # never trust the stream beyond the declared size
                raise ArchiveError(f"{archive}: member `{dest.name}` is larger than its header says")
            out.write(chunk)


def _write_members(opened: Opened, members: list[Member], root: Path, archive: Path) -> None:
    if isinstance(opened, tarfile.TarFile):
        infos = []
        for m in members:
            assert isinstance(m.ref, tarfile.TarInfo)
            linkname = m.target if m.kind == "hardlink" else m.ref.linkname
            infos.append(m.ref.replace(name=m.path, linkname=linkname, deep=False))
        # The filter runs again here, against the folder as extracted so far (links included).
        opened.extractall(root, members=infos, filter=tarfile.data_filter)
        return
    for m in members:  # zip: files and folders only (links were refused)
        target = root.joinpath(*m.parts)
        if m.kind == "dir":
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        assert isinstance(m.ref, zipfile.ZipInfo)
        with opened.open(m.ref) as src:
            _copy_stream(src, target, m.size, archive)


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
            with _open(archive, dest) as (opened, members):
                try:
                    _write_members(opened, members, tmp, archive)
                except ArchiveError:
                    raise
                except tarfile.FilterError as exc:
                    raise _filter_error(exc, archive) from None
                except _READ_ERRORS as exc:
                    raise ArchiveError(f"{archive} is corrupt ({type(exc).__name__}: {exc}); re-create it") from None
                except OSError as exc:  # disk full, a name the file system refuses
                    raise ArchiveError(
                        f"{archive}: cannot extract into {dest.parent}: {exc.strerror or exc}; nothing was kept"
                    ) from None
            (tmp / MARKER).write_text(f"{archive}\n", encoding="utf-8")
            if dest.exists():  # a partial folder from an older version or a hand copy: replace it
                shutil.rmtree(dest)
            os.rename(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    log.info("extracted %s into %s", archive, dest)
    return dest
