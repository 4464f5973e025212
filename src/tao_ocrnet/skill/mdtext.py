# SPDX-License-Identifier: Apache-2.0
"""Small helpers for the generated Markdown: spec facts, tables and numbers as text (the templates' filters)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from tao_ocrnet.config.introspect import Node, leaf_index


def value(v: Any) -> str:
    """A spec value as it would be written in YAML (flow style)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, str):
        return v if v else '""'
    if isinstance(v, list | dict):
        return json.dumps(v)
    return repr(v) if isinstance(v, float) else str(v)


def node(key: str) -> Node:
    return leaf_index()[key]


def default(key: str) -> str:
    return value(node(key).default)


def choices(key: str, sep: str = ", ") -> str:
    return sep.join(str(c) for c in node(key).enum)


def bounds(key: str) -> str:
    """`[lo, hi]` with `(` / `)` for exclusive sides, e.g. `(0.0, 10.0]`."""
    n = node(key)
    lo, lo_open = (n.exclusive_minimum, True) if n.exclusive_minimum is not None else (n.minimum, False)
    hi, hi_open = (n.exclusive_maximum, True) if n.exclusive_maximum is not None else (n.maximum, False)
    return f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"


def table(rows: Iterable[Iterable[str]], *header: str) -> str:
    """A Markdown table: `{{ rows | table("Action", "Spec Key") }}`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def code(text: Any) -> str:
    """An inline code span: `{{ names | map("code") | join(", ") }}`."""
    return f"`{text}`"


_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9 ._/-]*$")


def yaml_scalar(v: str) -> str:
    # Double-quoted JSON strings are valid YAML; plain style only where it cannot be misread.
    return v if _PLAIN.match(v) and not v.endswith(" ") else json.dumps(v)


def thousands(n: int) -> str:
    return f"{n:,}"


def percent(x: float, digits: int = 1) -> str:
    """A fraction as a percentage: 0.9015 -> `90.2%`."""
    return f"{100 * x:.{digits}f}%"
