# SPDX-License-Identifier: Apache-2.0
"""albumentations, imported without its start-up check for a newer release (nothing here reaches the network)."""

from __future__ import annotations

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # after the setting above

__all__ = ["A"]
