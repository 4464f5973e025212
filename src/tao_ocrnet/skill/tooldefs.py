# SPDX-License-Identifier: Apache-2.0
"""MCP tool definitions, built from the action schemas and skill_info (pure; used by the generator).

`tools_document()` is the content of the generated `schemas/mcp/tools.json`: the `tools` list is served
verbatim by `tools/list`, and `bindings` tell the server how each tool's arguments become a job request
(which spec key a popular argument sets, which data sources and parent options an action takes, which
spec keys hold paths). Nothing here is typed by hand that the spec models or skill_info already say:
argument types, bounds, enums and defaults are copied from the action's JSON Schema 2020-12.

Adding a tool is one `ToolDef` in `tool_registry()` (its handler is named as "module:function" and
imported on first call), e.g. the AutoML tools of issue 7.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tao_ocrnet.automl.router import QUICK_START
from tao_ocrnet.automl.settings import STUDY_NAME_PATTERN, AutoMLSettings
from tao_ocrnet.config.actions import ACTIONS, ALL_ACTIONS
from tao_ocrnet.config.json_schema import json_schema
from tao_ocrnet.config.render import GENERATED_BY
from tao_ocrnet.config.shorthand import shorthand_for
from tao_ocrnet.config.tao_schema import popular_values
from tao_ocrnet.config.templates import DEPLOY_TEMPLATE, DEPLOY_TEMPLATE_NAME, template_dict, template_path
from tao_ocrnet.datasources.rules import SOURCE_FALLBACKS
from tao_ocrnet.jobs import skill_info as md
from tao_ocrnet.jobs.catalog import JobAction, job_actions
from tao_ocrnet.jobs.platforms.base import PLATFORM_ENV, PLATFORMS
from tao_ocrnet.jobs.record import STATES
from tao_ocrnet.jobs.spec_params import ACCEPTED_PARENTS, key_kind
from tao_ocrnet.mcp import constants as C
from tao_ocrnet.results.layout import get_dotted

HANDLERS = "tao_ocrnet.mcp.handlers"

# Which spec leaves hold paths (confined to the workspace): names, not types, say it.
PATH_LEAF = re.compile(r"(_dir|_file|_path|_cache|checkpoint|trt_engine)$")
MISSING_KEY = object()


@dataclass(frozen=True)
class ToolDef:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    annotations: dict[str, Any]
    handler: str  # "module:function", imported by the server on first call
    binding: dict[str, Any] = field(default_factory=dict)  # what the handler needs; never sent to clients
    execution: dict[str, Any] | None = None  # MCP tasks (2025-11-25): {"taskSupport": "optional"} for job starters

    def wire(self) -> dict[str, Any]:
        """The tool as `tools/list` sends it (camelCase keys)."""
        out = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
            "annotations": self.annotations,
        }
        if self.execution is not None:
            out["execution"] = self.execution
        return out


# --- shared schema pieces ----------------------------------------------------------------------


def _object(props: dict[str, Any], required: Iterable[str] = (), closed: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    req = list(required)
    if req:
        out["required"] = req
    if closed:
        out["additionalProperties"] = False
    return out


def _input(props: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    # No `$schema`: MCP's default dialect is 2020-12 and the server compiles Draft202012Validator itself.
    return _object(props, required)


# The spec's defaults (readOnly false, destructive true, idempotent false, openWorld true) are left out.
HINT_DEFAULTS = {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False, "openWorldHint": True}


def _annotations(title: str, *, read_only: bool, destructive: bool, idempotent: bool, open_world: bool) -> dict:
    """The hints that differ from the spec's defaults (the tool's own `title` names it, so no copy here)."""
    hints = {"readOnlyHint": read_only, "idempotentHint": idempotent, "openWorldHint": open_world}
    if not read_only:  # destructiveHint and idempotentHint are meaningful only for tools that change something
        hints["destructiveHint"] = destructive
    else:
        del hints["idempotentHint"]
    return {k: v for k, v in hints.items() if v != HINT_DEFAULTS[k]}


JOB_ID = {"type": "string", "pattern": C.JOB_ID_PATTERN}


def _result(*required: str) -> dict[str, Any]:
    """An output schema: an open object with the keys every result has. tools/list stays small; each result's
    text block carries the full JSON anyway."""
    return {"type": "object", "required": list(required)}


JOB_VIEW = _result("id", "action", "state")

# Only the keys every submit result has are required; dry runs add spec_yaml, waits add kpis, train adds automl.
# A call routed to AutoML returns `study` (and `job_id` only once the baseline trial is a job).
SUBMIT_RESULT = _result("action", "state", "dry_run")

# --- action tools ------------------------------------------------------------------------------

PURPOSE = {
    "dataset_convert": "Convert one split of raw word crops (images + gt file) to an LMDB (one split per call).",
    "train": "Train OCRNet on LMDB or raw data (parent_job_id: start from its weights).",
    "retrain": "Retrain a pruned model (parent_job_id: a COMPLETE prune job) to recover accuracy.",
    "evaluate": "Measure a trained model's accuracy on the eval split (KPI test_acc, percent).",
    "inference": "Read the text of every image in a folder with a trained model (inference_results.json).",
    "export": "Export a trained model to ONNX for ONNX Runtime or TensorRT.",
    "prune": "Prune channels of a trained model; follow with ocrnet_retrain.",
    "quantize": "Post-training quantization of a trained model.",
    "gen_trt_engine": "Build a TensorRT engine from an export job's ONNX file (needs a GPU with TensorRT).",
    "trt_evaluate": "Evaluate an ONNX file (ONNX Runtime) or a TensorRT engine on raw eval images (KPI Accuracy).",
    "trt_inference": "Run an exported ONNX file or a TensorRT engine on a folder of images.",
}
NEXT = {  # "with parent_job_id" is implied: the instructions say how jobs chain
    "dataset_convert": "job:<job_id> as train_datasets or eval_dataset",
    "train": "ocrnet_evaluate, ocrnet_export or ocrnet_prune",
    "retrain": "ocrnet_evaluate or ocrnet_export",
    "evaluate": "ocrnet_job_results (KPIs)",
    "inference": "ocrnet_job_results (predictions)",
    "export": "ocrnet_trt_evaluate or ocrnet_gen_trt_engine",
    "prune": "ocrnet_retrain",
    "quantize": "ocrnet_job_results",
    "gen_trt_engine": "ocrnet_trt_evaluate or ocrnet_trt_inference",
    "trt_evaluate": "ocrnet_job_results (KPIs)",
    "trt_inference": "ocrnet_job_results (predictions)",
}
# Said once (server instructions, ocrnet://workspace), not in every tool's arguments.
URI_KINDS = "a path, file://, s3://bucket/prefix or job:<dataset_convert job id>"
GT_FORMAT = "one `relative/image/path<TAB>label` line per image (UTF-8)"


def tool_name(action: str) -> str:
    return f"{C.TOOL_PREFIX}{action}"


def schema_name(action: str) -> str:
    """The JSON Schema file an action's spec validates against (the deploy actions share one)."""
    return action if action in ACTIONS else DEPLOY_TEMPLATE_NAME


def _leaf_schema(schema: dict[str, Any], dotted: str) -> dict[str, Any]:
    node = schema
    for part in dotted.split("."):
        node = node["properties"][part]
    return node


def schema_leaves(schema: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Every leaf of a spec JSON Schema by dotted key (sections are `type: object` with `properties`)."""
    out: dict[str, dict[str, Any]] = {}
    for name, sub in schema.get("properties", {}).items():
        dotted = f"{prefix}{name}"
        if sub.get("type") == "object" and "properties" in sub:
            out.update(schema_leaves(sub, dotted + "."))
        else:
            out[dotted] = sub
    return out


def _popular_keys(action: str) -> list[str]:
    if action not in ACTIONS:
        return []  # the deploy spec marks no popular fields

    def walk(tree: dict[str, Any], prefix: str) -> Iterable[str]:
        for key, value in tree.items():
            if isinstance(value, dict):
                yield from walk(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}"

    return list(walk(popular_values(action), ""))


def _popular_args(action: str, schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(properties, arg -> dotted key) for the action's popular fields, typed as in its schema."""
    props: dict[str, Any] = {}
    keys: dict[str, str] = {}
    for dotted in _popular_keys(action):
        arg = dotted.rsplit(".", 1)[-1]
        if arg in keys:  # two popular leaves with one name: fall back to the dotted path
            arg = dotted.replace(".", "_")
        leaf = copy.deepcopy(_leaf_schema(schema, dotted))
        leaf.pop("writeOnly", None)
        if arg != dotted.rsplit(".", 1)[-1] or not leaf.get("description"):  # the key is in the binding otherwise
            leaf["description"] = f"{dotted}: {leaf.get('description', '')}".rstrip(": ")
        props[arg] = leaf
        keys[arg] = dotted
    return props, keys


def _sources(action: JobAction) -> dict[str, list[tuple[str, Any]]]:
    """Data source -> [(spec key, rule)] for every rule of the action (both dataset_convert splits)."""
    out: dict[str, list[tuple[str, Any]]] = {}
    rule_sets = list(action.splits.values()) or [action.rules]
    for rules in rule_sets:
        for key, rule in rules.items():
            out.setdefault(rule.source, []).append((key, rule))
    order = list(SOURCE_FALLBACKS)
    return dict(sorted(out.items(), key=lambda item: order.index(item[0])))


def _source_arg(source: str, pairs: list[tuple[str, Any]], given: list[str], convert: bool) -> dict[str, Any]:
    """A data-root argument, described tersely (root kinds: the instructions; keys it sets: describe_action)."""
    files = ", ".join(dict.fromkeys(rule.path for _, rule in pairs))
    fallback = [s for s in SOURCE_FALLBACKS[source] if s in given and s != source]
    extra = f" Default: the {fallback[0]} root." if fallback else ""
    if convert:  # dataset_convert: the root given picks the split
        split = "train" if source == "train_datasets" else "eval"
        extra = f" Converts the {split} split; give this or {'eval_dataset' if split == 'train' else 'train_datasets'}."
    if any(rule.image_folder for _, rule in pairs):
        files += ", or a folder of images"
    text = f"Root with {files}.{extra}"
    if source == "train_datasets":
        many = any(rule.is_list for _, rule in pairs)
        out: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
        out["minItems"] = 1
        if not many:
            out["maxItems"] = 1
        out["description"] = text.replace("Root", "Roots" if many else "One root")
        return out
    return {"type": "string", "description": text}  # an empty root is refused by the workspace check


def _parent_args(action: JobAction) -> tuple[dict[str, Any], dict[str, Any]]:
    """parent_job_id (and checkpoint_epoch/step, resume_from_job_id) where spec_params read a parent."""
    props: dict[str, Any] = {}
    reading = ("parent_model", "pruned_model", "ptm_if_no_resume_model")
    readers = {k: fn for k, fn in action.params.items() if fn in reading}
    info: dict[str, Any] = {"parent_keys": sorted(readers)}
    if readers:
        accepted: list[str] = []
        for key, fn in readers.items():
            kind = "pretrained" if fn == "ptm_if_no_resume_model" else key_kind(key)
            accepted += [a for a in ACCEPTED_PARENTS[kind] if a not in accepted]
        props["parent_job_id"] = {**JOB_ID, "description": f"A COMPLETE {' or '.join(accepted)} job."}
        info["parents"] = accepted
        if any(a in ("train", "retrain") for a in accepted) and any(
            fn in ("parent_model", "ptm_if_no_resume_model") for fn in readers.values()
        ):
            for name in ("checkpoint_epoch", "checkpoint_step"):
                props[name] = {"type": "integer", "minimum": 0}  # the parent's checkpoint of that epoch / step
    if "resume_model" in action.params.values():
        props["resume_from_job_id"] = {**JOB_ID, "description": f"A {action.name} job to continue (as a new job)."}
    return props, info


def _example(action: str, schema: dict[str, Any], skip: Iterable[str], reads: list[str]) -> dict[str, Any]:
    """A spec_overrides example: a plain (non-path, non-popular) field the action reads, of its own section
    first; {} when it reads none (dataset_convert: only paths)."""
    section = ALL_ACTIONS[action].section or ""
    template = template_dict(action)  # the deploy template keeps only the keys TensorRT uses
    plain: list[tuple[str, Any]] = []
    for key, leaf in schema_leaves(schema).items():
        kind_ok = leaf.get("type") in ("integer", "number", "string") and not PATH_LEAF.search(key.rsplit(".")[-1])
        used = get_dotted(template, key, MISSING_KEY) is not MISSING_KEY
        if kind_ok and used and key not in skip and not leaf.get("writeOnly") and key.split(".")[0] in reads:
            plain.append((key, leaf["default"]))
    own = [pair for pair in plain if pair[0].startswith(f"{section}.")]
    return dict((own or plain)[:1])


def platform_arg() -> dict[str, Any]:
    """`platform`: where the job (or each AutoML trial) runs; the names follow `PLATFORMS`."""
    return {"enum": list(PLATFORMS)}  # the default ($OCRNET_PLATFORM, else local) is in the instructions


def _control_args(action: str) -> dict[str, Any]:
    """The arguments every action tool shares; what they mean is said once, in the server instructions."""
    props: dict[str, Any] = {
        "key_env": {"type": "string", "pattern": C.ENV_NAME_PATTERN},
        # Keys are checked against the action's spec (with did-you-mean) by the server; ocrnet_describe_action
        # gives the fields and an example, the instructions say what it is.
        "spec_overrides": {"type": "object", "maxProperties": C.MAX_OVERRIDES},
        "dry_run": {"type": "boolean"},
        "wait_seconds": {"type": "integer", "minimum": 0, "maximum": C.WAIT_MAX_SECONDS},
        "platform": platform_arg(),
    }
    if ALL_ACTIONS[action].automl:
        props["automl_policy"] = {
            "enum": ["on", "off", "auto"],
            "description": 'Default on (a study of several trials); "off" trains once. Omitted: read from `request`.',
        }
        props["request"] = {
            "type": "string",
            "maxLength": C.MAX_REQUEST_CHARS,
            "description": "The user's words (e.g. 'one run, no HPO'); decides automl_policy when not given.",
        }
        props["automl_settings"] = automl_settings_arg()
    return props


# The AutoML settings a tool call may set; storage (a database URL) and the runner's internals stay CLI-only.
MCP_AUTOML_SETTINGS = ("algorithm", "max_recommendations", "max_epochs", "reduction_factor", "max_concurrent",
                       "seed", "study_name", "delete_intermediate_ckpt", "timeout_minutes")  # fmt: skip


def automl_settings_arg() -> dict[str, Any]:
    """`automl_settings`, typed from the AutoMLSettings model (bounds, enums, patterns copied, not retyped)."""
    fields = AutoMLSettings.model_json_schema()["properties"]
    props: dict[str, Any] = {}
    for name in MCP_AUTOML_SETTINGS:
        leaf = dict(fields[name])
        # Optional fields: omitting the key is how a caller says "not set", so the null branch is dropped.
        branches = [b for b in leaf.pop("anyOf", []) if b.get("type") != "null"]
        leaf.update(branches[0] if branches else {})
        leaf.pop("title", None)
        leaf.pop("description", None)  # the AutoML reference documents each setting; the type and bounds stay
        if leaf.get("maximum", 0) >= 100_000:  # "any size": AutoMLSettings still checks it when the study starts
            leaf.pop("maximum")
        if leaf.get("default", 0) is None or name != "algorithm":  # defaults: the AutoML reference
            leaf.pop("default", None)
        props[name] = leaf
    return {
        **_object(props),
        "description": "The study's budget (AutoML route only), e.g. max_recommendations 3, max_epochs 1.",
    }


def _path_keys(schema: dict[str, Any]) -> list[str]:
    leaves = schema_leaves(schema)
    return sorted(k for k, leaf in leaves.items() if PATH_LEAF.search(k.rsplit(".", 1)[-1]) and "string" in str(leaf))


def required_args(action: JobAction, sources: dict[str, list[tuple[str, Any]]]) -> list[str]:
    """The arguments a call cannot do without: a data root that sets a required spec key (unless it falls back
    to a root that is itself required), and parent_job_id where the parent's file (a pruned graph, ONNX file or
    engine) has no shipped-model stand-in. dataset_convert takes either split's root, so neither is required."""
    if action.splits:
        return []
    need = set(ALL_ACTIONS[action.name].required)
    setting = {src for src, pairs in sources.items() if any(key in need for key, _ in pairs)}
    out = [src for src in sources if src in setting and not any(f in setting for f in SOURCE_FALLBACKS[src])]
    parent_fns = [fn for fn in action.params.values() if fn in ("parent_model", "pruned_model")]
    if parent_fns and (ALL_ACTIONS[action.name].deploy or "pruned_model" in parent_fns):
        out.append("parent_job_id")
    return out


def read_sections(action: JobAction) -> list[str]:
    """The spec sections (and top-level keys) an action reads: its own section, the sections its data sources,
    spec_params and required keys set, the network (`model`) where it loads or trains a PyTorch model, and
    `wandb` where it trains. `ocrnet_describe_action` lists these fields unless all are asked for."""
    info = ALL_ACTIONS[action.name]
    keys = [*action.params, *info.required, *(k for pairs in _sources(action).values() for k, _ in pairs)]
    out = dict.fromkeys([info.section or "", *(key.split(".", 1)[0] for key in keys)])
    loads_model = any(fn in ("parent_model", "pruned_model", "ptm_if_no_resume_model") for fn in action.params.values())
    if loads_model and not info.deploy:
        out["model"] = None
    if info.automl:
        out["wandb"] = None
    return sorted(k for k in out if k)


def action_tool(action: JobAction) -> ToolDef:
    name = action.name
    schema = json_schema(name)
    popular, popular_keys = _popular_args(name, schema)
    sources = _sources(action)
    given = list(sources)
    convert = bool(action.splits)
    props: dict[str, Any] = {src: _source_arg(src, pairs, given, convert) for src, pairs in sources.items()}
    parent_props, parent_info = _parent_args(action)
    props.update(parent_props)
    clash = set(props) & set(popular)
    if clash:
        raise ValueError(f"{name}: popular fields {sorted(clash)} clash with job arguments")
    props.update(popular)
    props.update(_control_args(name))
    title = f"OCRNet {name.replace('_', ' ')}"
    description = f"{PURPOSE[name]} Next: {NEXT[name]}."
    if ALL_ACTIONS[name].automl:
        description += (
            f" By default this starts an AutoML study of up to {QUICK_START['max_recommendations']} trials (poll its "
            '`study` with ocrnet_automl_status), not one job; automl_policy "off" trains once.'
        )
    binding = {
        "action": name,
        "schema": schema_name(name),
        "popular": popular_keys,
        "sources": given,
        "source_keys": {src: list(dict.fromkeys(key for key, _ in pairs)) for src, pairs in sources.items()},
        "split_sources": convert,
        "reads": read_sections(action),
        **parent_info,
        "path_keys": _path_keys(schema),
        "aliases": dict(shorthand_for(ALL_ACTIONS[name].deploy)),
        "example": _example(name, schema, popular_keys.values(), read_sections(action)),
        "automl": ALL_ACTIONS[name].automl,
        "required": list(ALL_ACTIONS[name].required),
        "template": template_path(name) if name in ACTIONS else DEPLOY_TEMPLATE,
    }
    return ToolDef(
        name=tool_name(name),
        title=title,
        description=description,
        input_schema=_input(props, required_args(action, sources)),
        output_schema=SUBMIT_RESULT,
        annotations=_annotations(title, read_only=False, destructive=False, idempotent=False, open_world=bool(sources)),
        execution={"taskSupport": "optional"},
        handler=f"{HANDLERS}:call_action",
        binding=binding,
    )


def action_tools() -> list[ToolDef]:
    return [action_tool(action) for action in job_actions().values()]


# --- job and discovery tools -------------------------------------------------------------------


def _read_only(title: str) -> dict[str, Any]:
    return _annotations(title, read_only=True, destructive=False, idempotent=True, open_world=False)


def job_tools() -> list[ToolDef]:
    job_arg = {"job_id": JOB_ID}
    logs = _result("job_id", "text", "truncated")
    listing = _result("jobs", "next_cursor", "total")
    results = _result("id", "action", "state", "task_dir", "outputs", "files", "kpis")
    h = HANDLERS
    return [
        ToolDef(
            "ocrnet_job_status",
            "OCRNet job status",
            "A job's state, message, live KPIs and epoch progress; a failed job's `cause` (last error lines); "
            "`next` says what to do.",
            _input(job_arg, ["job_id"]),
            JOB_VIEW,
            _read_only("OCRNet job status"),
            f"{h}:job_status",
        ),
        ToolDef(
            "ocrnet_job_logs",
            "OCRNet job log",
            "The last lines of a job's log (secrets masked), at most max_bytes.",
            _input(
                {
                    **job_arg,
                    "tail_lines": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": C.LOG_MAX_LINES,
                        "default": C.LOG_DEFAULT_LINES,
                    },
                    "max_bytes": {
                        "type": "integer",
                        "minimum": 256,
                        "maximum": C.LOG_MAX_BYTES,
                        "default": C.LOG_DEFAULT_BYTES,
                    },
                },
                ["job_id"],
            ),
            logs,
            _read_only("OCRNet job log"),
            f"{h}:job_logs",
        ),
        ToolDef(
            "ocrnet_job_cancel",
            "Cancel an OCRNet job",
            "Stop a running job (SIGTERM, SIGKILL after grace_seconds); a finished job is left as it is. "
            "Returns its status.",
            _input(
                {
                    **job_arg,
                    "grace_seconds": {"type": "integer", "minimum": 0, "maximum": C.CANCEL_MAX_GRACE, "default": 10},
                },
                ["job_id"],
            ),
            JOB_VIEW,
            _annotations("Cancel an OCRNet job", read_only=False, destructive=True, idempotent=True, open_world=False),
            f"{h}:job_cancel",
        ),
        ToolDef(
            "ocrnet_job_list",
            "List OCRNet jobs",
            "Jobs, newest first, optionally of one action or state; pages with cursor / next_cursor.",
            _input(
                {
                    "action": {"enum": list(job_actions())},
                    "state": {"enum": list(STATES)},
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": C.LIST_MAX_LIMIT,
                        "default": C.LIST_DEFAULT_LIMIT,
                    },
                    "cursor": {"type": "string", "pattern": "^[0-9]{1,9}$"},
                }
            ),
            listing,
            _read_only("List OCRNet jobs"),
            f"{h}:job_list",
        ),
        ToolDef(
            "ocrnet_job_results",
            "OCRNet job results",
            "A job's KPIs and files, each with a resources/read `uri`. The job id is the next action's parent_job_id.",
            _input(job_arg, ["job_id"]),
            results,
            _read_only("OCRNet job results"),
            f"{h}:job_results",
        ),
    ]


def automl_tools() -> list[ToolDef]:
    study_arg = {
        "study": {
            "type": "string",
            "pattern": STUDY_NAME_PATTERN,
            "description": "`study` of the ocrnet_train result.",
        }
    }
    brief = {"history": {"type": "boolean", "default": False}}  # every trial's record
    out = _result("study", "state", "progress")
    route = "tao_ocrnet.mcp.automl_route"
    return [
        ToolDef(
            "ocrnet_automl_status",
            "OCRNet AutoML study status",
            "An AutoML study's state (NOT_STARTED after a dry run), progress, best trial (val_acc, job id, "
            "checkpoint), baseline, running trials, ETA and report files.",
            _input({**study_arg, **brief}, ["study"]),
            out,
            _read_only("OCRNet AutoML study status"),
            f"{route}:automl_status",
        ),
        ToolDef(
            "ocrnet_automl_cancel",
            "Cancel an OCRNet AutoML study",
            "Stop an AutoML study (its running trial jobs are canceled; finished trials and reports are kept). "
            "Returns its status.",
            _input(
                {
                    **study_arg,
                    "grace_seconds": {"type": "integer", "minimum": 0, "maximum": C.CANCEL_MAX_GRACE, "default": 20},
                },
                ["study"],
            ),
            out,
            _annotations(
                "Cancel an OCRNet AutoML study", read_only=False, destructive=True, idempotent=True, open_world=False
            ),
            f"{route}:automl_cancel",
        ),
    ]


def discovery_tools() -> list[ToolDef]:
    out = _result("action", "tool", "popular", "data_sources", "required")
    return [
        ToolDef(
            "ocrnet_describe_action",
            "Describe an OCRNet action",
            "An action's required arguments, data roots, parents, workspace roots, gt format, and the spec fields "
            "it reads for spec_overrides (all_fields: every one).",
            _input(
                {
                    "action": {"enum": list(job_actions())},
                    "fields": {"type": "boolean", "default": True},
                    "all_fields": {"type": "boolean", "default": False},
                    "template": {"type": "boolean", "default": False},
                    "full_schema": {"type": "boolean", "default": False},
                },
                ["action"],
            ),
            out,
            _read_only("Describe an OCRNet action"),
            f"{HANDLERS}:describe_action",
        )
    ]


# The registry: every tool the server offers, in tools/list order. One entry per tool (or per family).
TOOL_FAMILIES: tuple[Callable[[], list[ToolDef]], ...] = (action_tools, job_tools, automl_tools, discovery_tools)


def tool_registry() -> list[ToolDef]:
    tools = [tool for family in TOOL_FAMILIES for tool in family()]
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate tool names: {sorted(n for n in names if names.count(n) > 1)}")
    return tools


INSTRUCTIONS = (
    "Run NVIDIA TAO OCRNet (text recognition on cropped word images) as detached jobs. Typical chain: "
    "ocrnet_dataset_convert once per split -> ocrnet_train (train_datasets/eval_dataset = job:<convert job id>) "
    "-> ocrnet_evaluate / ocrnet_export (parent_job_id) -> ocrnet_trt_evaluate or ocrnet_gen_trt_engine. "
    "Start tools return a job_id at once; poll ocrnet_job_status, read ocrnet_job_logs, then ocrnet_job_results "
    "(its files carry ocrnet://jobs/<id>/files/<path> URIs for resources/read). "
    f"Every start tool takes: data roots ({URI_KINDS}; a gt file has {GT_FORMAT}), spec_overrides (dotted spec "
    "keys), dry_run (validate and return spec_yaml, start nothing), wait_seconds (wait for the end with progress), "
    "key_env (the NAME of the server variable holding encryption_key, never the value), platform (where it runs; "
    f"default ${PLATFORM_ENV}, else local). "
    'ocrnet_train and ocrnet_retrain start an AutoML study by default (automl_policy "off" trains once '
    "directly); then they return a `study`: poll ocrnet_automl_status until COMPLETE (the best "
    "checkpoint is in `best`), stop it with ocrnet_automl_cancel. "
    "Use dry_run to check a spec first and ocrnet_describe_action to find spec fields for spec_overrides. "
    "Paths must lie inside the server's workspace roots (resource ocrnet://workspace lists them). Errors name the "
    "argument and the fix: correct and retry."
)


def data_roots() -> dict[str, Any]:
    """What a data root may be and the files each kind of root holds (served as part of ocrnet://workspace)."""
    files: dict[str, list[str]] = {}
    for action in job_actions().values():
        for source, pairs in _sources(action).items():
            for _, rule in pairs:
                if rule.path not in files.setdefault(source, []):
                    files[source].append(rule.path)
    return {"kinds": URI_KINDS, "gt_file": GT_FORMAT, "files": files}


def tools_document() -> dict[str, Any]:
    """The generated tools.json: the wire tool list, each tool's binding, and the server instructions."""
    tools = tool_registry()
    return {
        "generated_by": GENERATED_BY,
        "server": {
            "name": C.SERVER_NAME,
            "title": C.SERVER_TITLE,
            "version": md.SKILL_VERSION,
            "automl_enabled": md.skill_info()["automl_enabled"],
        },
        "instructions": INSTRUCTIONS,
        "data_roots": data_roots(),
        "tools": [t.wire() for t in tools],
        "bindings": {t.name: {"handler": t.handler, **t.binding} for t in tools},
    }
