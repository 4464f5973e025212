# SPDX-License-Identifier: Apache-2.0
"""The character list: one parser for every path (train, evaluate, export, deploy).

PyTorch-reference semantics (the reference's deploy side read the file differently; one reader here):
UTF-8, a leading BOM is dropped, every line is stripped, and each remaining character becomes a class in
file order. So a blank line vanishes, a multi-character line adds each of its characters, and whitespace can
never be a class. Duplicates are rejected: they would make two class indices decode to the same text.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Sequence
from pathlib import Path

from tao_ocrnet.errors import DataError

ALNUM36 = string.digits + string.ascii_lowercase
#: Built-in character lists (`ocrnet synth --charset NAME`).
CHARSETS: dict[str, str] = {
    "alnum36": ALNUM36,
    "alnum62": string.digits + string.ascii_lowercase + string.ascii_uppercase,
    "lower26": string.ascii_lowercase,
    "digits": string.digits,
}

__all__ = ["CHARSET_KEY", "charset_hash", "load_charset", "parse_charset_text"]

#: The spec key named in error messages.
CHARSET_KEY = "dataset.character_list_file"


def parse_charset_text(text: str, source: str = "<text>", key: str = CHARSET_KEY) -> tuple[str, ...]:
    """Parse the contents of a character-list file (see the module docstring for the rules)."""
    text = text.removeprefix("\ufeff")
    chars: list[str] = []
    first_line: dict[str, int] = {}
    duplicates: list[str] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        for ch in line.strip():
            if ch in first_line:
                duplicates.append(f"{ch!r} on line {line_no} (first on line {first_line[ch]})")
                continue
            first_line[ch] = line_no
            chars.append(ch)
    if duplicates:
        shown = "; ".join(duplicates[:5]) + (f"; ... {len(duplicates) - 5} more" if len(duplicates) > 5 else "")
        raise DataError(f"{key}: {source} lists characters more than once: {shown}")
    if not chars:
        raise DataError(f"{key}: {source} holds no characters")
    return tuple(chars)


def load_charset(path: str | Path, key: str = CHARSET_KEY) -> tuple[str, ...]:
    """Read a character list; index i of the result is class i (before the codec's special tokens)."""
    p = Path(path)
    if not str(path):
        raise DataError(f"{key} is not set")
    if not p.is_file():
        raise DataError(f"{key}: {p} does not exist or is not a file")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{key}: {p} is not UTF-8 ({exc})") from exc
    except OSError as exc:
        raise DataError(f"{key}: cannot read {p}: {exc}") from exc
    return parse_charset_text(text, source=str(p), key=key)


def charset_hash(charset: Sequence[str]) -> str:
    """A stable fingerprint of the class order (sha256 hex) for checkpoints and ONNX sidecars."""
    # One character per line, as the file would hold it; order matters, so it is part of the hash.
    return hashlib.sha256("\n".join(charset).encode("utf-8")).hexdigest()
