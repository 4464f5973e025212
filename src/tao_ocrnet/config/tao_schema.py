# SPDX-License-Identifier: Apache-2.0
"""TAO-dialect schemas (`schemas/<action>.schema.json`) from the spec models (the manifest that lists them is
`skill.schema_manifest`).

The dialect is what TAO's dataclass2json converter emits and the skill-bank consumers parse: leaf types
int/float/bool/string/categorical/list/list_2, `collection` sections, the full default spec at the root. Our
fixes: AutoML metadata only in train/retrain and only at root/collection level, `required` = what the action
really needs, finite bounds only, strict and sorted JSON.

TAO AutoML draws a float uniformly between a leaf's `minimum` and `maximum` (an unbounded side collapses to the
default), so in the AutoML schemas `train.optim.lr` states its search range there: the default optimizer's
(`LR_BY_OPTIMIZER`), not the (0, 10] the spec accepts, which moves to `x-tao-accepted-minimum/maximum`.
"""

from __future__ import annotations

import math
from typing import Any

from tao_ocrnet.config.actions import ACTIONS, NETWORK_ARCH, ActionInfo
from tao_ocrnet.config.introspect import Node, leaf_index, spec_tree
from tao_ocrnet.config.templates import template_dict

SCHEMA_VERSION = 1
SCHEMA_SOURCE = "tao_ocrnet.config.spec (pydantic spec models)"
# retrain has no CLI of its own: it is train with model.pruned_graph_path, so it reads train's schema.
SCHEMA_ACTION = {"retrain": "train"}
# Sections a training trial never tunes (logging, post-training quantization): disabled as a whole.
NOT_SEARCHED = ("quantize", "wandb")
# Learning-rate ranges per optimizer: the AutoML runner samples them log-uniformly, conditional on the optimizer.
LR_BY_OPTIMIZER = {"adadelta": (0.05, 1.0), "adam": (1e-5, 1e-3)}
LR_KEY = "train.optim.lr"


def schema_path(action: str) -> str:
    return f"schemas/{action}.schema.json"


def _sections(info: ActionInfo) -> list[Node]:
    by_name = {child.name: child for child in spec_tree().children}
    return [by_name[name] for name in info.sections]


def _required_keys(info: ActionInfo, sections: list[Node]) -> set[str]:
    """Keys the action needs set: the `???` fields of its sections plus the action's run-time required keys."""
    missing = {n.dotted for s in sections for n in (s, *s.walk()) if n.meta.get("missing")}
    return missing | set(info.required)


def _automl_flag(node: Node) -> bool | None:
    """A leaf's `automl_enabled` in an AutoML schema: True (default space), False (never) or None (on request)."""
    if node.dotted.split(".")[0] in NOT_SEARCHED or node.meta.get("secret"):
        return False
    return node.meta.get("automl")


def search_range(dotted: str) -> tuple[float, float] | None:
    """The range an AutoML schema states as `minimum`/`maximum` instead of the accepted bounds, if any."""
    if dotted == LR_KEY:
        return LR_BY_OPTIMIZER[leaf_index()["train.optim.name"].default]
    return None


def _bounds(node: Node, search: tuple[float, float] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lo = node.minimum if node.minimum is not None else node.exclusive_minimum
    hi = node.maximum if node.maximum is not None else node.exclusive_maximum
    low_name, high_name = ("x-tao-accepted-minimum", "x-tao-accepted-maximum") if search else ("minimum", "maximum")
    # Unbounded sides are omitted, never written as Infinity (not JSON; consumers then collapse the range).
    if lo is not None and math.isfinite(lo):
        out[low_name] = lo
        if node.exclusive_minimum is not None:
            out["x-tao-exclusive-minimum"] = True
    if hi is not None and math.isfinite(hi):
        out[high_name] = hi
        if node.exclusive_maximum is not None:
            out["x-tao-exclusive-maximum"] = True
    if search:
        assert (lo is None or search[0] >= lo) and (hi is None or search[1] <= hi), node.dotted
        out["minimum"], out["maximum"] = search
    return out


def _popular(node: Node, info: ActionInfo) -> bool:
    # Action-aware: only the action's own section suggests values (train's GPUs are not evaluate's).
    return bool(node.meta.get("popular")) and node.dotted.split(".")[0] == info.section


def _leaf(node: Node, info: ActionInfo) -> dict[str, Any]:
    automl = info.automl
    tao_type = node.meta.get("tao_type") or node.kind
    out: dict[str, Any] = {"type": tao_type, "default": node.default, "description": node.description}
    out.update(_bounds(node, search_range(node.dotted) if automl else None))
    if node.enum:
        out["enum"] = list(node.enum)
    if node.pattern:
        out["pattern"] = node.pattern
    if node.meta.get("secret"):
        out["x-tao-secret"] = True
    if automl and (flag := _automl_flag(node)) is not None:
        out["automl_enabled"] = flag
    if _popular(node, info):
        out["popular"] = True
    return out


def _collection(node: Node, required: set[str], info: ActionInfo) -> dict[str, Any]:
    props = {child.name: _node(child, required, info) for child in node.children}
    out: dict[str, Any] = {
        "type": "collection",
        "description": node.description,
        "default": node.default,
        "properties": props,
    }
    req = sorted(c.name for c in node.children if _holds_required(c, required))
    if req:
        out["required"] = req
    # Collection-level lists name direct children only; the root carries the dotted lists.
    popular = sorted(c.name for c in node.children if not c.is_section and _popular(c, info))
    if popular:
        out["popular"] = popular
    if info.automl:
        for key, flag in (("automl_default_parameters", True), ("automl_disabled_parameters", False)):
            names = sorted(c.name for c in node.children if not c.is_section and _automl_flag(c) is flag)
            if names:
                out[key] = names
    return out


def _holds_required(node: Node, required: set[str]) -> bool:
    return node.dotted in required or any(d.dotted in required for d in node.walk())


def _node(node: Node, required: set[str], info: ActionInfo) -> dict[str, Any]:
    return _collection(node, required, info) if node.is_section else _leaf(node, info)


def automl_lists(action: str) -> tuple[list[str], list[str]]:
    """(automl_default_parameters, automl_disabled_parameters) as sorted dotted keys; empty unless AutoML."""
    info = ACTIONS[action]
    if not info.automl:
        return [], []
    sections = _sections(info)
    leaves = [n for s in sections for n in ((s,) if not s.is_section else tuple(s.leaves()))]
    defaults = sorted(n.dotted for n in leaves if _automl_flag(n) is True)
    whole = [s.dotted for s in sections if s.dotted in NOT_SEARCHED]
    disabled = {n.dotted for n in leaves if _automl_flag(n) is False and n.dotted.split(".")[0] not in NOT_SEARCHED}
    return defaults, sorted(disabled | set(whole))


def popular_values(action: str) -> dict[str, Any]:
    """Root `popular`: the defaults of the popular leaves of the action's own section, nested."""
    info = ACTIONS[action]
    out: dict[str, Any] = {}
    for section in _sections(info):
        for leaf in section.leaves() if section.is_section else (section,):
            if _popular(leaf, info):
                node = out
                *parents, last = leaf.dotted.split(".")
                for part in parents:
                    node = node.setdefault(part, {})
                node[last] = leaf.default
    return out


def tao_schema(action: str) -> dict[str, Any]:
    """The TAO-dialect schema of one action (a JSON-ready dict)."""
    info = ACTIONS[action]
    sections = _sections(info)
    required = _required_keys(info, sections)
    schema: dict[str, Any] = {
        "type": "object",
        "description": f"OCRNet {action} spec",
        "properties": {s.name: _node(s, required, info) for s in sections},
        "default": template_dict(action),
        "x_tao_schema": {
            "action": action,
            "core_module": NETWORK_ARCH,
            "model": NETWORK_ARCH,
            "network_arch": NETWORK_ARCH,
            "schema_action": SCHEMA_ACTION.get(action, action),
            "schema_version": SCHEMA_VERSION,
            "source": SCHEMA_SOURCE,
        },
    }
    req = sorted(s.name for s in sections if _holds_required(s, required))
    if req:
        schema["required"] = req
    if info.automl:
        defaults, disabled = automl_lists(action)
        schema["automl_default_parameters"] = defaults
        schema["automl_disabled_parameters"] = disabled
    popular = popular_values(action)
    if popular:
        schema["popular"] = popular
    return schema
