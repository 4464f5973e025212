# SPDX-License-Identifier: Apache-2.0
"""Field helpers for the spec models: one place that attaches TAO metadata to pydantic fields.

Every leaf of the spec is declared with `field(...)`; categoricals are `Literal[...]` annotations.
The metadata attached (`x_tao`) is what the skill generator turns into the TAO-dialect schemas,
the JSON Schema 2020-12 renderings and the MCP tool arguments.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, Field

MISSING = "???"
"""TAO/OmegaConf marker for a value that must be set before the action runs."""


def is_unset(value: Any) -> bool:
    """Spec convention: None, "", the MISSING marker "???" and empty lists all mean "not set"."""
    if isinstance(value, list):
        return all(is_unset(v) for v in value)
    return value is None or str(value).strip() in ("", MISSING)


def field(
    default: Any,
    description: str,
    *,
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    lt: float | None = None,
    automl: bool | None = None,
    popular: bool = False,
    tao_type: str | None = None,
    missing: bool = False,
    secret: bool = False,
    pattern: str | None = None,
) -> Any:
    """A spec leaf. `missing` marks the reference's `???` (required when its action runs)."""
    extra: dict[str, Any] = {}
    if automl is not None:
        extra["automl"] = automl
    if popular:
        extra["popular"] = True
    if tao_type:
        extra["tao_type"] = tao_type
    if missing:
        extra["missing"] = True
    if secret:
        extra["secret"] = True
    kwargs: dict[str, Any] = {"description": description, "json_schema_extra": {"x_tao": extra}}
    for name, value in (("ge", ge), ("le", le), ("gt", gt), ("lt", lt), ("pattern", pattern)):
        if value is not None:
            kwargs[name] = value
    if isinstance(default, list | dict):
        snapshot = list(default) if isinstance(default, list) else dict(default)
        return Field(default_factory=lambda: type(snapshot)(snapshot), **kwargs)
    return Field(default, **kwargs)


def literal_choices(annotation: Any) -> tuple[Any, ...]:
    """The allowed values of a `Literal[...]` annotation (optionally inside Optional), else ()."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = inner[0] if len(inner) == 1 else annotation
    return typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()


def normalise_choices(model: type[BaseModel], data: Any) -> Any:
    """Accept categorical values in any case (`fp16` -> `FP16`: the reference's enum and docs disagree); store
    the canonical one."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for name, info in model.model_fields.items():
        value = out.get(name)
        if isinstance(value, str):
            lookup = {str(c).lower(): c for c in literal_choices(info.annotation)}
            out[name] = lookup.get(value.strip().lower(), value)
    return out
