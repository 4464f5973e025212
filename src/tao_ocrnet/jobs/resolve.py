# SPDX-License-Identifier: Apache-2.0
"""The one spec pipeline for a job: template -> data sources -> spec_params -> user overrides -> validation.

Every step writes dotted keys into one tree; validation is `tao_ocrnet.config.loader.validate_tree`, the
same as `ocrnet <action> -e`, so a job spec that resolves here also loads in the runner. The result is the
job's `spec.yaml` (returned as text by a dry run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import yaml

from tao_ocrnet.config.fields import is_unset
from tao_ocrnet.config.introspect import leaf_index
from tao_ocrnet.config.loader import apply_overrides, flatten, validate_tree
from tao_ocrnet.config.secrets import is_secret_name
from tao_ocrnet.config.shipped import (
    SHIPPED_MODEL_KEYS,
    SHIPPED_MODELS,
    is_shipped_name,
    names_shipped_model,
    shipped_model_file,
)
from tao_ocrnet.config.shorthand import shorthand_for
from tao_ocrnet.config.templates import template_dict
from tao_ocrnet.datasources.resolver import OPTION, InputResolver
from tao_ocrnet.datasources.rules import Rule
from tao_ocrnet.errors import SpecError, UserError
from tao_ocrnet.jobs.catalog import JobAction, job_actions
from tao_ocrnet.jobs.record import COMPLETE, state_of
from tao_ocrnet.jobs.request import JobRequest
from tao_ocrnet.jobs.spec_params import ParamRequest, evaluate_params, model_keys
from tao_ocrnet.results.layout import get_dotted, task_dir


@dataclass
class ResolvedJob:
    action: JobAction
    job_id: str
    results_dir: Path
    spec: dict[str, Any]  # nested, validated, JSON-ready
    spec_yaml: str
    task_dir: Path
    outputs: dict[str, str]  # create_* outputs and the task folder, for later parent lookups
    inputs: dict[str, Any]  # where each data-source value came from
    credentials: list[str]  # environment variable NAMES the data sources used
    split: str | None
    resume_checkpoint: Path | None
    notes: list[str] = field(default_factory=list)


def _user_keys(overrides: Mapping[str, Any], deploy: bool) -> dict[str, Any]:
    """Dotted key -> value of the user's overrides (aliases resolved; a shorthand and its key set differently
    raise)."""
    aliases = shorthand_for(deploy)
    apply_overrides({}, overrides, deploy)  # raises SpecError on conflicting duplicates
    return {aliases.get(k, k): v for k, v in overrides.items()}


def absolute_paths(user: dict[str, Any], action: JobAction) -> dict[str, Any]:
    """Relative paths in file/folder keys, made absolute against the submitter's folder.

    The job runs in its own folder, where a relative path the user typed would point somewhere else. A shipped
    model's short name in a model key stays a name, unless the submitter's folder holds a file of that name
    (that file wins, as in `ocrnet <action>`).
    """
    path_keys = set(action.entry.get("inputs", {}))  # output keys never get here (`_check_user_keys`)
    models = set(model_keys(action.params))

    def fix(value: Any, key: str) -> Any:
        if isinstance(value, list):
            return [fix(v, key) for v in value]
        if key in models and names_shipped_model(value):
            return value
        if isinstance(value, str) and value and "://" not in value and not Path(value).expanduser().is_absolute():
            return str(Path(value).expanduser().absolute())
        return value

    return {key: fix(value, key) if key in path_keys else value for key, value in user.items()}


def _model_file_problems(spec: dict[str, Any], action: JobAction) -> list[str]:
    """Every model key whose file the job would not find: caught here, at submit and in dry runs, not as an
    ERROR later. Parent models come only from COMPLETE parents (spec_params), so every file exists by now."""
    problems = []
    for key in model_keys(action.params):
        value = get_dotted(spec, key)
        if not isinstance(value, str) or is_unset(value):
            continue  # unset: validation (required keys) and the action (optional ones) decide
        if is_shipped_name(value) and not Path(value).is_absolute():  # left a name by `absolute_paths`
            if key not in SHIPPED_MODEL_KEYS:
                problems.append(
                    f"`{key}` = {value}: a shipped model's short name works only in "
                    f"{', '.join(sorted(SHIPPED_MODEL_KEYS))}; `{key}` needs a file path or a parent job"
                )
            elif not shipped_model_file(value).is_file():
                problems.append(f"`{key}`: shipped model {value} is missing from this installation; reinstall")
            continue
        path = Path(value).expanduser()
        if "://" in value or not path.is_absolute():
            problems.append(f"`{key}` = {value}: a model file must be a local path")
        elif not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            job = "a job to resume from" if action.params[key] == "resume_model" else "a parent job"
            instead = ["an existing file", job]
            if key in SHIPPED_MODEL_KEYS:
                instead.append(f"a shipped model's short name ({', '.join(SHIPPED_MODELS)})")
            problems.append(f"`{key}`: model file {path} {what}; give {', or '.join(instead)}")
    return problems


@cache
def _written_keys() -> frozenset[str]:
    """Spec keys that say where an action writes: every `results_dir`, the output files each action declares,
    and the TensorRT timing cache (read if present, rewritten after the build).

    Inside a job they all derive from the job's own folder (spec_params set the ones its action needs), so a
    job can never write into another job's results; the user may not set them.
    """
    results_dirs = {key for key in leaf_index() if key.rsplit(".", 1)[-1] == "results_dir"}
    outputs = {key for job in job_actions().values() for key in job.entry["outputs"]}
    return frozenset(results_dirs | outputs | {"gen_trt_engine.timing_cache"})


def _check_user_keys(user: dict[str, Any]) -> None:
    problems = []
    for key in flatten(user):  # a section given as a mapping ({"train": {"results_dir": ...}}) is its leaves
        if key in _written_keys():
            problems.append(
                f"`{key}` is bound to the job's results folder: a job writes only under <results root>/<job id>, "
                "so that no job can overwrite another's results; set OCRNET_RESULTS_ROOT to move job results"
            )
        elif is_secret_name(key.rsplit(".", 1)[-1]):
            problems.append(
                f"`{key}` is a secret and is never stored: export it in an environment variable and pass --key-env NAME"
            )
    if problems:
        raise SpecError(problems, "these overrides cannot be used in a job")


def _hints(action: JobAction, rules: dict[str, Rule]) -> dict[str, str]:
    hints = {key: f"pass {OPTION[rule.source]} URI" for key, rule in rules.items()}
    for key, fn in action.params.items():
        if fn in ("parent_model", "pruned_model"):
            hints[key] = "pass --parent-job ID"
    return hints


def _with_hints(exc: SpecError, hints: dict[str, str]) -> SpecError:
    problems = []
    for problem in exc.problems:
        for key, hint in hints.items():
            if problem.startswith(f"`{key}` is required"):
                problem = f"{problem}, or {hint}"
                break
        problems.append(problem)
    return SpecError(problems, "the job spec is not valid")


def _lookup(lookup_job: Callable[[str], dict[str, Any]], option: str, job_id: str | None) -> dict[str, Any] | None:
    if not job_id:
        return None
    try:
        return lookup_job(job_id)
    except UserError as exc:
        raise UserError(f"{option} {job_id}: {exc}") from None


def _dataset_job(lookup_job: Callable[[str], dict[str, Any]], job_id: str, uri: str) -> dict[str, Any]:
    """The record of the COMPLETE dataset_convert job that the dataset root `uri` (`job:<id>`) names."""
    record = lookup_job(job_id)
    if record["action"] != "dataset_convert":
        raise UserError(
            f"`{uri}`: job `{job_id}` is a {record['action']} job; a job: dataset root must be a dataset_convert job"
        )
    if state_of(record) != COMPLETE:
        raise UserError(
            f"`{uri}`: dataset_convert job `{job_id}` is {state_of(record)}, not COMPLETE; wait for it "
            f"(ocrnet jobs status {job_id})"
        )
    return record


def _spec_yaml(job_id: str, action: str, spec: dict[str, Any]) -> str:
    head = f"# job {job_id}: resolved {action} spec (template, data sources, spec_params, overrides)\n"
    # libyaml's dumper: the pure-Python one was most of a submit's time (~70 ms of a 120 ms MCP task start).
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return head + yaml.dump(spec, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def resolve_job(
    request: JobRequest,
    action: JobAction,
    job_id: str,
    results_dir: Path,
    cache_root: Path,
    lookup_job: Callable[[str], dict[str, Any]],
    dry_run: bool = False,
) -> ResolvedJob:
    deploy = action.deploy
    user = _user_keys(request.overrides, deploy)
    _check_user_keys(user)
    user = absolute_paths(user, action)
    skip = set(user)

    # 1. the action's template (== its schema default)
    tree = template_dict(action.name)

    # 2. data sources
    rules = action.rules
    split = None
    if action.splits:  # dataset_convert: one split per job, chosen by the root given
        has_train, has_eval = bool(request.roots.train_datasets), bool(request.roots.eval_dataset)
        if has_train and has_eval:
            raise UserError("dataset_convert converts one split per job: pass --train-dataset or --eval-dataset")
        split = "eval" if has_eval else "train"
        rules = action.splits[split]
        for uri in (*request.roots.train_datasets, request.roots.eval_dataset or ""):
            if uri.startswith("job:"):
                raise UserError(f"`{uri}`: dataset_convert reads raw images; a job: root is already an LMDB")
    resolver = InputResolver(request.roots, cache_root, partial(_dataset_job, lookup_job), dry_run=dry_run)
    inputs = resolver.resolve(rules, skip, action.name)
    tree = apply_overrides(tree, inputs.values.items(), deploy)

    # 3. spec_params
    params = ParamRequest(
        parent=_lookup(lookup_job, "--parent-job", request.parent_job),
        resume_from=_lookup(lookup_job, "--resume-from", request.resume_from),
        epoch=request.checkpoint_epoch,
        step=request.checkpoint_step,
    )
    if request.resume_from and "resume_model" not in action.params.values():
        raise UserError(f"{action.name} cannot resume; --resume-from applies to train and retrain")
    values, ctx = evaluate_params(action.name, action.params, tree, results_dir, params, skip)
    tree = apply_overrides(tree, values.items(), deploy)

    # 4. the user's overrides (they win over everything above)
    tree = apply_overrides(tree, list(user.items()), deploy)

    # 5. validation: the one path every spec takes
    try:
        spec_model = validate_tree(tree, action.name)
    except SpecError as exc:
        raise _with_hints(exc, _hints(action, rules)) from None
    # Keep the action's template sections only: the spec reads like `ocrnet spec show ACTION`.
    spec = {section: value for section, value in spec_model.model_dump(mode="json").items() if section in tree}
    problems = _model_file_problems(spec, action)
    if problems:
        raise SpecError(problems, "the job cannot read its model files")
    folder = task_dir(spec, action.name) or results_dir
    outputs = {"task_dir": str(folder)}
    for key, fn in action.params.items():
        if fn.startswith("create_"):
            node: Any = spec
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node:
                outputs[key] = str(node)
    return ResolvedJob(
        action=action,
        job_id=job_id,
        results_dir=results_dir,
        spec=spec,
        spec_yaml=_spec_yaml(job_id, action.name, spec),
        task_dir=folder,
        outputs=outputs,
        inputs=inputs.described,
        credentials=sorted(inputs.credentials),
        split=split,
        resume_checkpoint=ctx.resume_checkpoint,
        notes=ctx.notes,
    )
