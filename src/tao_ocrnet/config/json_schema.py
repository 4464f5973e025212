# SPDX-License-Identifier: Apache-2.0
"""Strict JSON Schema 2020-12 renderings of each action's spec (`schemas/json-schema/<action>.json`).

Unlike the TAO dialect these are real JSON Schema: MCP tool `inputSchema`s are built from them and
`spec_overrides` are validated with them. Nothing is `required` (a spec or an override may hold only the
keys it changes; the loader reports missing values at run time), every section is closed
(`additionalProperties: false`), categoricals list their canonical values: call `canonicalise` (or
`validate`, which does) first, because the CLI accepts any case (`fp16` -> `FP16`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from tao_ocrnet.config.actions import ACTIONS, DEPLOY_ACTIONS
from tao_ocrnet.config.introspect import Node, leaf_index, spec_tree
from tao_ocrnet.config.templates import DEPLOY_LAYOUT, DEPLOY_TEMPLATE_NAME, template_dict

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = "schemas/json-schema"

_SCALAR = {"int": "integer", "float": "number", "bool": "boolean", "string": "string", "categorical": "string"}
_ITEMS = {"int": "integer", "float": "number", "string": "string", "dict": "object"}


def schema_names() -> tuple[str, ...]:
    """Names with a rendering: every schema'd action and the shared deploy spec."""
    return (*ACTIONS, DEPLOY_TEMPLATE_NAME)


def _sections_for(name: str) -> tuple[str, ...]:
    if name in ACTIONS:
        return ACTIONS[name].sections
    if name == DEPLOY_TEMPLATE_NAME or name in DEPLOY_ACTIONS:
        return tuple(DEPLOY_LAYOUT)
    template_dict(name)  # raises the user-facing "unknown action" error with a suggestion
    raise AssertionError(name)


def _leaf(node: Node) -> dict[str, Any]:
    if node.kind in _SCALAR:
        json_type: Any = _SCALAR[node.kind]
        out: dict[str, Any] = {"type": json_type}
    elif node.kind == "list":
        out = {"type": "array", "items": {"type": _ITEMS[node.item_kind or "string"]}}
    elif node.kind == "dict":
        out = {"type": "object"}  # free-form by design (e.g. quantize.backend_kwargs)
    else:
        raise TypeError(f"no JSON Schema type for {node.dotted} ({node.kind})")
    if node.nullable:
        out["type"] = [out["type"], "null"]
    out["description"] = node.description
    out["default"] = node.default
    if node.enum:
        out["enum"] = list(node.enum)
    for key, value in (
        ("minimum", node.minimum),
        ("maximum", node.maximum),
        ("exclusiveMinimum", node.exclusive_minimum),
        ("exclusiveMaximum", node.exclusive_maximum),
    ):
        if value is not None and math.isfinite(value):
            out[key] = value
    if node.pattern:
        out["pattern"] = node.pattern
    if node.meta.get("secret"):
        out["writeOnly"] = True  # never echo it back (encryption_key)
    return out


def _node(node: Node) -> dict[str, Any]:
    if not node.is_section:
        return _leaf(node)
    return {
        "type": "object",
        "description": node.description,
        "properties": {child.name: _node(child) for child in node.children},
        "additionalProperties": False,
    }


def json_schema(name: str) -> dict[str, Any]:
    """The 2020-12 schema for an action (or `deploy_experiment` / a TensorRT action: the shared deploy spec)."""
    sections = _sections_for(name)
    by_name = {child.name: child for child in spec_tree().children}
    title = "the shared TensorRT deploy spec" if name not in ACTIONS else f"the {name} action"
    return {
        "$schema": DIALECT,
        "$id": f"urn:tao-ocrnet:spec:{DEPLOY_TEMPLATE_NAME if name in DEPLOY_ACTIONS else name}",
        "title": f"OCRNet spec for {title}",
        "type": "object",
        "properties": {s: _node(by_name[s]) for s in sections},
        "additionalProperties": False,
    }


def canonicalise(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A copy of a nested spec with categorical values in their canonical case (as the loader stores them)."""
    index = leaf_index()
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        node = index.get(dotted)
        if isinstance(value, Mapping) and node is not None and node.is_section:
            out[key] = canonicalise(value, dotted + ".")
        elif node is not None and node.enum and isinstance(value, str):
            lookup = {str(choice).lower(): choice for choice in node.enum}
            out[key] = lookup.get(value.strip().lower(), value)
        else:
            out[key] = value
    return out


def validate(name: str, tree: Mapping[str, Any]) -> list[str]:
    """Every problem of a nested spec (or partial override) against the action's schema, one line each."""
    validator = Draft202012Validator(json_schema(name))
    problems = []
    for err in sorted(validator.iter_errors(canonicalise(tree)), key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(str(p) for p in err.absolute_path) or "(spec)"
        problems.append(f"`{where}`: {err.message}")
    return problems
