# SPDX-License-Identifier: Apache-2.0
"""Building the search space from a TAO-dialect train schema: which keys are tunable, and their ranges.

- only scalar leaves (float, int, bool, categorical) of model/dataset/train are searchable; disabled, list,
  string and runtime/budget keys are rejected with the reason;
- every range is finite: the schema's bounds, narrowed to a decade around the default (log scale) when the
  schema spans orders of magnitude; never TAO's "infinite max becomes the default" collapse;
- `train.optim.lr` gets a log range per optimizer (Adadelta ~[0.05, 1], Adam ~[1e-5, 1e-3]);
- custom ranges (`valid_min`, `valid_max`, `valid_options`, `option_weights`) must lie within the values the
  schema accepts (an error otherwise, never a silent clip): its `x-tao-accepted-minimum/maximum` where
  `minimum`/`maximum` state a search range for TAO AutoML (`train.optim.lr`), else `minimum`/`maximum`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from tao_ocrnet.automl.space import AUG_GATE, LR_KEY, OPTIMIZER_KEY, Param, SearchSpace, fmt_value
from tao_ocrnet.config.introspect import leaf_index
from tao_ocrnet.config.loader import suggest_key
from tao_ocrnet.config.shorthand import shorthand_for
from tao_ocrnet.config.tao_schema import LR_BY_OPTIMIZER
from tao_ocrnet.errors import SpecError

SCOPE = ("model", "dataset", "train")  # train-scope sections only: a train trial never samples other actions' keys
SEARCHABLE_TYPES = ("float", "int", "bool", "categorical")
RANGE_KEYS = ("valid_min", "valid_max", "valid_options", "option_weights")
AUG_PREFIX = "dataset.augmentation."
AUG_UNGATED = (AUG_GATE, "dataset.augmentation.keep_aspect_ratio")
# Keys that are a budget or a property of the run, not of the model: searching them would compare apples to
# oranges (val_acc on other data, other epochs) or only change where/how fast it runs.
NOT_TUNABLE = {
    "train.num_epochs": "it is the trial budget; set the AutoML setting max_epochs instead",
    "train.checkpoint_interval": "it is clamped to the trial's epochs by the runner",
    "train.checkpoint_interval_unit": "it only changes when checkpoints are written",
    "train.validation_interval": "pruning reads every validation; it is clamped to the trial's epochs",
    "train.num_gpus": "it is a compute setting, not a hyperparameter",
    "train.num_nodes": "it is a compute setting, not a hyperparameter",
    "train.seed": "trials share one seed so that they compare configurations, not luck",
    "train.distributed_strategy": "it is a compute setting, not a hyperparameter",
    "train.use_distributed_sampler": "it is a compute setting, not a hyperparameter",
    "train.cudnn.benchmark": "it is a compute setting, not a hyperparameter",
    "train.cudnn.deterministic": "it is a compute setting, not a hyperparameter",
    "dataset.workers": "it only changes data-loading speed",
    "dataset.max_label_length": "it changes which samples are evaluated, so val_acc would not compare",
    "model.quantize": "quantization-aware training is not supported by this trainer",
}
# Actions that train nothing, so a study of them has no searchable parameters: why, and what to do instead.
UNTUNABLE_ACTIONS = {
    "prune": "prune removes channels and trains nothing. Run prune directly (automl_policy='off'), then tune the "
    "retrain of its pruned model: retrain with the prune job as parent_job_id, AutoML on",
    "quantize": "quantize is post-training quantization and trains nothing. Run it directly (automl_policy='off') "
    "on a trained model; to tune, tune the train (or retrain) whose model it quantizes",
}
WIDE_RATIO = 100.0  # a schema span this many times the default is narrowed around the default
EPS = 1e-9


def untunable_action(action: str) -> str:
    """The refusal for an AutoML study of an action other than train and retrain: why, and what to do."""
    why = UNTUNABLE_ACTIONS.get(action, f"{action} trains nothing. Run it directly (automl_policy='off')")
    return f"AutoML has no searchable parameters for {action}: {why}. Only train and retrain are tuned."


def schema_leaves(schema: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Dotted key -> leaf node of a TAO-dialect schema (sections recursed; the AutoML lists skipped)."""
    out: dict[str, dict[str, Any]] = {}

    def walk(props: Mapping[str, Any], prefix: str) -> None:
        for name, node in props.items():
            if not isinstance(node, Mapping):  # e.g. a stray list among properties, as in the reference schemas
                continue
            dotted = f"{prefix}{name}"
            if node.get("type") in ("collection", "object") and "properties" in node:
                out[dotted] = {**node, "_section": True}
                walk(node["properties"], dotted + ".")
            else:
                out[dotted] = dict(node)

    walk(schema.get("properties", {}), "")
    return out


def _schema_bounds(node: Mapping[str, Any]) -> tuple[float | None, float | None, bool, bool]:
    """The accepted bounds: (low, high, low exclusive, high exclusive)."""
    lo = node.get("x-tao-accepted-minimum", node.get("minimum"))
    hi = node.get("x-tao-accepted-maximum", node.get("maximum"))
    lo = lo if isinstance(lo, int | float) and math.isfinite(lo) else None
    hi = hi if isinstance(hi, int | float) and math.isfinite(hi) else None
    return lo, hi, bool(node.get("x-tao-exclusive-minimum")), bool(node.get("x-tao-exclusive-maximum"))


def _bounds_text(node: Mapping[str, Any]) -> str:
    lo, hi, xlo, xhi = _schema_bounds(node)
    left = "(-inf" if lo is None else ("(" if xlo else "[") + fmt_value(lo)
    right = "inf)" if hi is None else fmt_value(hi) + (")" if xhi else "]")
    return f"{left}, {right}"


def _within(value: float, node: Mapping[str, Any]) -> bool:
    lo, hi, xlo, xhi = _schema_bounds(node)
    if lo is not None and (value < lo or (xlo and value <= lo)):
        return False
    return not (hi is not None and (value > hi or (xhi and value >= hi)))


def _default_numeric_range(key: str, node: Mapping[str, Any], default: Any) -> tuple[float, float, bool] | str:
    """(low, high, log) from the schema, or a problem text."""
    lo, hi, xlo, xhi = _schema_bounds(node)
    kind = node.get("type")
    d = default if isinstance(default, int | float) and not isinstance(default, bool) else None
    if lo is None and (d is None or d <= 0):
        return f"`{key}` has no finite lower bound in the schema; give valid_min and valid_max"
    if hi is None and (d is None or d <= 0):
        return f"`{key}` has no finite upper bound in the schema; give valid_min and valid_max"
    if lo is None or hi is None:
        assert d is not None and d > 0  # a missing bound was refused above unless the default is positive
        lo = lo if lo is not None else d / 10
        hi = hi if hi is not None else d * 10
    if d is not None and d > 0 and hi / d > WIDE_RATIO:
        # A span of orders of magnitude (weight_decay in [0, 1] around 5e-4): search a decade around the
        # default on a log scale instead of a uniform draw that almost never lands near it.
        factor = 10 if kind == "float" else 4
        lo, hi = max(lo, d / factor), min(hi, d * factor)
        if kind == "int":
            lo, hi = math.ceil(lo), math.floor(hi)
        return lo, hi, lo > 0
    if xlo:
        lo = lo + max(EPS, (hi - lo) * 1e-6) if kind == "float" else lo + 1
    if xhi:
        hi = hi - max(EPS, (hi - lo) * 1e-6) if kind == "float" else hi - 1
    log = kind == "int" and lo >= 1 and hi / lo >= 16
    return lo, hi, log


class _Builder:
    def __init__(self, schema: Mapping[str, Any], base: Mapping[str, Any]) -> None:
        self.leaves = schema_leaves(schema)
        self.disabled = set(schema.get("automl_disabled_parameters") or ())
        self.defaults = list(schema.get("automl_default_parameters") or ())
        self.base = base
        self.problems: list[str] = []
        self.notes: list[str] = []

    def base_value(self, key: str) -> Any:
        node: Any = self.base
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return self.leaves.get(key, {}).get("default")
            node = node[part]
        return node

    def tunable_problem(self, key: str) -> str | None:
        node = self.leaves.get(key)
        if node is None:
            if key in leaf_index():
                return f"`{key}` is not a training parameter; only {', '.join(SCOPE)} keys are searchable during train"

            close = difflib.get_close_matches(key, [k for k, n in self.leaves.items() if "_section" not in n], n=1)
            hint = close[0] if close else suggest_key(key)
            return f"unknown parameter `{key}`" + (f"; did you mean `{hint}`?" if hint else "")
        if "_section" in node:
            children = [k for k in self.leaves if k.startswith(key + ".") and "_section" not in self.leaves[k]]
            return f"`{key}` is a section; name its parameters instead (e.g. {', '.join(children[:3])})"
        section = key.split(".")[0]
        if section not in SCOPE:
            return f"`{key}` is not a training parameter; only {', '.join(SCOPE)} keys are searchable during train"
        parents = {".".join(key.split(".")[:i]) for i in range(1, key.count(".") + 2)}
        if node.get("automl_enabled") is False or parents & self.disabled:
            return f"`{key}` is AutoML-disabled in the train schema"
        if key in NOT_TUNABLE:
            return f"`{key}` is not tunable: {NOT_TUNABLE[key]}"
        kind = node.get("type")
        if kind not in SEARCHABLE_TYPES:
            return f"`{key}` is a {kind}; only numbers, booleans and choices are searchable"
        if kind == "categorical" and len(node.get("enum") or ()) < 2:
            return f"`{key}` has a single option ({', '.join(map(str, node.get('enum') or ()))}); nothing to search"
        return None

    def build(self, key: str, custom: Mapping[str, Any] | None, source: str) -> Param | None:
        node = self.leaves[key]
        kind = node["type"]
        default = self.base_value(key)
        if kind in ("categorical", "bool"):
            return self._choice_param(key, node, kind, custom or {}, source)
        if custom and ("valid_options" in custom or "option_weights" in custom):
            return self._choice_param(key, node, kind, custom, source)
        if key == LR_KEY:
            return self._lr_param(node, custom or {}, source)
        rng = _default_numeric_range(key, node, default)
        if isinstance(rng, str) and not (custom and "valid_min" in custom and "valid_max" in custom):
            self.problems.append(rng)
            return None
        lo, hi, log = rng if not isinstance(rng, str) else (None, None, False)
        if custom:
            checked = self._custom_bounds(key, node, custom, lo, hi)
            if checked is None:
                return None
            lo, hi = checked
            log = log and lo > 0
            if lo == hi:
                return Param(key, kind, lo, hi, pinned=int(lo) if kind == "int" else lo, source=source)
        return Param(key, kind, lo, hi, log=log, source=source)

    def _custom_bounds(
        self, key: str, node: Mapping[str, Any], custom: Mapping[str, Any], lo: Any, hi: Any
    ) -> tuple[Any, Any] | None:
        new_lo, new_hi = custom.get("valid_min", lo), custom.get("valid_max", hi)
        ok = True
        for name, value in (("valid_min", new_lo), ("valid_max", new_hi)):
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
                self.problems.append(f"`{key}`: {name} must be a finite number, not {value!r}")
                ok = False
            elif node["type"] == "int" and float(value) != int(value):
                self.problems.append(f"`{key}` is an int: {name} = {value!r} is not a whole number")
                ok = False
            elif not _within(value, node):
                self.problems.append(
                    f"`{key}`: {name} = {fmt_value(value)} is outside the schema's bounds {_bounds_text(node)}"
                )
                ok = False
        if ok and new_lo > new_hi:
            lo_text, hi_text = fmt_value(new_lo), fmt_value(new_hi)
            self.problems.append(f"`{key}`: valid_min {lo_text} is greater than valid_max {hi_text}")
            ok = False
        if not ok:
            return None
        if node["type"] == "int":
            return int(new_lo), int(new_hi)
        return float(new_lo), float(new_hi)

    def _lr_param(self, node: Mapping[str, Any], custom: Mapping[str, Any], source: str) -> Param | None:
        ranges = dict(LR_BY_OPTIMIZER)
        if "valid_min" in custom or "valid_max" in custom:
            lo = custom.get("valid_min", min(r[0] for r in ranges.values()))
            hi = custom.get("valid_max", max(r[1] for r in ranges.values()))
            checked = self._custom_bounds(LR_KEY, node, {"valid_min": lo, "valid_max": hi}, lo, hi)
            if checked is None:
                return None
            if checked[0] == checked[1]:
                return Param(LR_KEY, "float", checked[0], checked[1], pinned=checked[0], source=source)
            # One user range applies to every optimizer.
            ranges = {name: (float(checked[0]), float(checked[1])) for name in ranges}
        return Param(LR_KEY, "float", log=True, per_optimizer=ranges, source=source)

    def _choice_param(
        self, key: str, node: Mapping[str, Any], kind: str, custom: Mapping[str, Any], source: str
    ) -> Param | None:
        for name in ("valid_min", "valid_max"):
            if name in custom and kind in ("categorical", "bool"):
                self.problems.append(f"`{key}` is a {kind}: use valid_options, not {name}")
                return None
        allowed = list(node.get("enum") or ()) if kind == "categorical" else [False, True] if kind == "bool" else []
        options = list(custom.get("valid_options", allowed))
        if not options:
            self.problems.append(f"`{key}`: valid_options is empty")
            return None
        bad = []
        for value in options:
            if kind in ("categorical", "bool"):
                if value not in allowed or (kind == "bool") != isinstance(value, bool):
                    bad.append(value)
            elif (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or (kind == "int" and float(value) != int(value))
                or not _within(value, node)
            ):
                bad.append(value)
        if bad:
            where = f"one of {allowed}" if allowed else f"{node['type']} values within {_bounds_text(node)}"
            self.problems.append(f"`{key}`: valid_options {bad} are not allowed; choose {where}")
            return None
        if len(set(map(repr, options))) != len(options):
            self.problems.append(f"`{key}`: valid_options has duplicates")
            return None
        weights = custom.get("option_weights")
        if weights is not None:
            if (
                not isinstance(weights, list | tuple)
                or len(weights) != len(options)
                or any(not isinstance(w, int | float) or isinstance(w, bool) or w < 0 for w in weights)
                or sum(weights) <= 0
            ):
                self.problems.append(
                    f"`{key}`: option_weights must be {len(options)} non-negative numbers (one per option) "
                    "with a positive sum"
                )
                return None
            # A zero weight removes the option; equal weights need no special sampling.
            kept = [(o, float(w)) for o, w in zip(options, weights, strict=True) if w > 0]
            options = [o for o, _ in kept]
            weights = [w for _, w in kept]
            if len(set(weights)) == 1:
                weights = None
        if kind == "int":
            options = [int(o) for o in options]
        if len(options) == 1:
            return Param(key, kind, choices=tuple(options), pinned=options[0], source=source)
        return Param(key, kind, choices=tuple(options), weights=tuple(weights or ()), source=source)


def _check_ranges(ranges: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    """(problems, keys whose range is malformed)."""
    problems: list[str] = []
    bad: set[str] = set()
    for key, custom in ranges.items():
        if not isinstance(custom, Mapping):
            problems.append(f"the custom range of `{key}` must be a mapping of {', '.join(RANGE_KEYS)}")
            bad.add(key)
            continue
        for name in custom:
            if name not in RANGE_KEYS:
                close = difflib.get_close_matches(str(name), RANGE_KEYS, n=1, cutoff=0.4)
                alias = {"min": "valid_min", "max": "valid_max", "values": "valid_options", "options": "valid_options"}
                hint = alias.get(str(name)) or (close[0] if close else None)
                tip = f"; did you mean `{hint}`?" if hint else f"; use {', '.join(RANGE_KEYS)}"
                problems.append(f"`{key}`: `{name}` is not a range key{tip}")
                bad.add(key)
    return problems, bad


def build_space(
    schema: Mapping[str, Any],
    base: Mapping[str, Any],
    parameters: Sequence[str] | None = None,
    custom_ranges: Mapping[str, Mapping[str, Any]] | None = None,
) -> SearchSpace:
    """The search space for a train schema and a base spec (nested: the baseline trial's spec).

    `parameters` replaces the schema's default list; a key with a custom range is searched even when the
    list does not name it. Raises SpecError with every problem.
    """
    aliases = shorthand_for(False)
    b = _Builder(schema, base)
    ranges = {aliases.get(k, k): v for k, v in (custom_ranges or {}).items()}
    range_problems, bad_ranges = _check_ranges(ranges)
    b.problems += range_problems
    requested = parameters is not None
    names = [aliases.get(k, k) for k in (parameters if parameters is not None else b.defaults)]
    if requested and not names and not ranges:
        b.problems.append("the parameter list is empty; name at least one parameter or omit the list")
    for key in ranges:
        if key not in names:
            names.append(key)
            b.notes.append(f"`{key}` is searched because a custom range was given for it")
    seen: set[str] = set()
    params: list[Param] = []
    for key in names:
        if key in seen:
            continue
        seen.add(key)
        problem = b.tunable_problem(key)
        if problem:
            b.problems.append(problem)
            continue
        if key in bad_ranges:
            continue  # already reported
        source = "custom" if key in ranges else ("requested" if requested else "schema")
        param = b.build(key, ranges.get(key), source)
        if param is not None:
            params.append(param)
    keys = {p.key for p in params}
    final: list[Param] = []
    for p in params:
        if p.key == LR_KEY and OPTIMIZER_KEY in keys and p.per_optimizer:
            p = replace(p, conditional_on_optimizer=True)
        if p.key.startswith(AUG_PREFIX) and p.key not in AUG_UNGATED:
            if AUG_GATE in keys:
                p = replace(p, gate=AUG_GATE)
            elif not (b.base_value(AUG_GATE) or 0) > 0:
                b.problems.append(
                    f"`{p.key}` has no effect while `{AUG_GATE}` = {b.base_value(AUG_GATE)} and aug_prob is not "
                    "searched; add aug_prob to the parameters or set it above 0"
                )
                continue
        final.append(p)
    if OPTIMIZER_KEY in keys and LR_KEY not in keys:
        b.problems.append(
            f"searching `{OPTIMIZER_KEY}` needs `{LR_KEY}` too: the learning rate is optimizer-specific "
            "(Adadelta ~1.0, Adam ~1e-3)"
        )
    if b.problems:
        raise SpecError(b.problems, "the search space is not valid")
    # Parents first: the optimizer before lr, aug_prob before its children.
    order = {OPTIMIZER_KEY: 0, AUG_GATE: 1}
    final.sort(key=lambda p: order.get(p.key, 2))
    base_values = {p.key: b.base_value(p.key) for p in final}
    for parent in (OPTIMIZER_KEY, AUG_GATE):
        base_values.setdefault(parent, b.base_value(parent))
    for p in final:
        value = base_values[p.key]
        if p.per_optimizer and base_values.get(OPTIMIZER_KEY) in p.per_optimizer:
            lo, hi = p.per_optimizer[base_values[OPTIMIZER_KEY]]
            if not lo <= value <= hi:
                b.notes.append(
                    f"the baseline's `{p.key}` = {fmt_value(value)} is outside the searched range [{lo:g}, {hi:g}]"
                )
    return SearchSpace(final, base_values, b.notes)
