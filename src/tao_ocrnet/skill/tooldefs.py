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
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tao_ocrnet.automl.router import QUICK_START
from tao_ocrnet.automl.settings import STUDY_NAME_PATTERN, AutoMLSettings
from tao_ocrnet.config.actions import ACTIONS, ALL_ACTIONS
from tao_ocrnet.config.json_schema import DIALECT, json_schema
from tao_ocrnet.config.render import GENERATED_BY
from tao_ocrnet.config.shorthand import shorthand_for
from tao_ocrnet.config.tao_schema import popular_values
from tao_ocrnet.config.templates import DEPLOY_TEMPLATE, DEPLOY_TEMPLATE_NAME, template_dict, template_path
from tao_ocrnet.datasources.rules import SOURCE_FALLBACKS
from tao_ocrnet.jobs import skill_info as md
from tao_ocrnet.jobs.catalog import JobAction, job_actions
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

    def wire(self) -> dict[str, Any]:
        """The tool as `tools/list` sends it (camelCase keys)."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
            "annotations": self.annotations,
        }


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
    return {"$schema": DIALECT, **_object(props, required)}


def _annotations(title: str, *, read_only: bool, destructive: bool, idempotent: bool, open_world: bool) -> dict:
    out: dict[str, Any] = {"title": title, "readOnlyHint": read_only}
    if not read_only:  # destructiveHint is meaningful only for tools that change something
        out["destructiveHint"] = destructive
    out["idempotentHint"] = idempotent
    out["openWorldHint"] = open_world
    return out


JOB_ID = {"type": "string", "pattern": C.JOB_ID_PATTERN, "description": "A job id (ocrnet-<action>-<6 hex>)."}
_STR = {"type": "string"}
_STR_LIST = {"type": "array", "items": {"type": "string"}}
# anyOf, not a type list: portable to clients that map schemas onto single-`type` dialects (Inspector --strict).
_NULLABLE_STR = {"anyOf": [{"type": "string"}, {"type": "null"}]}
_NULLABLE_INT = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
_NULLABLE_OBJ = {"anyOf": [{"type": "object"}, {"type": "null"}]}

JOB_VIEW = _object(
    {
        "id": _STR,
        "action": _STR,
        "state": {"enum": list(STATES)},
        "message": _STR,
        "submitted_at": _STR,
        "updated_at": _STR,
        "parent_job": _NULLABLE_STR,
        "results_dir": _STR,
        "exit_code": _NULLABLE_INT,
        "kpis": {"type": "object"},
        "progress": {"type": "object"},
    },
    ("id", "action", "state"),
    closed=False,
)

# Only the keys every submit result has are required; dry runs add spec_yaml, waits add kpis, train adds automl.
# A call routed to AutoML returns `study` (and `job_id` only once the baseline trial is a job).
SUBMIT_RESULT = _object(
    {"job_id": _STR, "study": _STR, "action": _STR, "state": _STR, "dry_run": {"type": "boolean"}, "spec_yaml": _STR},
    ("action", "state", "dry_run"),
    closed=False,
)

# --- action tools ------------------------------------------------------------------------------

PURPOSE = {
    "dataset_convert": "Convert one split of raw word crops (images + gt file) to an LMDB: train_datasets "
    "converts the train split, eval_dataset the eval split (one per call).",
    "train": "Train OCRNet on LMDB or raw data; parent_job_id starts from a trained job's weights, "
    "resume_from_job_id continues a stopped train job.",
    "retrain": "Retrain a pruned model (parent_job_id: a COMPLETE prune job) to recover accuracy.",
    "evaluate": "Measure a trained model's accuracy on the eval split (KPI test_acc, percent).",
    "inference": "Read the text of every image in a folder with a trained model (inference_results.json).",
    "export": "Export a trained model to ONNX for ONNX Runtime or TensorRT.",
    "prune": "Prune channels of a trained model; follow with ocrnet_retrain.",
    "quantize": "Post-training quantization of a trained model.",
    "gen_trt_engine": "Build a TensorRT engine from an export job's ONNX file (needs a GPU with TensorRT).",
    "trt_evaluate": "Evaluate an exported ONNX file (ONNX Runtime) or a TensorRT engine on raw eval images "
    "(KPI Accuracy, fraction).",
    "trt_inference": "Run an exported ONNX file or a TensorRT engine on a folder of images.",
}
NEXT = {
    "dataset_convert": "pass job:<job_id> as train_datasets or eval_dataset of later calls",
    "train": "ocrnet_evaluate, ocrnet_export or ocrnet_prune with parent_job_id",
    "retrain": "ocrnet_evaluate or ocrnet_export with parent_job_id",
    "evaluate": "ocrnet_job_results for the KPIs",
    "inference": "ocrnet_job_results for the output files",
    "export": "ocrnet_trt_evaluate or ocrnet_gen_trt_engine with parent_job_id",
    "prune": "ocrnet_retrain with parent_job_id",
    "quantize": "ocrnet_job_results for the quantized model",
    "gen_trt_engine": "ocrnet_trt_evaluate or ocrnet_trt_inference with parent_job_id",
    "trt_evaluate": "ocrnet_job_results for the KPIs",
    "trt_inference": "ocrnet_job_results for the output files",
}
URI_KINDS = "path, file://, s3://bucket/prefix or job:<dataset_convert id>"
LOCAL_URI_KINDS = "path, file:// or s3://bucket/prefix"


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
        leaf["description"] = f"`{dotted}`: {leaf.get('description', '')}".rstrip()
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
    files = ", ".join(dict.fromkeys(rule.path for _, rule in pairs))
    keys = ", ".join(dict.fromkeys(key for key, _ in pairs))
    kinds = LOCAL_URI_KINDS if convert else URI_KINDS
    fallback = [s for s in SOURCE_FALLBACKS[source] if s in given and s != source]
    extra = f" Defaults to the {fallback[0]} root." if fallback else ""
    if convert:  # dataset_convert: the root given picks the split
        split = "train" if source == "train_datasets" else "eval"
        extra = f" Converts the {split} split; give this or {'eval_dataset' if split == 'train' else 'train_datasets'}."
    if any(rule.image_folder for _, rule in pairs):
        files += ", or a local folder that directly holds the images"
    text = f"Root ({kinds}) with {files}; sets {keys}.{extra}"
    if source == "train_datasets":
        many = any(rule.is_list for _, rule in pairs)
        out: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
        out["minItems"] = 1
        if not many:
            out["maxItems"] = 1
        out["description"] = text.replace("Root", "Roots" if many else "One root")
        return out
    return {"type": "string", "minLength": 1, "description": text}


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
        sets = ", ".join(sorted(readers))
        props["parent_job_id"] = {
            **JOB_ID,
            "description": f"A COMPLETE {' or '.join(accepted)} job whose model sets {sets}.",
        }
        info["parents"] = accepted
        if any(a in ("train", "retrain") for a in accepted) and any(
            fn in ("parent_model", "ptm_if_no_resume_model") for fn in readers.values()
        ):
            for name, what in (("checkpoint_epoch", "epoch"), ("checkpoint_step", "step")):
                props[name] = {
                    "type": "integer",
                    "minimum": 0,
                    "description": f"Train parent: use its checkpoint of this {what}, not best_accuracy.pth.",
                }
    if "resume_model" in action.params.values():
        props["resume_from_job_id"] = {
            **JOB_ID,
            "description": f"A stopped, failed or finished {action.name} job to continue from its latest "
            "readable checkpoint (a new job).",
        }
    return props, info


def _example(action: str, schema: dict[str, Any], skip: Iterable[str]) -> str:
    """A spec_overrides example: a plain (non-path, non-popular) field of the action's own section."""
    section = ALL_ACTIONS[action].section or ""
    leaves = schema_leaves(schema)
    template = template_dict(action)  # the deploy template keeps only the keys TensorRT uses
    for key, leaf in leaves.items():
        name = key.rsplit(".", 1)[-1]
        plain = leaf.get("type") in ("integer", "number", "string") and not PATH_LEAF.search(name)
        used = get_dotted(template, key, MISSING_KEY) is not MISSING_KEY
        if key.startswith(f"{section}.") and plain and used and key not in skip and not leaf.get("writeOnly"):
            return json.dumps({key: leaf["default"]})
    return json.dumps({"model.input_width": leaves["model.input_width"]["default"]})


def _control_args(action: str, schema_file: str, example: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "key_env": {
            "type": "string",
            "pattern": C.ENV_NAME_PATTERN,
            "description": "NAME of the server env variable holding encryption_key (never the value).",
        },
        "spec_overrides": {
            "type": "object",
            "maxProperties": C.MAX_OVERRIDES,
            "propertyNames": {"pattern": C.DOTTED_KEY_PATTERN, "maxLength": 200},
            "description": f"Any other field of the {action} spec as dotted keys, e.g. {example}; checked "
            f"against ocrnet://schemas/{schema_file} (see ocrnet_describe_action). Paths must lie in the workspace.",
        },
        "dry_run": {
            "type": "boolean",
            "default": False,
            "description": "Resolve and validate the spec and return it as spec_yaml; start nothing.",
        },
        "wait_seconds": {
            "type": "integer",
            "minimum": 0,
            "maximum": C.WAIT_MAX_SECONDS,
            "default": 0,
            "description": "Wait up to this long for the job to end, with progress notifications; 0 returns "
            "the job id at once.",
        },
    }
    if ALL_ACTIONS[action].automl:
        props["dry_run"]["description"] += " For an AutoML study: its review (study name, trials, budget)."
        props["wait_seconds"]["description"] += (
            " For an AutoML study: waits on its trials (the baseline first) and returns the study's state."
        )
        props["automl_policy"] = {
            "enum": ["on", "off", "auto"],
            "description": 'AutoML for this run only (auto = on). Omitted: taken from `request`, else on. "off" '
            "trains once directly (one job); on starts a study of several training trials.",
        }
        props["request"] = {
            "type": "string",
            "maxLength": C.MAX_REQUEST_CHARS,
            "description": "The user's request in their words (e.g. 'just train it, no HPO'); decides "
            "automl_policy when it is not given.",
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
        if leaf.get("default", 0) is None:
            leaf.pop("default")
        props[name] = leaf
    return {
        **_object(props),
        "description": "The study's budget when the run goes to AutoML (else ignored), e.g. max_recommendations 3 "
        "and max_epochs 1; max_epochs defaults to the spec's train.num_epochs. Poll the returned `study` with "
        "ocrnet_automl_status.",
    }


def _path_keys(schema: dict[str, Any]) -> list[str]:
    leaves = schema_leaves(schema)
    return sorted(k for k, leaf in leaves.items() if PATH_LEAF.search(k.rsplit(".", 1)[-1]) and "string" in str(leaf))


def action_tool(action: JobAction) -> ToolDef:
    name = action.name
    schema_file = f"json-schema/{schema_name(name)}.json"
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
    props.update(_control_args(name, schema_file, _example(name, schema, popular_keys.values())))
    title = f"OCRNet {name.replace('_', ' ')}"
    description = (
        f"{PURPOSE[name]} Starts a detached job and returns its job_id (wait_seconds waits); dry_run returns the "
        f"resolved spec. Next: {NEXT[name]}; ocrnet_job_status / ocrnet_job_logs meanwhile."
    )
    if ALL_ACTIONS[name].automl:
        description += (
            f" By default this starts an AutoML study (up to {QUICK_START['max_recommendations']} training trials, "
            "the baseline first; poll its `study` with ocrnet_automl_status), not one job: pass automl_policy "
            '"off" to train once directly.'
        )
    binding = {
        "action": name,
        "schema": schema_name(name),
        "popular": popular_keys,
        "sources": given,
        "split_sources": convert,
        **parent_info,
        "path_keys": _path_keys(schema),
        "aliases": dict(shorthand_for(ALL_ACTIONS[name].deploy)),
        "automl": ALL_ACTIONS[name].automl,
        "required": list(ALL_ACTIONS[name].required),
        "template": template_path(name) if name in ACTIONS else DEPLOY_TEMPLATE,
    }
    return ToolDef(
        name=tool_name(name),
        title=title,
        description=description,
        input_schema=_input(props),
        output_schema=SUBMIT_RESULT,
        annotations=_annotations(title, read_only=False, destructive=False, idempotent=False, open_world=bool(sources)),
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
    logs = _object(
        {
            "job_id": _STR,
            "text": _STR,
            "lines": {"type": "integer"},
            "bytes": {"type": "integer"},
            "truncated": {"type": "boolean"},
            "state": _STR,
        },
        ("job_id", "text", "truncated"),
        closed=False,
    )
    listing = _object(
        {"jobs": {"type": "array", "items": JOB_VIEW}, "next_cursor": _NULLABLE_STR, "total": {"type": "integer"}},
        ("jobs", "next_cursor", "total"),
        closed=False,
    )
    results = copy.deepcopy(JOB_VIEW)
    results["properties"].update(
        {
            "task_dir": _STR,
            "outputs": {"type": "object"},
            "files": {"type": "array", "items": {"type": "object"}},
        }
    )
    results["required"] = ["id", "action", "state", "task_dir", "outputs", "files", "kpis"]
    h = HANDLERS
    return [
        ToolDef(
            "ocrnet_job_status",
            "OCRNet job status",
            "A job's state (PENDING, RUNNING, COMPLETE, ERROR, CANCELED), last message, live KPIs and epoch "
            "progress, reconciled with its process. Poll it after a start tool; when COMPLETE use "
            "ocrnet_job_results.",
            _input(job_arg, ["job_id"]),
            JOB_VIEW,
            _read_only("OCRNet job status"),
            f"{h}:job_status",
        ),
        ToolDef(
            "ocrnet_job_logs",
            "OCRNet job log",
            "The last lines of a job's log (secrets masked), at most max_bytes. Use it to see progress or why a "
            "job failed.",
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
            "Stop a running job (SIGTERM to its process group, SIGKILL after grace_seconds) and record CANCELED. "
            "A finished job is left as it is. Returns the job's status.",
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
            "A job's KPIs, its output files (checkpoints, ONNX, engines, results JSON) with paths and whether they "
            "exist, and the files of its results folder. Use the job id as parent_job_id of the next action.",
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
            "description": "The study name (`study` in the ocrnet_train result).",
        }
    }
    brief = {"history": {"type": "boolean", "default": False, "description": "Include every trial's record."}}
    out = _object(
        {
            "study": _STR,
            "state": {"enum": ["NOT_STARTED", "RUNNING", "COMPLETE", "CANCELING", "CANCELED", "ERROR", "STOPPED"]},
            "reason": _STR,
            "workspace": _NULLABLE_STR,
            "progress": {"type": "object"},
            "best": _NULLABLE_OBJ,
            "baseline": _NULLABLE_OBJ,
            "history": {"type": "array", "items": {"type": "object"}},
            "running": {"type": "array", "items": {"type": "object"}},
            "files": {"type": "object"},
        },
        ("study", "state", "progress"),
        closed=False,
    )
    route = "tao_ocrnet.mcp.automl_route"
    return [
        ToolDef(
            "ocrnet_automl_status",
            "OCRNet AutoML study status",
            "An AutoML study's state (RUNNING, COMPLETE, CANCELING, CANCELED, ERROR, STOPPED; NOT_STARTED for a study "
            "a dry run only reviewed), progress, the best "
            "trial (val_acc, job id, checkpoint), the baseline comparison, running trials, ETA and report files "
            "(summary, best_rec.json, plot). Poll it after ocrnet_train started a study.",
            _input({**study_arg, **brief}, ["study"]),
            out,
            _read_only("OCRNet AutoML study status"),
            f"{route}:automl_status",
        ),
        ToolDef(
            "ocrnet_automl_cancel",
            "Cancel an OCRNet AutoML study",
            "Stop an AutoML study: its workers cancel their running trial jobs and exit; finished trials and the "
            "reports are kept. Returns the study's status.",
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
    out = _object(
        {
            "action": _STR,
            "tool": _STR,
            "description": _STR,
            "popular": {"type": "object"},
            "data_sources": {"type": "object"},
            "parent": {"type": "object"},
            "required": _STR_LIST,
            "fields": {"type": "object"},
            "template_yaml": _STR,
            "schema": {"type": "object"},
            "resources": {"type": "object"},
        },
        ("action", "tool", "popular", "data_sources", "required"),
        closed=False,
    )
    return [
        ToolDef(
            "ocrnet_describe_action",
            "Describe an OCRNet action",
            "What an action needs before you call its tool: popular parameters, data-source roots, parent jobs, "
            "required keys, every spec field (dotted key: type, default, bounds) for spec_overrides, the spec "
            "template, and the full JSON Schema on request.",
            _input(
                {
                    "action": {"enum": list(job_actions())},
                    "fields": {"type": "boolean", "default": True, "description": "List every spec field."},
                    "template": {"type": "boolean", "default": False, "description": "Include the YAML template."},
                    "full_schema": {"type": "boolean", "default": False, "description": "Include the JSON Schema."},
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
    "Start tools return a job_id at once; poll ocrnet_job_status, read ocrnet_job_logs, then ocrnet_job_results. "
    'ocrnet_train and ocrnet_retrain start an AutoML study by default (automl_policy "off" trains once '
    "directly); then they return a `study`: poll ocrnet_automl_status until COMPLETE (the best "
    "checkpoint is in `best`), stop it with ocrnet_automl_cancel. "
    "Use dry_run to check a spec first and ocrnet_describe_action to find spec fields for spec_overrides. "
    "Paths must lie inside the server's workspace roots. Errors name the argument and the fix: correct and retry."
)


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
        "tools": [t.wire() for t in tools],
        "bindings": {t.name: {"handler": t.handler, **t.binding} for t in tools},
    }
