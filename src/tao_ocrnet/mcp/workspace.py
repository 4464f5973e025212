# SPDX-License-Identifier: Apache-2.0
"""Path confinement: every path a tool call names must lie inside a workspace root after links are resolved.

Rules (applied to dataset URIs that are local paths or file:// URIs, and to every path-valued spec field):
- a relative path is taken from the first workspace root;
- the path is resolved with `os.path.realpath` (all symlinks followed, `..` collapsed; a missing tail is
  fine, so output files can be named) and must then be a root or lie below one;
- the value passed on is the resolved path, so the job uses exactly what was checked;
- the job results root is a managed root too (job outputs can be named by path);
- `s3://` URIs pass unchanged (remote; credentials by environment variable name only) and `job:<id>` URIs
  must carry a well-formed job id; any other scheme is refused.

A link swapped after the check (a race with another local user) is out of scope: the server trusts the
local filesystem between the check and the job's start.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from tao_ocrnet.errors import UserError
from tao_ocrnet.mcp.constants import JOB_ID_PATTERN

_JOB_ID = re.compile(JOB_ID_PATTERN)


class WorkspaceError(UserError):
    """A path argument outside the workspace roots, or a URI the server does not accept."""


@dataclass(frozen=True)
class Workspace:
    roots: tuple[Path, ...]  # resolved; roots[0] anchors relative paths
    managed: tuple[Path, ...] = ()  # resolved; job results (written by jobs, readable by later calls)

    @classmethod
    def create(cls, dirs: Iterable[str | Path], managed: Iterable[str | Path] = ()) -> Workspace:
        roots: list[Path] = []
        for d in dirs:
            path = Path(d).expanduser()
            if not path.is_dir():
                raise UserError(f"--workspace {d}: not an existing folder")
            real = Path(os.path.realpath(path))
            if real == Path(real.anchor):
                raise UserError(f"--workspace {d}: the filesystem root cannot be a workspace; name a project folder")
            if real not in roots:
                roots.append(real)
        if not roots:
            raise UserError("no workspace root: pass --workspace DIR")
        extra = [Path(os.path.realpath(Path(m).expanduser())) for m in managed]
        inside = [m for m in extra if any(m == r or m.is_relative_to(r) for r in roots)]
        return cls(tuple(roots), tuple(m for m in extra if m not in inside))

    def describe(self) -> str:
        return ", ".join(str(r) for r in (*self.roots, *self.managed))

    def contains(self, real: Path) -> bool:
        return any(real == root or real.is_relative_to(root) for root in (*self.roots, *self.managed))

    def confine(self, value: str, what: str) -> str:
        """The resolved absolute path of `value`, or a WorkspaceError naming the argument and the fix."""
        if "\x00" in value:
            raise WorkspaceError(f"`{what}`: the path contains a NUL byte")
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = self.roots[0] / path
        real = Path(os.path.realpath(path))
        if self.contains(real):
            return str(real)
        via = f" (it resolves to {real} through a symbolic link)" if Path(os.path.abspath(path)) != real else ""
        raise WorkspaceError(
            f"`{what}`: {value} is outside the workspace{via}. Allowed roots: {self.describe()}. Use a path under "
            "one of them (links are followed), or restart the server with --workspace DIR for that folder."
        )

    def confine_uri(self, uri: str, what: str) -> str:
        """A dataset URI with its local path confined: path / file:// -> resolved path; s3:// and job: kept."""
        raw = uri.strip()
        if not raw:
            raise WorkspaceError(f"`{what}`: an empty URI; give a path, file://, s3://bucket/prefix or job:<id>")
        if raw.startswith("job:"):
            job_id = raw[4:].strip()
            if not _JOB_ID.match(job_id):
                raise WorkspaceError(
                    f"`{what}`: `{raw}` does not name a job id; use job:<dataset_convert job id> such as "
                    "job:ocrnet-dataset_convert-1a2b3c (see ocrnet_job_list)"
                )
            return f"job:{job_id}"
        parsed = urlparse(raw)
        scheme = parsed.scheme.lower()
        if scheme in ("s3", "aws"):
            if not parsed.netloc:
                raise WorkspaceError(f"`{what}`: `{raw}` names no bucket; use s3://bucket/prefix")
            return raw
        if scheme == "file":
            if parsed.netloc not in ("", "localhost"):
                raise WorkspaceError(f"`{what}`: `{raw}`: file:// URIs must name a local path (file:///data/ocr)")
            return self.confine(unquote(parsed.path), what)
        if scheme and len(scheme) > 1:
            raise WorkspaceError(
                f"`{what}`: unsupported URI scheme `{scheme}://`; use a workspace path, file://, s3:// or job:<id>"
            )
        return self.confine(raw, what)
