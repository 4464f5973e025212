# SPDX-License-Identifier: Apache-2.0
"""The architecture holds: package layers (import-linter contracts in pyproject.toml), no import circle, types
(mypy), and the light paths (job submit, MCP start-up) load no torch. docs/ARCHITECTURE.md describes the same."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import grimp

from tao_ocrnet.skill_root import find_project_root

from jobs_fixtures import jobs_env, synth_root  # noqa: F401

ROOT = find_project_root()


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_import_layer_contracts_hold():
    lint_imports = shutil.which("lint-imports")
    assert lint_imports, "import-linter is a dev dependency: pip install -e '.[dev]'"
    proc = _run(lint_imports, "--no-cache")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def _cycles(adjacency: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in adjacency:
        if start in index:
            continue
        work = [(start, iter(adjacency[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(adjacency[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circle():
    graph = grimp.build_graph("tao_ocrnet")
    adjacency = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    assert _cycles(adjacency) == []
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]  # the check itself works


def test_actions_that_never_train_start_without_lightning():
    """Evaluate, inference, deploy and export jobs start without importing PyTorch Lightning (seconds each)."""
    graph = grimp.build_graph("tao_ocrnet", include_external_packages=True)
    for action in ("evaluate", "inference", "deploy", "export"):
        chain = graph.find_shortest_chain(importer=f"tao_ocrnet.actions.{action}", imported="pytorch_lightning")
        assert chain is None, " -> ".join(chain or ())
    assert graph.find_shortest_chain(importer="tao_ocrnet.actions.train", imported="pytorch_lightning")  # it works


def test_dataset_convert_runs_without_torch(tmp_path):
    """A dataset_convert job reads images and writes an LMDB: importing torch would add seconds to each one."""
    from data_fixtures import make_raw_set

    raw = make_raw_set(tmp_path / "raw", ["abc", "def"])
    spec = tmp_path / "spec.yaml"  # JSON is YAML
    section = {"input_img_dir": str(raw.img_dir), "gt_file": str(raw.gt_file), "results_dir": str(tmp_path / "lmdb")}
    spec.write_text(json.dumps({"dataset_convert": section}))
    script = textwrap.dedent(
        f"""
        import json, sys
        from tao_ocrnet.cli import main
        code = main(["dataset_convert", "-e", {str(spec)!r}])
        print(json.dumps({{"code": code, "torch": "torch" in sys.modules}}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"code": 0, "torch": False}, proc.stderr
    assert (tmp_path / "lmdb" / "data.mdb").is_file()


def test_job_submit_path_loads_no_torch(jobs_env, synth_root):  # noqa: F811
    script = textwrap.dedent(
        f"""
        import json, sys
        from tao_ocrnet.cli import main
        code = main(["jobs", "submit", "train", "--train-dataset", {str(synth_root)!r}, "--dry-run"])
        heavy = [name for name in ("torch", "pytorch_lightning", "optuna") if name in sys.modules]
        print(json.dumps({{"code": code, "heavy": heavy}}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}, proc.stderr


def test_types_check():
    proc = _run(sys.executable, "-m", "mypy")  # configured in pyproject.toml: src/tao_ocrnet
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_every_promise_names_a_test_that_exists():
    import re

    text = (ROOT / "docs" / "JOB-PROMISES.md").read_text(encoding="utf-8")
    named = re.findall(r"`(test_[a-z0-9_]+\.py)::(test_[a-z0-9_]+)`", text)
    assert len(named) >= 25
    for file, test in named:
        source = (ROOT / "tests" / file).read_text(encoding="utf-8")
        found = re.search(rf"^(async )?def {test}\(", source, re.M)
        assert found, f"docs/JOB-PROMISES.md names {file}::{test}, which is gone"
