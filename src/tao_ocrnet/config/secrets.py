# SPDX-License-Identifier: Apache-2.0
"""What counts as a secret and how it is masked: one rule for every text that reaches a user.

Secret-named keys (`encryption_key`, `*password*`, `*token*`, ...), credential-shaped values (AWS, NGC,
GitHub, Hugging Face keys) and the `user:password@` part of URLs. The spec (`ocrnet spec render`,
experiment.yaml, validation errors), the jobs layer (records, logs, tool results) and data-source
messages (S3 endpoints) all mask through here. Standard library only: the jobs layer's fast paths load it.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "*****"
_SECRET_NAME = re.compile(r"(secret|password|passwd|token|api[_-]?key|encryption_key|access[_-]?key)", re.I)
_SECRET_VALUE = re.compile(
    r"AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|nvapi-[A-Za-z0-9_-]{10,}|ghp_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,}"
)
# scheme://userinfo@ : userinfo runs to the last `@` before the host (an unencoded `@` in a password too).
_URL_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#'\"]+@")


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def mask_text(text: str) -> str:
    """`text` with credential-shaped values, URL userinfo and the value of `secret_name=value` masked."""
    key, sep, value = text.partition("=")
    if sep and value and is_secret_name(key.strip()):
        text = f"{key}={MASK}"
    return _URL_USERINFO.sub(rf"\1{MASK}@", _SECRET_VALUE.sub(MASK, text))


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
        masked = mask_text(obj)
        if masked != obj:
            found.append(path)
        return masked, found
    return obj, found


# How a job hands `encryption_key` to its action: the runner reads the variable `--key-env NAME` names and sets
# this one for the command it starts; `actions.common.run_action` takes encryption_key from it when the spec has
# none. So no file holds the key and nothing holding it outlives the job's processes, even after kill -9.
ENCRYPTION_KEY_ENV = "OCRNET_ENCRYPTION_KEY"
