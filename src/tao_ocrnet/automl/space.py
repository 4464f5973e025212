# SPDX-License-Identifier: Apache-2.0
"""The search space: searchable parameters with finite ranges, and how a trial samples them (define-by-run).

- `train.optim.lr` has a log range per optimizer and, when `train.optim.name` is searched too, one Optuna
  parameter per optimizer (its range follows the sampled optimizer);
- `aug_prob` gates the other augmentation knobs: they are sampled only when aug_prob > 0;
- weighted options are drawn through one uniform number (Optuna has no weighted categorical);
- a pinned key (valid_min == valid_max, or a single option) is fixed in every searched trial.

`tao_ocrnet.automl.ranges` builds a space from the train schema. The space is serialisable (`to_dict`/
`from_dict`) so every worker, on any machine, samples the same space.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

LR_KEY = "train.optim.lr"
OPTIMIZER_KEY = "train.optim.name"
AUG_GATE = "dataset.augmentation.aug_prob"


@dataclass(frozen=True)
class Param:
    key: str  # dotted spec key
    kind: str  # float | int | bool | categorical
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()  # categorical / bool / valid_options on numbers
    weights: tuple[float, ...] = ()  # parallel to choices; empty = uniform
    per_optimizer: dict[str, tuple[float, float]] = field(default_factory=dict)  # lr ranges by optimizer
    conditional_on_optimizer: bool = False  # lr with train.optim.name searched: one Optuna param per optimizer
    gate: str | None = None  # sampled only when this key's value > 0
    pinned: Any = None  # valid_min == valid_max: fixed in every searched trial
    source: str = "schema"  # schema | requested | custom

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["choices"] = list(self.choices)
        out["weights"] = list(self.weights)
        out["per_optimizer"] = {k: list(v) for k, v in self.per_optimizer.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Param:
        d = dict(data)
        d["choices"] = tuple(d.get("choices") or ())
        d["weights"] = tuple(d.get("weights") or ())
        d["per_optimizer"] = {k: (float(v[0]), float(v[1])) for k, v in (d.get("per_optimizer") or {}).items()}
        return cls(**d)

    def describe(self, base: Any, optimizer: str | None = None) -> dict[str, Any]:
        """One row of the pre-launch review (`optimizer`: the fixed optimizer when it is not searched)."""
        out: dict[str, Any] = {"name": self.key, "type": self.kind, "baseline": base, "source": self.source}
        if self.pinned is not None:
            out["pinned"] = self.pinned
        elif self.per_optimizer and not self.conditional_on_optimizer and optimizer in self.per_optimizer:
            out["range"] = list(self.per_optimizer[optimizer])
            out["log"] = True
            out["note"] = f"the range for {OPTIMIZER_KEY} = {optimizer}"
        elif self.per_optimizer:
            out["range_by_optimizer"] = {k: list(v) for k, v in self.per_optimizer.items()}
            out["log"] = True
        elif self.choices:
            out["choices"] = list(self.choices)
            if self.weights:
                out["weights"] = list(self.weights)
        else:
            out["range"] = [self.low, self.high]
            out["log"] = self.log
        if self.gate:
            out["condition"] = f"only when {self.gate} > 0"
        if self.conditional_on_optimizer:
            out["condition"] = f"range follows {OPTIMIZER_KEY}"
        return out


def fmt_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class SearchSpace:
    """Ordered parameters (parents first) and the base values they replace."""

    def __init__(self, params: Sequence[Param], base: Mapping[str, Any], notes: Sequence[str] = ()) -> None:
        self.params = list(params)
        self.base = dict(base)  # dotted key -> the baseline's value, for every searched key and gate
        self.notes = list(notes)

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    def to_dict(self) -> dict[str, Any]:
        return {"params": [p.to_dict() for p in self.params], "base": self.base, "notes": self.notes}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchSpace:
        return cls([Param.from_dict(p) for p in data["params"]], data["base"], data.get("notes", ()))

    def describe(self) -> list[dict[str, Any]]:
        return [p.describe(self.base.get(p.key), self.base.get(OPTIMIZER_KEY)) for p in self.params]

    # --- sampling (define-by-run) ----------------------------------------------------------------------

    def suggest(self, trial: Any, baseline: bool = False) -> dict[str, Any]:
        """Dotted key -> value for one trial. `baseline` keeps pinned keys at their base value."""
        values: dict[str, Any] = {}
        for p in self.params:
            if p.gate is not None:
                gate_value = values.get(p.gate, self.base.get(p.gate, 0))
                if not gate_value or gate_value <= 0:
                    continue  # inert while the gate is off: not sampled, the base value stays
            if p.pinned is not None:
                if not baseline:
                    values[p.key] = p.pinned
                continue
            values[p.key] = self._suggest_one(trial, p, values)
        return values

    def _suggest_one(self, trial: Any, p: Param, values: Mapping[str, Any]) -> Any:
        if p.per_optimizer:
            optimizer = values.get(OPTIMIZER_KEY, self.base.get(OPTIMIZER_KEY))
            lo, hi = p.per_optimizer[optimizer]
            name = f"{p.key}[{optimizer}]" if p.conditional_on_optimizer else p.key
            return trial.suggest_float(name, lo, hi, log=True)
        if p.choices:
            if p.weights:
                # Optuna has no weighted categorical: sample u in [0, 1) and map it through the cumulative
                # weights, so a random sampler honours the weights exactly.
                u = trial.suggest_float(f"{p.key}#u", 0.0, 1.0)
                return p.choices[min(bisect.bisect_right(_cumulative(p.weights), u), len(p.choices) - 1)]
            return trial.suggest_categorical(p.key, list(p.choices))
        assert p.low is not None and p.high is not None, f"{p.key}: a numeric parameter without bounds"
        if p.kind == "int":
            return trial.suggest_int(p.key, int(p.low), int(p.high), log=p.log)
        return trial.suggest_float(p.key, float(p.low), float(p.high), log=p.log)

    def fixed_params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Optuna params that reproduce `values` (dotted key -> value) in `suggest`: for enqueue_trial."""
        out: dict[str, Any] = {}
        for p in self.params:
            if p.key not in values or p.pinned is not None:
                continue
            value = values[p.key]
            if p.per_optimizer and p.conditional_on_optimizer:
                out[f"{p.key}[{values.get(OPTIMIZER_KEY, self.base.get(OPTIMIZER_KEY))}]"] = value
            elif p.weights:
                i = list(p.choices).index(value) if value in p.choices else 0
                cum = [0.0, *_cumulative(p.weights)]
                out[f"{p.key}#u"] = (cum[i] + cum[i + 1]) / 2
            else:
                out[p.key] = value
        return out

    def baseline_values(self) -> dict[str, Any]:
        """The baseline's value of every key `suggest` would sample for it (gates follow the base values)."""
        values: dict[str, Any] = {}
        for p in self.params:
            if p.gate is not None and not (values.get(p.gate, self.base.get(p.gate, 0)) or 0) > 0:
                continue
            if p.pinned is None:
                values[p.key] = self.base.get(p.key)
        return values


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = float(sum(weights))
    out, acc = [], 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    return out
