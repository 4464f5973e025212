# SPDX-License-Identifier: Apache-2.0
"""AutoML settings: strict, validated before anything is created (TAO AutoML once ignored typos silently).

Keys follow the tao-automl settings with or without their `automl_` prefix (`automl_max_recommendations`
and `max_recommendations` are the same key). A typo is an error with a suggestion, never ignored; TAO keys
this runner does not offer are rejected with the reason.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tao_ocrnet.errors import SpecError

ALGORITHMS = ("bayesian", "random", "hyperband", "asha")
Algorithm = Literal["bayesian", "random", "hyperband", "asha"]
ALGORITHM_ALIASES = {"b": "bayesian", "h": "hyperband", "bo": "bayesian", "gp": "bayesian"}
# TAO brains this runner does not run, and what to use instead.
NOT_OFFERED = {
    "bohb": "use `hyperband` (TPE proposals with Hyperband pruning: what BOHB combines)",
    "bfbo": "use `bayesian`",
    "hyperband_es": "use `hyperband` or `asha` (early stopping is done by pruning on val_acc)",
    "hes": "use `hyperband` or `asha`",
    "dehb": "use `hyperband`",
    "pbt": "population-based training needs Ray Tune, which is not part of this runner",
    "llm": "LLM-driven search is not offered (it falls back to random silently in TAO)",
    "hybrid": "LLM-driven search is not offered",
    "autoresearch": "LLM-driven search is not offered",
}
KEY_ALIASES = {"num_recommendations": "max_recommendations"}
# tao-automl keys that have no meaning here, and why (an error says so instead of ignoring them).
TAO_ONLY_KEYS = {
    "session_id": "a study is resumed by its name (`ocrnet automl resume NAME`), no session id is needed",
    "automl_population_size": "population-based training is not offered",
    "automl_max_experiments": "autoresearch is not offered",
    "llm_endpoint": "LLM-driven search is not offered",
    "llm_model": "LLM-driven search is not offered",
    "llm_api_key": "LLM-driven search is not offered",
    "research_program": "LLM-driven search is not offered",
    "enable_llm_range_narrowing": "LLM-driven search is not offered",
    "automl_early_stop_threshold": "early stopping is done by the hyperband/asha pruners",
    "automl_min_early_stop_epochs": "early stopping is done by the hyperband/asha pruners",
    "run_final_evaluation": "a final evaluation is not run; evaluate the best checkpoint as a job",
}
STUDY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


class AutoMLSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: Algorithm = "bayesian"
    max_recommendations: int = Field(10, ge=1, le=100_000, description="trials to finish (COMPLETE or PRUNED)")
    # None: the base spec's train.num_epochs. Every trial trains this many epochs unless pruned.
    max_epochs: int | None = Field(None, ge=1, le=100_000)
    reduction_factor: int = Field(3, ge=2, le=100, description="hyperband/asha: keep 1/reduction_factor per rung")
    max_concurrent: int = Field(1, ge=1, le=256, description="local worker processes (one trial each at a time)")
    metric: Literal["val_acc"] = "val_acc"
    direction: Literal["maximize"] = "maximize"
    delete_intermediate_ckpt: bool = False
    storage: str | None = None  # None/"journal", "sqlite", or an RDB URL (postgresql://, mysql://, sqlite:///)
    study_name: str | None = Field(None, pattern=STUDY_NAME_PATTERN)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    timeout_minutes: float | None = Field(None, gt=0)
    max_consecutive_failures: int = Field(3, ge=1, le=1000)
    poll_interval: float = Field(0.5, gt=0, le=60, description="seconds between looks at a running trial")


FIELDS = tuple(AutoMLSettings.model_fields)


def _canonical_key(key: str) -> str:
    key = KEY_ALIASES.get(key, key)
    if key not in FIELDS and key.startswith("automl_") and key[len("automl_") :] in FIELDS:
        key = key[len("automl_") :]
    return key


def _algorithm_problem(value: Any) -> tuple[str | None, str | None]:
    """(canonical algorithm, problem)."""
    if not isinstance(value, str):
        return None, f"`algorithm` must be one of {', '.join(ALGORITHMS)}, not {value!r}"
    name = value.strip().lower()
    name = ALGORITHM_ALIASES.get(name, name)
    if name in ALGORITHMS:
        return name, None
    if name in NOT_OFFERED:
        return None, f"algorithm `{value}` is not offered by this runner: {NOT_OFFERED[name]}"
    close = difflib.get_close_matches(name, [*ALGORITHMS, *NOT_OFFERED], n=1, cutoff=0.6)
    hint = f"; did you mean `{close[0]}`?" if close and close[0] in ALGORITHMS else ""
    return None, f"unknown algorithm `{value}`; choose one of {', '.join(ALGORITHMS)}{hint}"


def _format(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if key in ("metric", "direction"):
            msg += " (the trial value is the best val_acc, which is what best_accuracy.pth keeps)"
        if key == "study_name":
            msg = "use letters, digits, `_`, `.` and `-` (at most 100 characters, starting with a letter or digit)"
        out.append(f"AutoML setting `{key}` = {err.get('input')!r}: {msg}")
    return out


def parse_settings(data: Mapping[str, Any] | AutoMLSettings | None = None, **updates: Any) -> AutoMLSettings:
    """Settings from a mapping (e.g. a settings file) plus keyword updates (e.g. CLI flags; None = not given).

    Raises SpecError listing every problem: unknown keys with a suggestion, TAO-only keys with the reason,
    unknown algorithms, out-of-range values.
    """
    if isinstance(data, AutoMLSettings):
        data = data.model_dump(exclude_unset=True)
    raw: dict[str, Any] = {}
    problems: list[str] = []
    items = [*(data or {}).items(), *((k, v) for k, v in updates.items() if v is not None)]
    for key, value in items:
        if not isinstance(key, str):
            problems.append(f"AutoML setting names are strings, not {key!r}")
            continue
        canonical = _canonical_key(key)
        if canonical in FIELDS:
            raw[canonical] = value
            continue
        if key in TAO_ONLY_KEYS:
            problems.append(f"AutoML setting `{key}` is not used by this runner: {TAO_ONLY_KEYS[key]}")
            continue
        names = [*FIELDS, *(f"automl_{f}" for f in FIELDS)]
        close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
        hint = f"; did you mean `{_canonical_key(close[0])}`?" if close else f"; known settings: {', '.join(FIELDS)}"
        problems.append(f"unknown AutoML setting `{key}`{hint}")
    if "algorithm" in raw:
        name, problem = _algorithm_problem(raw["algorithm"])
        if problem:
            problems.append(problem)
            raw.pop("algorithm")
        else:
            raw["algorithm"] = name
    try:
        settings = AutoMLSettings.model_validate(raw)
    except ValidationError as exc:
        problems += _format(exc)
        settings = None
    if problems or settings is None:
        raise SpecError(problems, "the AutoML settings are not valid")
    return settings
