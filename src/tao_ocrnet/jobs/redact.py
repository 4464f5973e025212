# SPDX-License-Identifier: Apache-2.0
"""Secrets never reach a record or a log: mask secret-named keys and credential-shaped values.

Credentials travel by environment variable NAME only, never by value; this is the safety net for anything a
user typed into an override or a spec.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "*****"
_SECRET_NAME = re.compile(r"(secret|password|passwd|token|api[_-]?key|encryption_key|access[_-]?key)", re.I)
_SECRET_VALUE = re.compile(
    r"AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|nvapi-[A-Za-z0-9_-]{10,}|ghp_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,}"
)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def _mask_string(text: str) -> str:
    key, sep, value = text.partition("=")
    if sep and value and is_secret_name(key.strip()):
        text = f"{key}={MASK}"
    return _SECRET_VALUE.sub(MASK, text)


def redact(obj: Any, path: str = "") -> tuple[Any, list[str]]:
    """A copy of `obj` with secrets masked, and the dotted paths that were masked."""
    found: list[str] = []
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            where = f"{path}.{key}" if path else str(key)
            if is_secret_name(str(key)) and isinstance(value, str) and value and value != MASK:
                out[key] = MASK
                found.append(where)
            else:
                out[key], inner = redact(value, where)
                found += inner
        return out, found
    if isinstance(obj, list):
        items = []
        for i, value in enumerate(obj):
            masked, inner = redact(value, f"{path}[{i}]")
            items.append(masked)
            found += inner
        return items, found
    if isinstance(obj, str):
        masked = _mask_string(obj)
        if masked != obj:
            found.append(path)
        return masked, found
    return obj, found
