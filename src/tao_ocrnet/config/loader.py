# SPDX-License-Identifier: Apache-2.0
"""Load a spec for one action: YAML file + dotted overrides + shorthand, validated with every problem reported.

Used by the CLI, the job layer and the MCP server, so all three give the same messages.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tao_ocrnet.config.actions import ActionInfo, action_info
from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.config.fields import is_unset
from tao_ocrnet.config.introspect import leaf_index
from tao_ocrnet.config.secrets import MASK, is_secret_name, redact
from tao_ocrnet.config.shorthand import shorthand_for
from tao_ocrnet.config.spec import ExperimentSpec
from tao_ocrnet.errors import SpecError


def read_spec_file(path: str | Path) -> dict[str, Any]:
    """Parse a YAML spec file into a mapping, with clear errors for missing or malformed files."""
    p = Path(path)
    if not p.is_file():
        raise SpecError([f"spec file `{p}` does not exist; pass an existing YAML file with -e"], "cannot read the spec")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError([f"`{p}` is not valid YAML{where}: {problem}"], "cannot read the spec") from None
    except UnicodeDecodeError:
        raise SpecError([f"`{p}` is not UTF-8 text"], "cannot read the spec") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SpecError(
            [f"`{p}` must hold a mapping of spec sections, not a {type(data).__name__}"], "cannot read the spec"
        )
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """`train.num_epochs=3` -> ("train.num_epochs", 3); values are parsed as YAML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SpecError([f"override `{text}` must look like dotted.key=value"], "bad override")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def parse_overrides(texts: Iterable[str]) -> dict[str, Any]:
    """Command-line `key=value` texts -> {dotted key: value}: parsed once, at the edge (CLI).

    A key given twice with different values is an error, as in `apply_overrides`.
    """
    pairs = [parse_override(text) for text in texts]
    apply_overrides({}, pairs)
    return dict(pairs)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping -> {dotted key: leaf value} (dict-typed leaves such as backend_kwargs stay whole)."""
    index = leaf_index()
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        node = index.get(dotted)
        if isinstance(value, Mapping) and (node is None or node.is_section):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def apply_overrides(
    tree: dict[str, Any], overrides: Iterable[str | tuple[str, Any]] | Mapping[str, Any], deploy: bool = False
) -> dict[str, Any]:
    """Return a copy of `tree` with dotted overrides applied (shorthand names resolved).

    The same key given twice with different values is an error rather than "last one wins":
    a conflicting request is far more likely a mistake than an intent.
    """
    aliases = shorthand_for(deploy)
    items = overrides.items() if isinstance(overrides, Mapping) else overrides
    result = copy.deepcopy(tree)
    seen: dict[str, tuple[str, Any]] = {}
    problems: list[str] = []
    for item in items:
        key, value = parse_override(item) if isinstance(item, str) else item
        dotted = aliases.get(key, key)
        pairs: Iterable[tuple[str, Any]]
        if isinstance(value, Mapping) and leaf_index().get(dotted) is not None and leaf_index()[dotted].is_section:
            pairs = flatten(value, dotted + ".").items()
        else:
            pairs = [(dotted, value)]
        for d, v in pairs:
            if d in seen and seen[d][1] != v:
                problems.append(
                    f"`{d}` is set twice with different values ({seen[d][0]}={_shown(d, seen[d][1])} and "
                    f"{key}={_shown(d, v)}); give it once"
                )
                continue
            seen[d] = (key, v)
            _set_dotted(result, d, v)
    if problems:
        raise SpecError(problems, "conflicting overrides")
    return result


def suggest_key(dotted: str) -> str | None:
    """The closest valid dotted key (or leaf name) for a typo."""
    keys = list(leaf_index())
    match = difflib.get_close_matches(dotted, keys, n=1, cutoff=0.6)
    if match:
        return match[0]
    last = dotted.rsplit(".", 1)[-1]
    by_leaf = [k for k in keys if k.rsplit(".", 1)[-1] == last]
    if by_leaf:
        return by_leaf[0]
    match = difflib.get_close_matches(last, [k.rsplit(".", 1)[-1] for k in keys], n=1, cutoff=0.75)
    if match:
        return next(k for k in keys if k.rsplit(".", 1)[-1] == match[0])
    return None


def _is_secret_key(dotted: str) -> bool:
    node = leaf_index().get(dotted)
    return is_secret_name(dotted.rsplit(".", 1)[-1]) or bool(node is not None and node.meta.get("secret"))


def _shown(dotted: str, value: Any) -> str:
    """`value` as an error message may show it: a secret key's value only by its type, others with secrets
    inside (nested secret keys, credential-shaped strings, URL passwords) masked."""
    if _is_secret_key(dotted):
        return f"<a {type(value).__name__}, not shown>"
    return repr(redact(value)[0])


def _describe_limit(node, kind: str) -> str:
    if node is None:
        return ""
    if node.enum:
        return f"; choose one of: {', '.join(node.enum)}"
    lo = node.minimum if node.minimum is not None else node.exclusive_minimum
    hi = node.maximum if node.maximum is not None else node.exclusive_maximum
    if lo is None and hi is None:
        return ""
    lo_s = "" if lo is None else (f"> {lo}" if node.exclusive_minimum is not None else f">= {lo}")
    hi_s = "" if hi is None else (f"< {hi}" if node.exclusive_maximum is not None else f"<= {hi}")
    return "; allowed: " + " and ".join(s for s in (lo_s, hi_s) if s)


def format_validation_error(exc: ValidationError) -> list[str]:
    """pydantic errors -> one actionable line each, naming the dotted key, the value and the fix."""
    index = leaf_index()
    problems: list[str] = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not isinstance(p, int)]
        # Discriminator-like entries (e.g. "literal['a']") are not keys.
        loc = [p for p in loc if not p.startswith(("function-", "literal["))]
        dotted = ".".join(loc)
        kind = err["type"]
        value = err.get("input")
        if kind == "extra_forbidden":
            hint = suggest_key(dotted)
            tip = f"; did you mean `{hint}`?" if hint else "; remove it"
            problems.append(f"unknown key `{dotted}`{tip}")
            continue
        node = index.get(dotted)
        if kind in ("literal_error", "enum"):
            problems.append(f"`{dotted}` = {_shown(dotted, value)} is not allowed{_describe_limit(node, kind)}")
        elif kind.startswith(("greater_than", "less_than")):
            problems.append(f"`{dotted}` = {_shown(dotted, value)} is out of range{_describe_limit(node, kind)}")
        elif kind == "model_type":
            problems.append(f"`{dotted}` must be a section (mapping of keys), not {_shown(dotted, value)}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            expected = f" (expected {'a list' if node.kind == 'list' else node.kind})" if node else ""
            problems.append(f"`{dotted}` = {_shown(dotted, value)}: {msg}{expected}")
    return problems


def _get(spec: ExperimentSpec, dotted: str) -> Any:
    node: Any = spec
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def _architecture_problems(spec: ExperimentSpec) -> list[str]:
    """Input sizes and widths the network cannot take (`ModelArch` owns these rules)."""
    try:
        ModelArch.from_spec(spec.model, ("0",), spec.dataset.max_label_length)
    except SpecError as exc:
        return exc.problems
    return []


def _required_message(key: str, info: ActionInfo) -> str:
    return f"`{key}` is required for {info.name}; set it in the spec or as an override `{key}=...`"


def _unset_required(tree: Mapping[str, Any], info: ActionInfo) -> list[str]:
    """Required keys left unset in a raw (not yet valid) tree; absent keys take their defaults."""
    absent = object()
    problems = []
    for key in info.required:
        node: Any = tree
        for part in key.split("."):
            node = node.get(part, absent) if isinstance(node, Mapping) else absent
        if node is absent:
            node = leaf_index()[key].default
        if is_unset(node):
            problems.append(_required_message(key, info))
    return problems


def runtime_problems(spec: ExperimentSpec, info: ActionInfo) -> list[str]:
    """Checks that need the whole spec and the action: required keys and cross-field rules."""
    problems = [_required_message(key, info) for key in info.required if is_unset(_get(spec, key))]
    if info.name in ("train", "retrain"):
        t = spec.train
        if t.checkpoint_interval_unit == "epoch" and t.checkpoint_interval > t.num_epochs:
            problems.append(
                f"`train.checkpoint_interval` = {t.checkpoint_interval} must be <= `train.num_epochs` = {t.num_epochs}"
            )
        if t.validation_interval > t.num_epochs:
            problems.append(
                f"`train.validation_interval` = {t.validation_interval} must be <= `train.num_epochs` = {t.num_epochs}"
            )
        d = spec.dataset
        if d.train_gt_file and len(d.train_dataset_dir) != 1:
            problems.append(
                "`dataset.train_gt_file` needs exactly one folder in `dataset.train_dataset_dir` "
                f"(got {len(d.train_dataset_dir)}); convert the others to LMDB with dataset_convert"
            )
    if info.name == "prune":
        ps = spec.prune.prune_setting
        if ps.mode == "threshold" and ps.threshold is None:
            problems.append(
                "`prune.prune_setting.threshold` is required when `prune.prune_setting.mode` is "
                "threshold; set a value in [0, 1]"
            )
    if info.name == "gen_trt_engine":
        trt = spec.gen_trt_engine.tensorrt
        if not trt.min_batch_size <= trt.opt_batch_size <= trt.max_batch_size:
            problems.append(
                "`gen_trt_engine.tensorrt.min_batch_size` <= `opt_batch_size` <= `max_batch_size` "
                f"must hold (got {trt.min_batch_size}, {trt.opt_batch_size}, {trt.max_batch_size})"
            )
    if info.name == "train" and not spec.model.pruned_graph_path:
        problems += _architecture_problems(spec)
    return problems


def validate_tree(tree: Mapping[str, Any], action: str | None = None, check_required: bool = True) -> ExperimentSpec:
    """Validate a nested spec mapping; raise SpecError listing every problem."""
    try:
        spec = ExperimentSpec.model_validate(tree)
    except ValidationError as exc:
        problems = format_validation_error(exc)
        if action is not None and check_required:
            # Report missing required values in the same message as the type/range errors.
            problems += _unset_required(tree, action_info(action))
        raise SpecError(problems) from None
    if action is not None and check_required:
        problems = runtime_problems(spec, action_info(action))
        if problems:
            raise SpecError(problems)
    return spec


def load_spec(
    action: str | None,
    spec_path: str | Path | None = None,
    overrides: Iterable[str | tuple[str, Any]] | Mapping[str, Any] = (),
    *,
    base: Mapping[str, Any] | None = None,
    check_required: bool = True,
) -> ExperimentSpec:
    """The one entry point: (base or {}) <- YAML file <- overrides, validated for `action`."""
    deploy = action is not None and action_info(action).deploy
    tree: dict[str, Any] = copy.deepcopy(dict(base)) if base else {}
    if spec_path is not None:
        tree = apply_overrides(tree, flatten(read_spec_file(spec_path)).items(), deploy)
    tree = apply_overrides(tree, overrides, deploy)
    return validate_tree(tree, action, check_required)


def masked_dump(spec: ExperimentSpec) -> dict[str, Any]:
    """The spec as plain data with every secret masked (leaves marked secret and secret-named keys)."""
    data: dict[str, Any] = redact(spec.model_dump(mode="json"))[0]
    for dotted, node in leaf_index().items():
        if node.meta.get("secret"):
            *parents, name = dotted.split(".")
            holder = data
            for part in parents:
                holder = holder[part]
            if holder.get(name):
                holder[name] = MASK
    return data


def spec_to_yaml(spec: ExperimentSpec) -> str:
    """The spec as YAML for a user to read or keep (`ocrnet spec render`, experiment.yaml): secrets masked."""
    return yaml.safe_dump(masked_dump(spec), sort_keys=False, default_flow_style=False)
