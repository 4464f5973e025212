# SPDX-License-Identifier: Apache-2.0
"""JSON Schema of `best_rec.json` (the tao-artifacts shape the bank's AutoML runner writes and its adapters read).

- `metric_name` and `direction` are required;
- `best.specs` is nested: no dotted key at any depth, and no epoch-budget key (those live in
  `best.observed_budget`);
- `best` allows only the contract's keys.
"""

from __future__ import annotations

from typing import Any

import jsonschema

BUDGET_NAMES = ("num_epochs", "max_epochs", "epochs")

BEST_REC_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://tao-ocrnet/schemas/automl/best_rec.schema.json",
    "title": "AutoML best recommendation",
    "type": "object",
    "required": ["schema_version", "experiment_id", "metric_name", "direction", "best", "all_recs"],
    "properties": {
        "schema_version": {"const": 1},
        "experiment_id": {"type": "string", "minLength": 1},
        "metric_name": {"type": "string", "minLength": 1},
        "direction": {"enum": ["maximize", "minimize"]},
        "best": {
            "type": "object",
            "additionalProperties": False,
            "required": ["rec_id", "score", "specs", "observed_budget", "checkpoint_uri"],
            "properties": {
                "rec_id": {"type": "string", "minLength": 1},
                "score": {"type": "number"},
                "specs": {"$ref": "#/$defs/nested_spec"},
                "observed_budget": {
                    "type": "object",
                    "additionalProperties": {"type": "integer", "minimum": 0},
                },
                "checkpoint_uri": {"type": "string", "minLength": 1},
                "checkpoint_epoch": {"type": "integer", "minimum": 0},
                "checkpoint_step": {"type": "integer", "minimum": 0},
            },
        },
        "all_recs": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["rec_id", "score"],
                "properties": {
                    "rec_id": {"type": "string", "minLength": 1},
                    "score": {"type": ["number", "null"]},
                    "job_id": {"type": "string"},
                },
            },
        },
    },
    "$defs": {
        "nested_spec": {
            "type": "object",
            "propertyNames": {"pattern": "^[^.]+$", "not": {"enum": list(BUDGET_NAMES)}},
            "additionalProperties": {
                "anyOf": [{"$ref": "#/$defs/nested_spec"}, {"not": {"type": "object"}}],
            },
        },
    },
}


def validate_best_rec(data: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError when `data` does not follow the schema."""
    jsonschema.Draft202012Validator(BEST_REC_SCHEMA).validate(data)
