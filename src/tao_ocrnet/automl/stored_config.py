# SPDX-License-Identifier: Apache-2.0
"""The study's stored configuration: what `ocrnet automl` saves in the Optuna study itself (its user attrs).

Everything a worker needs lives in the storage, so `ocrnet automl worker --study NAME --storage URL` works on
any machine that reaches the storage: no workspace file is required. A cancel and a stop are marks there too.
"""

from __future__ import annotations

import datetime as dt
import socket
from dataclasses import asdict, dataclass, field
from typing import Any

from tao_ocrnet.automl.space import SearchSpace
from tao_ocrnet.errors import UserError

CONFIG_ATTR = "ocrnet_automl"
CANCEL_ATTR = "canceled"
STOP_ATTR = "stopped"
CONFIG_VERSION = 1


@dataclass
class StudyConfig:
    """What every worker needs, stored in the study (JSON-ready)."""

    name: str
    settings: dict[str, Any]
    space: dict[str, Any]
    fixed: dict[str, Any]  # dotted overrides of every trial: the user's overrides, the budget, clamped intervals
    user_overrides: dict[str, Any]  # the user's own overrides (dotted), for the best spec
    adjustments: list[str]
    roots: dict[str, Any]
    parent_job: str | None
    epochs: int
    seed: int
    first_batch: int
    model_ema: bool
    action: str = "train"  # train, or retrain (a pruned model: parent_job is the prune job)
    key_env: str | None = None  # the NAME of the environment variable holding encryption_key
    platform: str | None = None  # the job platform of every trial (None: a study made before platforms: local)
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    created_on: str = field(default_factory=socket.gethostname)
    version: int = CONFIG_VERSION

    @property
    def search_space(self) -> SearchSpace:
        return SearchSpace.from_dict(self.space)

    @property
    def budget(self) -> int:
        return int(self.settings["max_recommendations"])

    def to_attr(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_study(cls, study: Any) -> StudyConfig:
        data = study.user_attrs.get(CONFIG_ATTR)
        if not isinstance(data, dict):
            raise UserError(f"study `{study.study_name}` was not created by `ocrnet automl` (no configuration)")
        if data.get("version", 0) > CONFIG_VERSION:
            raise UserError(f"study `{study.study_name}` was created by a newer tao-ocrnet; upgrade to run it")
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
