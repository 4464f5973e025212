# SPDX-License-Identifier: Apache-2.0
"""The official MCP conformance suite (npm `@modelcontextprotocol/conformance`, 0.2.0 series, 2026-07-28 and
the extensions) against `ocrnet mcp --http`, through `scripts/conformance.sh` (Node 22 and the suite from npm).

Every check must pass except those listed below as not applicable, each with the reason: they call the
suite's own fixture tools, prompts and resources (`test_simple_text`, `test://static-text`, `slow_compute`, ...),
which a real server does not have. A check that fails and is not listed fails this test; so does an
applicable scenario that did not run. Without npm (or without a registry) the test is skipped, except under
CI with a reachable registry, where it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tao_ocrnet.skill_root import find_project_root

ROOT = find_project_root()
SCRIPT = ROOT / "scripts" / "conformance.sh"
FIXTURE = "calls the suite's own fixture {} (the suite's reference server has it; this server serves OCRNet's)"

# Whole scenarios that exercise only the suite's fixtures.
NOT_APPLICABLE_SCENARIOS: dict[str, str] = {
    **{f"tools-call-{name}": FIXTURE.format("tool test_*")
       for name in ("simple-text", "image", "audio", "embedded-resource", "mixed-content", "with-logging",
                    "error", "with-progress", "sampling", "elicitation")},
    "json-schema-2020-12": FIXTURE.format("tool json_schema_2020_12_tool"),
    "elicitation-sep1034-defaults": FIXTURE.format("tool test_elicitation_sep1034_defaults"),
    "elicitation-sep1330-enums": FIXTURE.format("tool test_elicitation_sep1330_enums"),
    "resources-read-text": FIXTURE.format("resource test://static-text"),
    "resources-read-binary": FIXTURE.format("resource test://static-binary"),
    "resources-templates-read": FIXTURE.format("resource template test://template/{id}/data"),
    "prompts-get-simple": FIXTURE.format("prompt test_simple_prompt"),
    "prompts-get-with-args": FIXTURE.format("prompt test_prompt_with_arguments"),
    "prompts-get-embedded-resource": FIXTURE.format("prompt test_prompt_with_embedded_resource"),
    "prompts-get-with-image": FIXTURE.format("prompt test_prompt_with_image"),
    "http-custom-header-server-validation": "needs a tool with x-mcp-header annotations (SEP-2243); no OCRNet "
    "tool takes an argument from an HTTP header",
    **{f"input-required-result-{name}": FIXTURE.format("tool test_input_required_result_* / prompt")
       for name in ("basic-elicitation", "basic-sampling", "basic-list-roots", "request-state",
                    "multiple-input-requests", "multi-round", "non-tool-request", "result-type", "tampered-state",
                    "capability-check")},
    **{f"tasks-{name}": FIXTURE.format("tools slow_compute / greet / failing_job / protocol_error_job")
       for name in ("lifecycle", "capability-negotiation", "wire-fields", "request-state-removal", "mrtr-input",
                    "request-headers", "dispatch-and-envelope", "required-task-error", "mrtr-composition")},
}  # fmt: skip

# Single checks of otherwise applicable scenarios.
NOT_APPLICABLE_CHECKS: dict[str, str] = {
    "sep-2575-server-rejects-undeclared-capability": FIXTURE.format("diagnostic tool test_missing_capability"),
    "sep-2575-missing-capability-http-400": FIXTURE.format("diagnostic tool test_missing_capability"),
    "sep-2575-http-server-no-independent-requests-on-stream": FIXTURE.format("tool test_streaming_elicitation"),
    "sep-2575-server-no-log-without-loglevel": FIXTURE.format("tool test_logging_tool"),
}

# Scenarios that apply to this server: each must run and pass every check not listed above.
APPLICABLE = (
    "server-initialize", "server-session-lifecycle", "server-stateless", "logging-set-level", "ping",
    "completion-complete", "tools-list", "server-sse-multiple-streams", "resources-list", "resources-subscribe",
    "resources-unsubscribe", "sep-2164-resource-not-found", "sep-2640-skills-enumeration",
    "sep-2640-skills-manifest", "prompts-list", "dns-rebinding-protection", "caching", "http-header-validation",
)  # fmt: skip

_RESULT_DIR = re.compile(r"^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$")


def _unavailable(reason: str) -> None:
    """Skip, except under CI with a reachable npm registry: there the suite must run."""
    npm = shutil.which("npm")
    reachable = npm is not None and subprocess.run([npm, "ping"], capture_output=True, timeout=60).returncode == 0
    if os.environ.get("CI") and reachable:
        pytest.fail(f"CI: the conformance suite must run, but {reason}")
    pytest.skip(reason)


def _results(out: Path) -> dict[str, list[dict]]:
    by_scenario: dict[str, list[dict]] = {}
    for folder in sorted(out.iterdir()):
        m = _RESULT_DIR.match(folder.name)
        if m and (folder / "checks.json").is_file():
            by_scenario.setdefault(m.group(1), []).extend(json.loads((folder / "checks.json").read_text()))
    return by_scenario


@pytest.mark.slow
def test_conformance_suite_passes_every_applicable_check(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        _unavailable("npm is not installed, so Node 22 and the suite cannot be installed")
    if shutil.which("ocrnet") is None:
        pytest.fail("the `ocrnet` command is not on PATH (install the package)")
    install = subprocess.run([str(SCRIPT), "install"], capture_output=True, text=True, timeout=600)
    if install.returncode != 0:
        _unavailable(f"`scripts/conformance.sh install` failed: {install.stderr.strip()[-400:]}")
    out = tmp_path / "results"
    run = subprocess.run([str(SCRIPT), "run", str(out)], capture_output=True, text=True, timeout=600)
    results = _results(out) if out.is_dir() else {}
    assert results, f"the suite wrote no results:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"

    failed = [
        f"{scenario}: {check['id']}: {check.get('errorMessage', '')}"
        for scenario, checks in results.items()
        if scenario not in NOT_APPLICABLE_SCENARIOS
        for check in checks
        if check["status"] == "FAILURE" and check["id"] not in NOT_APPLICABLE_CHECKS
    ]
    assert not failed, "conformance checks failed:\n" + "\n".join(failed)
    missing = [s for s in APPLICABLE if not any(c["status"] == "SUCCESS" for c in results.get(s, []))]
    assert not missing, f"applicable scenarios that did not run or passed nothing: {missing}"
    unknown = sorted(set(NOT_APPLICABLE_SCENARIOS) - set(results))
    assert not unknown, f"scenarios listed as not applicable that the suite no longer has: {unknown}"
