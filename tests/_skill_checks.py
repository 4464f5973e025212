# SPDX-License-Identifier: Apache-2.0
"""Independent checkers for the skill tests: written from the contract, not from the generator's code.

- a strict JSON loader (no NaN/Infinity);
- a validator for the TAO schema dialect (types, enum, bounds, pattern, closed collections);
- the two frontmatter rule sets (skill-bank CI check 2, and the Agent Skills validator);
- the SKILL.md dataset-table parser and Files-cell cleaner as tao-automl's validator reads them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

# --- strict JSON -------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def strict_json(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def load_strict_json(path: Path) -> Any:
    return strict_json(path.read_text(encoding="utf-8"))


# --- TAO dialect -------------------------------------------------------------------------------

TAO_LEAF_TYPES = {"int", "float", "bool", "string", "categorical", "list", "list_2", "dict"}
TAO_LEAF_KEYS = {
    "type", "default", "description", "minimum", "maximum", "enum", "pattern", "automl_enabled", "popular",
    "x-tao-exclusive-minimum", "x-tao-exclusive-maximum", "x-tao-secret", "x-tao-accepted-minimum",
    "x-tao-accepted-maximum",
}  # fmt: skip
TAO_COLLECTION_KEYS = {
    "type", "description", "default", "properties", "required", "popular", "automl_default_parameters",
    "automl_disabled_parameters",
}  # fmt: skip


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("string", "categorical"):
        return isinstance(value, str)
    if kind in ("list", "list_2"):
        return isinstance(value, list)
    if kind == "dict":
        return isinstance(value, dict)
    raise AssertionError(f"unknown TAO type {kind}")


def tao_validate(node: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Problems of `value` against a TAO-dialect schema node (root `object` or `collection` or leaf)."""
    kind = node["type"]
    if kind in ("object", "collection"):
        if not isinstance(value, dict):
            return [f"{path or '(root)'}: expected a mapping"]
        props = node["properties"]
        problems = [f"{path}.{k}".lstrip(".") + ": unknown key" for k in value if k not in props]
        for key, child in props.items():
            if key in value:
                problems += tao_validate(child, value[key], f"{path}.{key}".lstrip("."))
        return problems
    if value is None:
        return [] if node.get("default", 0) is None else [f"{path}: null not allowed"]
    if not _type_ok(kind, value):
        return [f"{path}: {value!r} is not {kind}"]
    problems = []
    if "enum" in node and value not in node["enum"]:
        problems.append(f"{path}: {value!r} not in {node['enum']}")
    # minimum/maximum may be a search range; the accepted bounds then are x-tao-accepted-*.
    lo = node.get("x-tao-accepted-minimum", node.get("minimum"))
    hi = node.get("x-tao-accepted-maximum", node.get("maximum"))
    if lo is not None and (value < lo or (node.get("x-tao-exclusive-minimum") and value == lo)):
        problems.append(f"{path}: {value} below {lo}")
    if hi is not None and (value > hi or (node.get("x-tao-exclusive-maximum") and value == hi)):
        problems.append(f"{path}: {value} above {hi}")
    if "pattern" in node and not re.search(node["pattern"], value):
        problems.append(f"{path}: {value!r} does not match {node['pattern']}")
    return problems


def walk_schema(node: dict[str, Any], path: str = ""):
    """Yield (dotted path, node) for every property node of a TAO schema, depth first."""
    for key, child in node.get("properties", {}).items():
        dotted = f"{path}.{key}".lstrip(".")
        yield dotted, child
        if isinstance(child, dict):
            yield from walk_schema(child, dotted)


# --- frontmatter rule sets -------------------------------------------------------------------

FRONTMATTER_RE = re.compile(r"^---\n(.*?)\n---\n", re.DOTALL)  # the bank CI's own pattern
AGENT_SKILLS_FIELDS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}


def frontmatter(text: str) -> dict[str, Any]:
    match = FRONTMATTER_RE.match(text)
    assert match, "SKILL.md must start with a --- frontmatter block"
    data = yaml.safe_load(match.group(1))
    assert isinstance(data, dict)
    return data


def bank_frontmatter_errors(fm: dict[str, Any], dir_name: str) -> list[str]:
    """skill-bank validate-skills.sh check 2 (errors only)."""
    errors = []
    if fm.get("name") != dir_name:
        errors.append("name must equal the directory name")
    if not re.fullmatch(r"tao-[a-z0-9]+(-[a-z0-9]+)+", str(fm.get("name", ""))) or len(str(fm.get("name"))) > 64:
        errors.append("name must be kebab-case tao-<verb>-<object>, at most 64 chars")
    if "description" not in fm or "<" in str(fm["description"]):
        errors.append("description missing or holds '<'")
    if "license" not in fm:
        errors.append("license missing")
    compat = str(fm.get("compatibility", ""))
    if not compat or len(compat) > 500 or re.search(r"designed for (claude|codex|gemini|cursor)", compat, re.I):
        errors.append("compatibility missing, too long or harness-specific")
    meta = fm.get("metadata") if isinstance(fm.get("metadata"), dict) else {}
    if meta.get("author") != "NVIDIA Corporation":
        errors.append("metadata.author must be exactly NVIDIA Corporation")
    if not re.fullmatch(r"\d+\.\d+\.\d+", str(meta.get("version", ""))):
        errors.append("metadata.version must be strict semver")
    tags = fm.get("tags")
    if not tags or not isinstance(tags, list):
        errors.append("top-level tags must be a non-empty list")
    return errors


def agent_skills_errors(fm: dict[str, Any], dir_name: str) -> list[str]:
    """The Agent Skills validator's frontmatter rules (agentskills validate)."""
    errors = []
    extra = set(fm) - AGENT_SKILLS_FIELDS
    if extra:
        errors.append(f"unexpected fields: {sorted(extra)}")
    name = str(fm.get("name", ""))
    if not (1 <= len(name) <= 64) or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) or name != dir_name:
        errors.append("bad name")
    desc = fm.get("description")
    if not isinstance(desc, str) or not (1 <= len(desc) <= 1024):
        errors.append("description must be 1-1024 chars")
    if "compatibility" in fm and len(str(fm["compatibility"])) > 500:
        errors.append("compatibility over 500 chars")
    meta = fm.get("metadata", {})
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        errors.append("metadata must map strings to strings")
    return errors


# --- SKILL.md dataset table (as tao-automl's validator reads it) -------------------------------

TABLE_HEADER = "| Action | Spec Key | Source | Files | List? |"


def dataset_rows(text: str) -> list[dict[str, Any]]:
    rows, inside = [], False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(TABLE_HEADER):
            inside = True
            continue
        if inside and (not line.startswith("|") or line.startswith("### ")):
            break
        if not inside or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append(
            {"action": cells[0], "key": cells[1], "source": cells[2], "files": cells[3], "list": cells[4] == "Yes"}
        )
    return rows


def clean_file_spec(files: str) -> str:
    """The path tao-automl extracts from a Files cell (its `_clean_file_spec` rules that apply here)."""
    stripped = files.strip()
    if " extracted from " in files:
        return files.split(" extracted from ", 1)[1].strip()
    if " when using " in stripped:
        return stripped.split(" when using ", 1)[0].strip()
    if " or " in stripped:
        return stripped.split(" or ", 1)[0].strip()
    return stripped
