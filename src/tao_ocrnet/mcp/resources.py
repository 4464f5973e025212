# SPDX-License-Identifier: Apache-2.0
"""Read-only resources: the skill's files (SKILL.md, references, schemas, templates) and per-job views.

Static resources are a fixed map from URI to file, built once at start-up from the skill root, so a URI can
never name a file outside it; each read checks again (after resolving links) that the file is still inside
the skill root and below the size limit. Job resources are `ocrnet://jobs/{job_id}/{log|status|results|spec}`
with the id validated before any file is touched, and every file of a job's results folder is
`ocrnet://jobs/{job_id}/files/{path}` (`?offset=&limit=` pages a text file by bytes; a binary file comes as a
blob up to BLOB_MAX_BYTES, else as its path and size). `ocrnet://workspace` says where paths may point and what
a data root holds.
"""

from __future__ import annotations

import base64
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

import mcp_types as types

from tao_ocrnet.config.secrets import is_secret_name, mask_text, redact
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.ids import check_job_id
from tao_ocrnet.jobs.record import COMPLETE, ERROR, PENDING, RUNNING
from tao_ocrnet.jobs.service import JobService
from tao_ocrnet.mcp import constants as C
from tao_ocrnet.mcp.errors import mcp_result
from tao_ocrnet.mcp.workspace import Workspace

# (folder under the skill root, glob, URI prefix). Every file found is one resource.
STATIC = (
    ("", "SKILL.md", "ocrnet://skill/"),
    ("", "skill_info.yaml", "ocrnet://skill/"),
    ("references", "*", "ocrnet://references/"),
    ("schemas", "*.json", "ocrnet://schemas/"),
    ("schemas/json-schema", "*.json", "ocrnet://schemas/json-schema/"),
    ("schemas/mcp", "*.json", "ocrnet://schemas/mcp/"),
)
MIME = {".md": "text/markdown", ".yaml": "application/yaml", ".json": "application/json"}
JOB_VIEWS = {
    "log": ("text/plain", "The job's log (the last 64 KiB, secrets masked)"),
    "status": ("application/json", "The job's state, last message and KPIs"),
    "results": ("application/json", "The job's KPIs and output files"),
    "spec.yaml": ("application/yaml", "The job's resolved spec"),
}
_JOB_URI = re.compile(r"^ocrnet://jobs/([^/]+)/(log|status|results|spec\.yaml)$")

# Job files: text pages and binary blobs. A page is at most RESOURCE_MAX_BYTES; the listing is capped.
FILES_TEMPLATE = "ocrnet://jobs/{job_id}/files/{+path}{?offset,limit}"
WORKSPACE_URI = "ocrnet://workspace"
TEXT_PAGE_BYTES = 64 << 10
BLOB_MAX_BYTES = 4 << 20
MAX_FILES_LISTED = 200
TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".json", ".yaml", ".yml", ".txt", ".log", ".md"})
_FILE_URI = re.compile(r"^ocrnet://jobs/([^/?#]+)/files/([^?#]+)(?:\?([^#]*))?$")
_SECRET_LINE = re.compile(r"^(\s*[\"']?)([A-Za-z0-9_.-]+)([\"']?\s*:\s*)(\S.*)$")  # `key: value` (YAML, JSON)


class ResourceNotFound(UserError):
    """A URI that names no resource of this server."""


@dataclass(frozen=True)
class StaticResource:
    uri: str
    path: Path
    name: str
    mime: str
    description: str


def _mime(path: Path) -> str:
    if path.name.endswith(".schema.json") or path.parent.name == "json-schema":
        return "application/schema+json"
    return MIME.get(path.suffix, "text/plain")


def static_resources(skill_root: Path) -> dict[str, StaticResource]:
    out: dict[str, StaticResource] = {}
    for folder, pattern, prefix in STATIC:
        base = skill_root / folder
        if not base.is_dir():
            continue
        for path in sorted(p for p in base.glob(pattern) if p.is_file()):
            uri = prefix + path.name
            rel = path.relative_to(skill_root).as_posix()
            out[uri] = StaticResource(uri, path, rel, _mime(path), f"{rel} of the tao-train-ocrnet skill")
    return out


def read_static(resource: StaticResource, skill_root: Path) -> str:
    real = Path(os.path.realpath(resource.path))
    root = Path(os.path.realpath(skill_root))
    if not real.is_relative_to(root) or not real.is_file():
        raise ResourceNotFound(f"{resource.uri} is not available")
    if real.stat().st_size > C.RESOURCE_MAX_BYTES:
        raise ResourceNotFound(f"{resource.uri} is larger than {C.RESOURCE_MAX_BYTES} bytes")
    return real.read_text(encoding="utf-8", errors="replace")


def parse_job_uri(uri: str) -> tuple[str, str] | None:
    """(job id, view) of a job resource URI; a malformed id raises UserError, other URIs give None."""
    m = _JOB_URI.match(uri)
    if not m:
        return None
    return check_job_id(m.group(1)), m.group(2)


def read_job(service: JobService, job_id: str, view: str) -> str:
    """The text of one job view (blocking: call it from a worker thread)."""
    record = service.get(job_id)
    if view == "log":
        chunk = service.platform_for(record).logs(record, offset=-C.LOG_MAX_BYTES)
        return "\n".join(redact(line)[0] for line in chunk.text.split("\n"))
    if view == "status":
        return json.dumps(mcp_result(job_view(service, record)), indent=1, default=str)  # tool words, as the tools
    if view == "results":
        return json.dumps(mcp_result(service.results(job_id)), indent=1, default=str)
    spec_path = Path(record["job_dir"]) / "spec.yaml"
    return spec_path.read_text(encoding="utf-8") if spec_path.is_file() else ""


# --- job files -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileContent:
    """One read of a job file: `text` (a masked page) or `blob` (base64), and what the page covered."""

    mime: str
    text: str | None = None
    blob: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def file_uri(job_id: str, rel: str) -> str:
    return f"ocrnet://jobs/{job_id}/files/{quote(rel)}"


def parse_file_uri(uri: str) -> tuple[str, str, int, int] | None:
    """(job id, relative path, offset, limit) of a job file URI; None for other URIs, UserError when malformed."""
    m = _FILE_URI.match(uri)
    if not m:
        return None
    job_id, rel = check_job_id(m.group(1)), unquote(m.group(2))
    parts = rel.split("/")
    if rel.startswith("/") or "\\" in rel or "\0" in rel or any(p in ("", ".", "..") for p in parts):
        raise ResourceNotFound(f"{uri}: the path must be relative to the job's results folder, without . or ..")
    query = parse_qs(m.group(3) or "", keep_blank_values=True)
    unknown = sorted(set(query) - {"offset", "limit"})
    if unknown:
        raise ResourceNotFound(f"{uri}: unknown query parameter(s) {', '.join(unknown)}; use offset and limit")
    offset = _int_param(uri, query, "offset", 0, 0, 1 << 62)
    limit = _int_param(uri, query, "limit", TEXT_PAGE_BYTES, 1, C.RESOURCE_MAX_BYTES)
    return job_id, rel, offset, limit


def _int_param(uri: str, query: dict[str, list[str]], name: str, default: int, lo: int, hi: int) -> int:
    if name not in query:
        return default
    text = query[name][-1]
    if not text.isdigit() or not lo <= int(text) <= hi:
        raise ResourceNotFound(f"{uri}: `{name}` must be an integer in [{lo}, {hi}], not {text!r}")
    return int(text)


def _is_text(path: Path) -> bool:
    if path.suffix.lower() not in TEXT_SUFFIXES:
        return False
    with path.open("rb") as fh:
        return b"\0" not in fh.read(4096)


def _mime_of(path: Path) -> str:
    suffix = path.suffix.lower()
    return {".csv": "text/csv", ".tsv": "text/tab-separated-values", ".json": "application/json",
            ".yaml": "application/yaml", ".yml": "application/yaml", ".md": "text/markdown",
            ".onnx": "application/onnx"}.get(suffix, "text/plain" if suffix in TEXT_SUFFIXES
                                             else "application/octet-stream")  # fmt: skip


def mask_line(line: str) -> str:
    """A text line with secrets masked: `key=value`, credential-shaped values, and `key: value` of a secret key."""
    m = _SECRET_LINE.match(line)
    if m and is_secret_name(m.group(2)) and m.group(4).strip("\"', ") not in ("", "null", "~"):
        return f'{m.group(1)}{m.group(2)}{m.group(3)}"*****"' + ("," if line.rstrip().endswith(",") else "")
    return mask_text(line)


def _utf8_end(data: bytes) -> int:
    """The length of `data` without a UTF-8 sequence cut at its end (the next page starts there)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte (or ASCII): complete if its sequence fits
            need = 1 if byte < 0x80 else 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
            return len(data) if need <= back else len(data) - back
    return len(data)


def _job_file(service: JobService, job_id: str, rel: str) -> tuple[Path, Path]:
    """(results folder, the file inside it), resolved and confined (links may not leave the folder)."""
    try:
        record = service.get(job_id)
    except UserError as exc:  # no such job: a not-found resource (its error carries the URI)
        raise ResourceNotFound(f"{file_uri(job_id, rel)}: {exc}") from None
    base = Path(os.path.realpath(record["results_dir"]))
    path = Path(os.path.realpath(base / rel))
    if not path.is_relative_to(base) or not path.is_file():
        raise ResourceNotFound(
            f"{file_uri(job_id, rel)}: no such file in the job's results folder; ocrnet_job_results lists them"
        )
    return base, path


def read_job_file(service: JobService, job_id: str, rel: str, offset: int, limit: int) -> FileContent:
    """A page of a text file (secrets masked), or a binary file as a blob (else its path and size). Blocking."""
    _, path = _job_file(service, job_id, rel)
    size = path.stat().st_size
    mime = _mime_of(path)
    if not _is_text(path):
        if size <= BLOB_MAX_BYTES:
            return FileContent(mime, blob=base64.b64encode(path.read_bytes()).decode(), meta={"bytes": size})
        link = {"path": str(path), "file_uri": path.as_uri(), "bytes": size, "blob_max_bytes": BLOB_MAX_BYTES,
                "note": "too large to send as a blob; read it from the path on the server's host"}  # fmt: skip
        return FileContent("application/json", text=json.dumps(link, indent=1), meta={"bytes": size, "link": True})
    with path.open("rb") as fh:
        fh.seek(min(offset, size))
        data = fh.read(limit)
    end = offset + (_utf8_end(data) if offset + len(data) < size else len(data))
    text = data[: end - offset].decode("utf-8", errors="replace")
    page = "".join(mask_line(line) for line in text.splitlines(keepends=True))
    meta: dict[str, Any] = {"offset": offset, "bytes": size, "eof": end >= size}
    if end < size:  # only then: the SDK drops null _meta values on the wire
        meta["next_offset"] = end
    return FileContent(mime, text=page, meta=meta)


def list_job_files(job_id: str, results_dir: str | Path) -> tuple[list[dict[str, Any]], bool]:
    """(files of a job's results folder with their resource URIs, whether the list was cut at MAX_FILES_LISTED).
    Dot files and folders are the run's own bookkeeping and are left out."""
    base = Path(results_dir)
    if not base.is_dir():
        return [], False
    out: list[dict[str, Any]] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(f for f in files if not f.startswith(".")):
            path = Path(folder) / name
            if len(out) >= MAX_FILES_LISTED:
                return out, True
            rel = path.relative_to(base).as_posix()
            kind = "text" if _is_text(path) else "binary"
            out.append({"name": rel, "bytes": path.stat().st_size, "kind": kind, "uri": file_uri(job_id, rel)})
    return out, False


# --- status with cause and next ------------------------------------------------------------------

_ERROR_LINE = re.compile(r"error|exception|traceback|failed|failure|refused|not found|does not exist|killed",
                         re.IGNORECASE)  # fmt: skip
CAUSE_LINES = 8


def failure_cause(service: JobService, record: dict[str, Any]) -> list[str]:
    """The last error lines of a failed job's log (masked); the last lines when none look like errors."""
    try:
        text = service.platform_for(record).logs(record, offset=-C.LOG_DEFAULT_BYTES).text
    except (OSError, UserError):
        return []
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    return [mask_line(line) for line in (errors or lines)[-CAUSE_LINES:]]


def next_hint(view: dict[str, Any]) -> str:
    """What to do next, for the state the job is in."""
    job, action = view["id"], view["action"]
    state = view["state"]
    if state in (PENDING, RUNNING):
        return f"poll ocrnet_job_status(job_id='{job}') until it ends; ocrnet_job_logs shows progress"
    if state == COMPLETE:
        return f"ocrnet_job_results(job_id='{job}') for KPIs and files; use it as parent_job_id of the next action"
    again = " (train: resume_from_job_id continues it)" if action in ("train", "retrain") else ""
    if state == ERROR:
        return f"read `cause` (ocrnet_job_logs for more), fix the arguments and start a new {action} job{again}"
    return f"the job is {state}; start a new {action} job{again}"


def job_view(service: JobService, record: dict[str, Any]) -> dict[str, Any]:
    """The status of a job as the MCP tools and resources give it: the service's view, its platform, a failed
    job's cause and the next step for its state."""
    view = service.view(record)
    view["platform"] = record.get("platform")
    if view["state"] == ERROR:
        view["cause"] = [view["message"], *(line for line in failure_cause(service, record) if line != view["message"])]
    view["next"] = next_hint(view)
    return view


# --- the workspace ---------------------------------------------------------------------------------


def workspace_text(workspace: Workspace, data_roots: dict[str, str]) -> str:
    """ocrnet://workspace: where paths may point, what a data root holds, the gt file format."""
    info = {
        "roots": [str(r) for r in workspace.roots],
        "relative_paths_resolve_under": str(workspace.roots[0]),
        "job_results_roots": [str(r) for r in workspace.managed],
        "data_roots": data_roots,
        "gt_file": "UTF-8 text, one line per image: `relative/image/path<TAB>label` (paths relative to the image "
        "folder)",
        "character_list": "UTF-8 text, one character per line",
        "files_of_a_job": FILES_TEMPLATE,
    }
    return json.dumps(info, indent=1)


# --- what the server adds to resources/list, resources/templates/list and resources/read ------------------

EXTRA_RESOURCES = (
    types.Resource(uri=WORKSPACE_URI, name="workspace", mime_type="application/json",
                   description="The workspace roots paths must lie in, what a data root holds, the gt file format"),
)  # fmt: skip
EXTRA_TEMPLATES = (
    types.ResourceTemplate(uri_template=FILES_TEMPLATE, name="job file", mime_type="application/octet-stream",
                           description="A file of a job's results folder (ocrnet_job_results lists them): text in "
                           f"pages of `limit` bytes from `offset` (default {TEXT_PAGE_BYTES}; _meta.next_offset), "
                           f"binary as a blob up to {BLOB_MAX_BYTES} bytes, else its path and size"),
)  # fmt: skip


def read_extra(service: JobService, workspace: Workspace, data_roots: dict[str, Any], uri: str) -> list[Any] | None:
    """The contents of ocrnet://workspace or a job file URI; None for any other URI. Blocking."""
    if uri == WORKSPACE_URI:
        return [types.TextResourceContents(uri=uri, mime_type="application/json",
                                           text=workspace_text(workspace, data_roots))]  # fmt: skip
    parsed = parse_file_uri(uri)
    if parsed is None:
        return None
    got = read_job_file(service, *parsed)
    if got.blob is not None:
        return [types.BlobResourceContents(uri=uri, mime_type=got.mime, blob=got.blob, _meta=got.meta)]
    return [types.TextResourceContents(uri=uri, mime_type=got.mime, text=got.text or "", _meta=got.meta)]
