# SPDX-License-Identifier: Apache-2.0
"""`schemas/manifest.json`: every schema'd action with its paths and (action-aware) AutoML metadata."""

from __future__ import annotations

from typing import Any

from tao_ocrnet.config.actions import ACTIONS, NETWORK_ARCH, SCHEMA_ACTIONS
from tao_ocrnet.config.tao_schema import SCHEMA_ACTION, SCHEMA_VERSION, automl_lists, popular_values, schema_path
from tao_ocrnet.config.templates import template_path
from tao_ocrnet.jobs.skill_info import SKILL_NAME


def manifest() -> dict[str, Any]:
    """`schemas/manifest.json`: every schema'd action with its paths and (action-aware) AutoML metadata."""
    actions: dict[str, Any] = {}
    for action in SCHEMA_ACTIONS:
        defaults, disabled = automl_lists(action)
        actions[action] = {
            "path": schema_path(action),
            "json_schema": f"schemas/json-schema/{action}.json",
            "spec_template": template_path(action),
            "core_module": NETWORK_ARCH,
            "schema_action": SCHEMA_ACTION.get(action, action),
            "automl_enabled": ACTIONS[action].automl,
            "automl_default_parameters": defaults,
            "automl_disabled_parameters": disabled,
            "popular": popular_values(action),
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "model": SKILL_NAME,
        "network_arch": NETWORK_ARCH,
        "automl_enabled": any(info.automl for info in ACTIONS.values()),
        "failures": {},
        "actions": actions,
    }
