# SPDX-License-Identifier: Apache-2.0
"""File formats the readers take, shared by the data readers and the data-source rules (which load no data code)."""

from __future__ import annotations

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
