# SPDX-License-Identifier: Apache-2.0
"""Dataset roots named by a job request: a local path, `file://`, `s3://bucket/prefix` (or `aws://`).

A root answers two questions for a data-source rule: "give me the file at this relative path" (downloaded
into the cache for S3) and "is there a folder at this relative path" (local roots only). `job:<id>` roots
(the LMDB of a dataset_convert job) are resolved by `inputs.py`, which knows about jobs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from tao_ocrnet.datasources.s3 import S3Bucket
from tao_ocrnet.errors import DataError

JOB_SCHEME = "job:"


@dataclass(frozen=True)
class Fetched:
    path: Path  # a local file (for S3: the cached download)
    identity: str  # what the file is: keys the extraction staging folder
    uri: str


class Root(Protocol):
    uri: str
    credentials: tuple[str, ...]

    def file(self, rel: str, download: bool = True) -> Fetched | None:
        """The file at `rel`, or None when the root has none. With download=False a remote file is only
        looked up: its Fetched.path is where it will be once fetched (a dry run downloads nothing large)."""
        ...

    def folder(self, rel: str) -> Path | None: ...


@dataclass(frozen=True)
class ParsedUri:
    scheme: str  # local | s3 | job
    text: str
    path: Path | None = None
    bucket: str = ""
    prefix: str = ""
    job_id: str = ""


def parse_uri(text: str) -> ParsedUri:
    raw = text.strip()
    if not raw:
        raise DataError("an empty dataset URI was given")
    if raw.startswith(JOB_SCHEME):
        return ParsedUri("job", raw, job_id=raw[len(JOB_SCHEME) :].strip())
    parsed = urlparse(raw)
    scheme = parsed.scheme.lower()
    if scheme in ("s3", "aws"):
        if not parsed.netloc:
            raise DataError(f"`{raw}` names no bucket; use s3://bucket/prefix")
        return ParsedUri(
            "s3", f"s3://{parsed.netloc}{parsed.path}", bucket=parsed.netloc, prefix=parsed.path.strip("/")
        )
    if scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise DataError(f"`{raw}`: file:// URIs must name a local path (file:///data/ocr)")
        return ParsedUri("local", raw, path=Path(unquote(parsed.path)))
    if scheme and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive
        raise DataError(f"`{raw}`: unsupported URI scheme `{scheme}://`; use a local path, file://, s3:// or job:<id>")
    return ParsedUri("local", raw, path=Path(raw).expanduser().absolute())


class LocalRoot:
    credentials: tuple[str, ...] = ()

    def __init__(self, parsed: ParsedUri) -> None:
        assert parsed.path is not None
        self.uri = parsed.text
        self.base = parsed.path
        if not self.base.exists():
            raise DataError(f"dataset root `{parsed.text}` does not exist")
        if not self.base.is_dir():
            raise DataError(
                f"dataset root `{parsed.text}` is a file; pass the folder (or s3:// prefix) that holds the "
                "skill's layout (train.tar.gz, train/gt_new.txt, test.tar.gz, test/gt_new.txt, character_list)"
            )
        if not os.access(self.base, os.R_OK | os.X_OK):
            raise DataError(f"dataset root `{parsed.text}` is not readable (permission denied)")

    def file(self, rel: str, download: bool = True) -> Fetched | None:
        path = self.base / rel
        if not path.is_file():
            return None
        try:
            with open(path, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise DataError(f"`{path}` cannot be read: {exc.strerror}") from None
        st = path.stat()
        return Fetched(path, f"local|{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}", str(path))

    def folder(self, rel: str) -> Path | None:
        path = self.base / rel
        return path if path.is_dir() else None


class S3Root:
    def __init__(self, parsed: ParsedUri, cache_root: Path) -> None:
        self.uri = parsed.text
        self.prefix = parsed.prefix
        self.cache_root = cache_root
        self.bucket = S3Bucket(parsed.bucket)
        self.credentials = self.bucket.settings.names

    def file(self, rel: str, download: bool = True) -> Fetched | None:
        key = f"{self.prefix}/{rel}" if self.prefix else rel
        info = self.bucket.head(key)
        if info is None:
            return None
        path = self.bucket.fetch(info, self.cache_root) if download else self.bucket.cache_path(info, self.cache_root)
        return Fetched(path, info.identity, info.uri)

    def folder(self, rel: str) -> Path | None:
        return None  # S3 roots provide archives and files, not folders


def open_root(parsed: ParsedUri, cache_root: Path) -> Root:
    if parsed.scheme == "s3":
        return S3Root(parsed, cache_root)
    if parsed.scheme == "local":
        return LocalRoot(parsed)
    raise DataError(f"`{parsed.text}` is not a data root")
