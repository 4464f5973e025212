# SPDX-License-Identifier: Apache-2.0
"""`references/pretrained_model_card.md`: the shipped model's card. Its text is `text/pretrained_model_card.md.j2`;
its facts are those recipes/ship_model.py recorded when it packaged the weights (so the card cannot drift from
the file)."""

from __future__ import annotations

from typing import Any

from tao_ocrnet.config.arch import feature_map_size
from tao_ocrnet.config.shipped import DEFAULT_MODEL, shipped_model_facts
from tao_ocrnet.skill.text import render_text

MODEL_CARD = "references/pretrained_model_card.md"


def render_model_card(facts: dict[str, Any] | None = None) -> str:
    f = facts or shipped_model_facts(DEFAULT_MODEL)
    a = f["architecture"]
    return render_text(
        "pretrained_model_card.md.j2",
        model=f,
        arch=a,
        data=f["data"],
        training=f["training"],
        recipe=f["recipe"],
        # Optional keys of the facts file.
        num_more=f["data"].get("num_more", 0),
        by_label_length=f["test"].get("by_label_length", []),
        external=f.get("external", []),
        earlier=f["data"].get("earlier"),
        # The phases of this release's run (carried phases of the previous release say `ran_for`).
        phases_here=[i + 1 for i, ph in enumerate(f["training"]["phases"]) if "ran_for" not in ph],
        test_backgrounds=f["data"].get("test_backgrounds", 0),
        ctc_steps=feature_map_size(a["backbone"], a["input_height"], a["input_width"])[1],
    )
