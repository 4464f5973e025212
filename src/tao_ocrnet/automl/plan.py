# SPDX-License-Identifier: Apache-2.0
"""Planning a study: every check that can fail, before anything is created (bad settings, a spec that cannot
load, a taken name).

settings -> study name and workspace -> storage URL -> the user's overrides, the epoch budget and the clamped
intervals -> the baseline spec (resolved like a job dry run: data sources, spec_params, validation) -> the search
space from the train schema -> the first batch (baseline + startup trials, sampled with the study's seed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from tao_ocrnet.automl import workspace as wsp
from tao_ocrnet.automl.algorithms import first_batch_size, sample_first_batch
from tao_ocrnet.automl.ranges import build_space, untunable_action
from tao_ocrnet.automl.settings import AutoMLSettings, parse_settings
from tao_ocrnet.automl.space import SearchSpace
from tao_ocrnet.automl.storage import default_url, url_problem
from tao_ocrnet.automl.stored_config import StudyConfig
from tao_ocrnet.config.loader import apply_overrides
from tao_ocrnet.config.shorthand import shorthand_for
from tao_ocrnet.config.tao_schema import tao_schema
from tao_ocrnet.config.templates import template_dict
from tao_ocrnet.datasources.resolver import DataRoots
from tao_ocrnet.datasources.roots import parse_uri
from tao_ocrnet.errors import SpecError, UserError
from tao_ocrnet.jobs.catalog import job_action
from tao_ocrnet.jobs.platforms.base import DEFAULT_PLATFORM, PLATFORM_ENV
from tao_ocrnet.jobs.request import JobRequest
from tao_ocrnet.jobs.resolve import absolute_paths
from tao_ocrnet.jobs.service import JobService


@dataclass(frozen=True)
class StudyRequest:
    """What a caller (CLI, MCP `ocrnet_train`) asks for besides the settings."""

    roots: DataRoots = field(default_factory=DataRoots)
    overrides: Mapping[str, Any] = field(default_factory=dict)  # the user's spec overrides (the baseline's spec)
    parameters: tuple[str, ...] | None = None  # None: the schema's automl_default_parameters
    custom_ranges: Mapping[str, Mapping[str, Any]] | None = None  # valid_min/valid_max/valid_options/option_weights
    parent_job: str | None = None  # a train job whose model every trial starts from (spec_params)
    baseline_job: str | None = None  # a finished train job on this data: its time per epoch gives the ETA
    action: str = "train"  # or retrain: every trial retrains the pruned model of parent_job
    key_env: str | None = None  # the NAME of the environment variable holding encryption_key (never stored)
    platform: str | None = None  # the job platform of every trial; None: $OCRNET_PLATFORM, else local


@dataclass
class Plan:
    settings: AutoMLSettings
    request: StudyRequest
    workspace: Path
    workspace_root: Path | None
    storage_url: str
    config: StudyConfig
    space: SearchSpace
    first_batch: list[dict[str, Any]]
    base_spec: dict[str, Any]
    notes: list[str]
    in_workspace: bool  # the storage is a file in the study workspace (created with it)

    @property
    def name(self) -> str:
        return self.config.name


def stable_seed(settings: AutoMLSettings, request: StudyRequest) -> int:
    """The default seed: a digest of the request, so a review (dry run) and the start that follows it show and
    run the same first batch; a different request gets different draws."""
    data = {
        "settings": settings.model_dump(mode="json", exclude={"seed", "study_name"}),
        "request": {k: v for k, v in asdict(request).items() if k not in ("baseline_job", "platform")},
    }
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:4], "big") % (2**31 - 1000)


def default_study_name(algorithm: str) -> str:
    return f"run_ocrnet_{algorithm}_{dt.datetime.now().strftime('%Y%m%d_%H%M%S')}"


def absolute_roots(roots: DataRoots) -> DataRoots:
    """Local dataset roots as absolute paths: workers run elsewhere (their own folder, another machine)."""

    def fix(uri: str | None) -> str | None:
        if not uri or uri.startswith("file:"):
            return uri
        parsed = parse_uri(uri)
        return str(parsed.path) if parsed.scheme == "local" else uri

    return DataRoots(
        train_datasets=tuple(fix(u) or u for u in roots.train_datasets),
        eval_dataset=fix(roots.eval_dataset),
        calibration_dataset=fix(roots.calibration_dataset),
        inference_dataset=fix(roots.inference_dataset),
    )


def _user_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    aliases = shorthand_for(False)
    apply_overrides({}, overrides)  # a shorthand and its key set differently is an error
    return {aliases.get(k, k): v for k, v in overrides.items()}


def _budget(settings: AutoMLSettings, user: dict[str, Any], template: Mapping[str, Any]) -> tuple[int, dict, list]:
    """(epochs, fixed budget overrides, adjustments): intervals clamped to the trial's epochs (an interval above
    num_epochs trips the trainer)."""
    train = template.get("train", {})
    epochs = int(settings.max_epochs or user.get("train.num_epochs") or train.get("num_epochs", 10))
    fixed: dict[str, Any] = {"train.num_epochs": epochs}
    notes = [f"train.num_epochs = {epochs} in every trial (the epoch budget; it is never searched)"]
    unit = user.get("train.checkpoint_interval_unit", train.get("checkpoint_interval_unit", "epoch"))
    for key, applies in (("checkpoint_interval", unit == "epoch"), ("validation_interval", True)):
        value = user.get(f"train.{key}", train.get(key, 1))
        if applies and isinstance(value, int) and value > epochs:
            fixed[f"train.{key}"] = epochs
            notes.append(f"train.{key} clamped from {value} to {epochs} (the trial's epochs)")
    return epochs, fixed, notes


def _base_spec(request: StudyRequest, overrides: dict[str, Any], platform: str) -> dict[str, Any]:
    """The baseline trial's resolved spec: a dry run of its job (data sources resolved, spec validated, the
    platform known)."""
    job = JobRequest(
        action=request.action,
        roots=request.roots,
        parent_job=request.parent_job,
        key_env=request.key_env,
        overrides=overrides,
        platform=platform,
    )
    try:
        submitted = JobService().submit(job, dry_run=True)
    except SpecError as exc:
        raise SpecError(exc.problems, "the baseline trial's spec is not valid") from None
    return yaml.safe_load(submitted.spec_yaml)


def plan_study(
    settings: Mapping[str, Any] | AutoMLSettings | None,
    request: StudyRequest,
    workspace_root: Path | None = None,
    *,
    check_new: bool = True,
) -> Plan:
    s = parse_settings(settings)
    request = replace(request, roots=absolute_roots(request.roots))
    if request.action not in ("train", "retrain"):
        raise UserError(untunable_action(request.action))
    name = s.study_name or default_study_name(s.algorithm)
    ws = wsp.workspace_for(name, workspace_root)
    suffix = 1
    while not s.study_name and ws.exists():  # two default names in one second
        suffix += 1
        ws = wsp.workspace_for(f"{name}_{suffix}", workspace_root)
    name = ws.name
    if check_new and ws.exists():
        raise UserError(
            f"study `{name}` already exists ({ws}); continue it with `ocrnet automl resume {name}` or choose "
            "another study name"
        )
    url = default_url(s.storage, ws)
    problem = url_problem(url)
    if problem:
        raise UserError(problem)
    # Absolute now: trials run in their own folders, where the user's relative paths would point elsewhere.
    user = absolute_paths(_user_overrides(request.overrides), job_action(request.action))
    template = template_dict("train")
    epochs, budget_keys, adjustments = _budget(s, user, template)
    fixed = {**user, **budget_keys}
    # Chosen once, here: every worker, wherever it runs, submits its trials to the same platform.
    platform = request.platform or os.environ.get(PLATFORM_ENV, "").strip() or DEFAULT_PLATFORM
    base = _base_spec(request, fixed, platform)
    space = build_space(tao_schema("train"), base, request.parameters, request.custom_ranges)
    seed = s.seed if s.seed is not None else stable_seed(s, request)
    size = first_batch_size(s)
    first = sample_first_batch(space, size, seed)
    model_ema = bool((base.get("train") or {}).get("model_ema"))
    notes = list(space.notes)
    if model_ema:
        notes.append("train.model_ema is on: val_acc is the EMA model's accuracy")
    if s.algorithm == "hyperband" and s.max_recommendations < 40:
        notes.append("Hyperband pruning works best with about 40 or more trials; with fewer, asha prunes sooner")
    if s.algorithm in ("hyperband", "asha") and epochs < s.reduction_factor:
        notes.append(f"with {epochs} epoch(s) per trial and reduction_factor {s.reduction_factor} little is pruned")
    cfg = StudyConfig(
        name=name,
        settings=s.model_dump(mode="json"),
        space=space.to_dict(),
        fixed=fixed,
        user_overrides=user,
        adjustments=adjustments,
        roots=request.roots.to_dict(),
        parent_job=request.parent_job,
        epochs=epochs,
        seed=seed,
        first_batch=size,
        model_ema=model_ema,
        action=request.action,
        key_env=request.key_env,
        platform=platform,
    )
    in_workspace = s.storage in (None, "", "journal", "sqlite")
    return Plan(s, request, ws, workspace_root, url, cfg, space, first, base, notes, in_workspace)
