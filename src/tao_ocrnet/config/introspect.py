# SPDX-License-Identifier: Apache-2.0
"""A plain view of the spec models, for generators and validators that should not know pydantic."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tao_ocrnet.config.spec import ExperimentSpec


@dataclass(frozen=True)
class Node:
    """One key of the spec: a section (with children) or a leaf."""

    name: str
    dotted: str
    kind: str  # int | float | bool | string | categorical | list | dict | collection
    description: str
    default: Any
    children: tuple[Node, ...] = ()
    enum: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    pattern: str | None = None
    nullable: bool = False
    item_kind: str | None = None  # for lists: int | float | string | dict
    meta: dict[str, Any] = field(default_factory=dict)  # x_tao: automl, popular, tao_type, missing, secret

    @property
    def is_section(self) -> bool:
        return self.kind == "collection"

    def walk(self):
        """Depth-first over this node's descendants (leaves and sections), in declaration order."""
        for child in self.children:
            yield child
            yield from child.walk()

    def leaves(self):
        return (n for n in self.walk() if not n.is_section)


_SCALARS = {int: "int", float: "float", bool: "bool", str: "string"}


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _kind(tp: Any) -> tuple[str, tuple[str, ...], str | None]:
    """Return (kind, enum, item_kind) for an annotation."""
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) is typing.Literal:
        return "categorical", tuple(typing.get_args(tp)), None
    if tp in _SCALARS:
        return _SCALARS[tp], (), None
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        item_kind = "dict" if typing.get_origin(item) is dict else _SCALARS.get(item, "string")
        return "list", (), item_kind
    if origin is dict:
        return "dict", (), None
    raise TypeError(f"unsupported spec annotation {tp!r}")


def _bounds(info: FieldInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in info.metadata:
        if isinstance(m, annotated_types.Ge):
            out["minimum"] = m.ge
        elif isinstance(m, annotated_types.Le):
            out["maximum"] = m.le
        elif isinstance(m, annotated_types.Gt):
            out["exclusive_minimum"] = m.gt
        elif isinstance(m, annotated_types.Lt):
            out["exclusive_maximum"] = m.lt
        elif hasattr(m, "pattern") and m.pattern is not None:
            out["pattern"] = m.pattern
    return out


def _node(name: str, dotted: str, info: FieldInfo) -> Node:
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    x_tao = extra.get("x_tao")
    meta = dict(x_tao) if isinstance(x_tao, dict) else {}
    default = info.get_default(call_default_factory=True)
    tp, nullable = _strip_optional(info.annotation)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        children = tuple(_node(k, f"{dotted}.{k}", f) for k, f in tp.model_fields.items())
        return Node(name, dotted, "collection", info.description or "", default.model_dump(), children, meta=meta)
    kind, enum, item_kind = _kind(tp)
    return Node(
        name,
        dotted,
        kind,
        info.description or "",
        default,
        enum=enum,
        nullable=nullable,
        item_kind=item_kind,
        meta=meta,
        **_bounds(info),
    )


@cache
def spec_tree() -> Node:
    """The whole spec as a tree of `Node`s (root kind `collection`, dotted "")."""
    children = tuple(_node(k, k, f) for k, f in ExperimentSpec.model_fields.items())
    return Node("", "", "collection", "OCRNet experiment spec", ExperimentSpec().model_dump(), children)


@cache
def leaf_index() -> dict[str, Node]:
    """Every dotted key (sections included) to its node."""
    return {n.dotted: n for n in spec_tree().walk()}
