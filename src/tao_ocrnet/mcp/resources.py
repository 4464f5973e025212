# SPDX-License-Identifier: Apache-2.0
"""Read-only resources: the skill's files (SKILL.md, references, schemas, templates) and per-job views.

Static resources are a fixed map from URI to file, built once at start-up from the skill root, so a URI can
never name a file outside it; each read checks again (after resolving links) that the file is still inside
the skill root and below the size limit. Job resources are `ocrnet://jobs/{job_id}/{log|status|results|spec}`
with the id validated before any file is touched.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tao_ocrnet.config.secrets import redact
from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs.ids import check_job_id
from tao_ocrnet.jobs.service import JobService
from tao_ocrnet.mcp import constants as C

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
        return json.dumps(service.view(record), indent=1, default=str)
    if view == "results":
        return json.dumps(service.results(job_id), indent=1, default=str)
    spec_path = Path(record["job_dir"]) / "spec.yaml"
    return spec_path.read_text(encoding="utf-8") if spec_path.is_file() else ""
