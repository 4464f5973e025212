# SPDX-License-Identifier: Apache-2.0
"""Small Markdown helpers shared by the SKILL.md and deploy-guide renderers: spec facts as text."""

from __future__ import annotations

import json
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


def table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def code(lang: str, text: str) -> str:
    return f"```{lang}\n{text.rstrip()}\n```"
