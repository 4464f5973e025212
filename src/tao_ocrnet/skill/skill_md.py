# SPDX-License-Identifier: Apache-2.0
"""SKILL.md: frontmatter plus the body sections the skill-bank consumers rely on (contract §2).

Spec facts (defaults, choices, ranges) are read from the spec models and the metadata, never typed here,
so the text cannot drift from the schemas (contract §11 #12).
"""

from __future__ import annotations

import json
import re
from typing import Any

from tao_ocrnet.config.actions import SCHEMA_ACTIONS
from tao_ocrnet.config.render import MARKDOWN_MARKER
from tao_ocrnet.config.shorthand import TRAIN_SHORTHAND
from tao_ocrnet.config.tao_schema import automl_lists
from tao_ocrnet.datasources.rules import render_table, table_rows
from tao_ocrnet.jobs import skill_info as md
from tao_ocrnet.mcp.constants import GUIDE_MD
from tao_ocrnet.skill.layout import Layout
from tao_ocrnet.skill.mdtext import bounds, choices, code, default, node, table

LICENSE = "Apache-2.0"
ALLOWED_TOOLS = "Read Bash"
COMPATIBILITY = (
    "Requires docker + nvidia-container-toolkit for the TAO images; the ocrnet CLI also runs on a "
    "CPU-only machine with Python 3.11."
)
TRIGGERS = ("train OCRNet", "scene text recognition", "OCR cropped text", "CTC / attention text decoder",
            "OCRNet TensorRT engine")  # fmt: skip


def skill_description() -> str:
    return (
        "Train, evaluate, prune, quantize, export and deploy NVIDIA TAO OCRNet, which recognizes the text in "
        f"cropped word images ({choices('model.backbone', ' / ')} backbone, optional TPS, BiLSTM, "
        f"{choices('model.prediction', ' or ')} decoder). Use for "
        + ", ".join(f'"{t}"' for t in TRIGGERS)
        + ". Not for finding text regions in full images: that is text detection (OCDNet)."
    )


def frontmatter(layout: Layout) -> dict[str, Any]:
    fm: dict[str, Any] = {
        "name": md.SKILL_NAME,
        "description": skill_description(),
        "license": LICENSE,
        "compatibility": COMPATIBILITY,
        # metadata is a string -> string map for the Agent Skills validator.
        "metadata": {"version": md.SKILL_VERSION, "author": md.AUTHOR, "tags": ", ".join(md.TAGS)},
        "allowed-tools": ALLOWED_TOOLS,
    }
    if layout.top_level_tags:
        fm["tags"] = list(md.TAGS)
    return fm


_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9 ._/-]*$")


def _scalar(v: str) -> str:
    # Double-quoted JSON strings are valid YAML; plain style only where it cannot be misread.
    return v if _PLAIN.match(v) and not v.endswith(" ") else json.dumps(v)


def frontmatter_text(layout: Layout) -> str:
    lines = ["---"]
    for key, v in frontmatter(layout).items():
        if isinstance(v, dict):
            lines.append(f"{key}:")
            lines += [f"  {k}: {json.dumps(x) if k == 'version' else _scalar(x)}" for k, x in v.items()]
        elif isinstance(v, list):
            lines.append(f"{key}:")
            lines += [f"- {_scalar(x)}" for x in v]
        else:
            lines.append(f"{key}: {_scalar(v)}")
    lines.append("---")
    return "\n".join(lines) + "\n"


# --- body sections -------------------------------------------------------------------------------


def _intro() -> str:
    return (
        "# OCRNet\n\n"
        "> **Standalone install?** If the TAO skill bank plugin did not start this session, run the `tao-setup` "
        "skill first (host preflight, credentials, skill discovery).\n\n"
        f"OCRNet reads the text in cropped word images: optional TPS rectification, a "
        f"{choices('model.backbone', ' / ')} backbone, a BiLSTM and a {choices('model.prediction', ' or ')} "
        "decoder. Set `train.pretrained_model_path` to start from pretrained weights; `ocrnet_cpu_small` names the "
        "shipped CPU-size model (CTC, lower-case alphanumerics; the default of `inference.checkpoint`). TensorRT "
        "(`gen_trt_engine`, TensorRT evaluate and inference) runs on the deploy image: read "
        "`references/tao-deploy-ocrnet.md`."
    )


def _schemas(layout: Layout) -> str:
    return (
        "## Dataclass Schemas\n\n"
        f"`schemas/<action>.schema.json` (TAO dialect) exist for {', '.join(SCHEMA_ACTIONS)}; "
        "`schemas/manifest.json` lists them. Each `references/spec_template_<action>.yaml` equals its schema's "
        "`default`; `???` marks a value to set before running, and `required` names every key the action needs. "
        f"AutoML is enabled by `automl_enabled` in `{layout.skill_info}`; AutoML metadata "
        "(`automl_default_parameters`, `automl_disabled_parameters`, leaf `automl_enabled`) is only in the train "
        "and retrain schemas. Runnable AutoML needs the schema **and** the template to parse. "
        "`schemas/json-schema/` holds strict JSON Schema 2020-12 versions. All are generated from the spec "
        "models (`ocrnet skill generate`); nothing reads `~/tao-core` at run time."
    )


def _policy(layout: Layout) -> str:
    return (
        "## Train Action Policy\n\n"
        f"This model is AutoML-enabled (`automl_enabled: true`). Before any train-stage request, read "
        f"`{layout.skill_info}` and resolve the per-run `automl_policy` from an explicit value or the user's "
        "wording.\n\n"
        "- Values: `on` (default) and `off`; treat the legacy `auto` as `on`. Offer only `on` / `off` in new "
        "prompts.\n"
        '- "turn off AutoML", "disable AutoML", "no HPO" and "plain training" mean `automl_policy: off` for '
        "this run only.\n"
        "- Route train through the `tao-run-automl` skill, with this skill's absolute `skill_dir`, only when "
        "**all** hold: the policy is `on`; `automl_enabled: true`; `schemas/train.schema.json` parses; "
        "`references/spec_template_train.yaml` parses. Otherwise train directly. If a schema or template is "
        'missing, say "AutoML is enabled but not runnable until schemas are generated".\n'
        "- Preserve every workflow override: datasets, specs, output dirs, GPU/platform, parent checkpoints.\n"
        "- evaluate, inference, export and deploy are never routed to AutoML; prune and quantize only when the "
        "user asks to tune them or the workflow says `on`.\n"
        "- Never change model metadata. `automl_policy` is a workflow argument, never a spec key."
    )


def _requirements() -> str:
    t = md.TRAIN_METRICS
    return (
        "## Training Requirements\n\n"
        "- **Dataset type:** ocrnet\n"
        "- **Formats:** default (LMDB from `dataset_convert`, or raw images + a gt file)\n"
        f"- **AutoML metric:** `{t['metric']}`, {t['metric_direction']}, a {t['metric_scale']} (0-1) written to "
        f"`{t['metric_file']}` at each validation; Lightning progress alias `{t['progress_alias']}`\n"
        f"- **Evaluation metric:** `{t['eval_metric']}`, {md.EVAL_METRICS['metric_direction']}, a "
        f"{t['eval_metric_scale']} (0-100) in evaluate's `{md.EVAL_METRICS['metric_file']}`\n\n"
        f"**Monitoring metric:** {t['metric']}"
    )


def _dataset_table() -> str:
    layout = md.DATA_SOURCE_LAYOUT
    roots = "; ".join(f"{src}: " + ", ".join(f"`{p}`" for p in files) for src, files in layout["roots"].items())
    fallbacks = ", ".join(f"{src} → " + " → ".join(chain) for src, chain in layout["fallbacks"].items())
    rows = table_rows(md.DATA_SOURCES) + table_rows({"dataset_convert": md.CONVERT_SPLITS["eval"]})
    return (
        "### Per-Action Dataset Requirements\n\n"
        f"Roots: {roots}. Missing roots fall back: {fallbacks}. Archives are extracted to "
        "`<staging>/<source>/<archive stem>/`, stripping one top-level folder only when every member is under "
        "it (a leading `./` aside; idempotent via `.extracted`). A gt file is read beside the archive at the "
        "row's path (else "
        "`gt_new.txt` atop the extracted folder); its image paths are relative to the extracted folder. "
        '"dataset_convert … LMDB, else images" rows prefer the LMDB of this run\'s dataset_convert job on that '
        "split; the gt file then stays empty. dataset_convert runs once per split (both below).\n\n"
        + render_table(rows)
    )


def _checkpoints() -> str:
    return (
        "### Checkpoint Selection\n\n"
        "- Train writes `best_accuracy.pth` (best `val_acc`), `model_epoch_EEE_step_SSSSS.pth` every "
        "`train.checkpoint_interval`, and `ocr_model_latest.pth`.\n"
        "- Best-model evaluate, inference, export or prune: `best_accuracy.pth`. A requested epoch: that exact "
        "`model_epoch_*_step_*.pth`. Never pick the newest file; if the file is missing, stop and say so.\n"
        "- `train.resume_training_checkpoint_path` is only for resuming a run.\n"
        "- retrain is `ocrnet train -e spec.yaml` with `model.pruned_graph_path` set to the prune output; there "
        "is no retrain CLI.\n"
        "- Our checkpoints load weights-only. A pickled reference checkpoint needs `--allow-pickle` here, or "
        "`TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1` for quantize in the TAO image on PyTorch ≥ 2.6; trusted files only."
    )


def _overrides() -> str:
    example = "\n".join(
        [
            "# dataset_convert, once per split",
            "dataset_convert.input_img_dir: /data/train          # extracted train.tar.gz",
            "dataset_convert.gt_file: /data/train/gt_new.txt",
            "# train",
            "dataset.train_dataset_dir: [/results/convert_train]  # a list, even for one folder",
            "dataset.val_dataset_dir: /results/convert_eval       # a string",
            "dataset.character_list_file: /data/character_list",
            "train.num_epochs: 30",
            "train.checkpoint_interval: 10",
            "train.validation_interval: 10",
        ]
    )
    short = ", ".join(f"`{k}`" for k in list(TRAIN_SHORTHAND)[:4])
    return (
        "### Typical Spec Overrides\n\n"
        "Data overrides are **mandatory for every action** (rows above; parent models below). Run "
        "`dataset_convert` once per split, then pass the folder that directly holds `data.mdb` and `lock.mdb`. "
        "Extract tarballs first. `dataset.train_dataset_dir` is a list, `dataset.val_dataset_dir` a string. "
        "Overrides go after the spec (`ocrnet train -e spec.yaml train.num_epochs=30`); shorthand names such as "
        f"{short} map to spec keys through `spec_shorthand_keys`.\n\n" + code("yaml", example)
    )


def _eval_dataset() -> str:
    return (
        "## Eval Dataset\n\n"
        "Optional: a separate root with `test.tar.gz`, `test/gt_new.txt` and `character_list`. Without it, the "
        "eval rows read those files from the `train_datasets` root."
    )


IMPORTANT = (
    "dataset.character_list_file",
    "model.backbone",
    "model.prediction",
    "model.TPS",
    "model.input_channel",
    "dataset.max_label_length",
    "train.optim.name",
    "train.optim.lr",
    "dataset.batch_size",
)


def _important() -> str:
    lines = []
    for key in IMPORTANT:
        n = node(key)
        opts = f" (one of {choices(key)})" if n.enum and len(n.enum) > 1 else ""
        lines.append(f"- `{key}` = `{default(key)}`{opts}: {n.description}")
    size = f"{default('model.input_height')}x{default('model.input_width')}"
    lines.append(f"- `model.input_height` x `model.input_width` = {size}: keep them (and the charset) from train "
                 "to export and TensorRT.")  # fmt: skip
    return "## Important Parameters\n\n" + "\n".join(lines)


MULTI_GPU = ("train.num_gpus", "train.gpu_ids", "train.distributed_strategy", "train.use_distributed_sampler")


def _multi_gpu() -> str:
    rows = [(f"`{k}`", f"`{default(k)}`", node(k).description) for k in MULTI_GPU]
    return (
        "## Multi-GPU / Multi-Node\n\n"
        "Lightning runs one process and starts the workers. One device runs without a strategy; more devices use "
        f"`train.distributed_strategy` (default `{default('train.distributed_strategy')}`; "
        f"{choices('train.distributed_strategy')}). `dataset.batch_size` is per GPU, so the effective batch is "
        "batch × GPUs. Training is single-node: keep `train.num_nodes` at 1.\n\n"
        + table(("Spec Key", "Default", "Meaning"), rows)
    )


def _hardware() -> str:
    return (
        "## Hardware\n\n"
        "One GPU with 8 GB or more is enough; more GPUs only shorten long runs. Small runs work on a CPU (below)."
    )


def _errors() -> str:
    return (
        "## Error Patterns\n\n"
        "- **Raw images:** run `dataset_convert` first, or set the gt file rows.\n"
        "- **LMDB folder:** pass the folder that directly holds `data.mdb` and `lock.mdb` (job results may wrap "
        "it deeper). An archive given as a folder fails with `NotADirectoryError`: extract it first.\n"
        "- **gt file:** a UTF-8 BOM is stripped; each line is `path<TAB>label` (whitespace when there is no TAB).\n"
        "- **Charset mismatch:** labels with characters missing from `dataset.character_list_file`, or longer "
        "than `dataset.max_label_length`, are skipped and counted in `status.json`; duplicates in the list are "
        "an error.\n"
        "- **Outputs:** `export.onnx_file` and `prune.pruned_file` must be writable new paths; replacing a file "
        "needs `--overwrite`.\n"
        "- **Intervals:** `train.checkpoint_interval` (epoch unit) and `train.validation_interval` must be ≤ "
        "`train.num_epochs`. FAN_tiny_2X needs input height and width divisible by 8.\n"
        "- **TensorRT is deploy-only:** `gen_trt_engine` and TensorRT evaluate/inference use the deploy image.\n"
        "- **Spec errors:** `ocrnet spec validate ACTION -e spec.yaml` lists every problem at once and exits 2."
    )


def _spec_params(layout: Layout) -> str:
    common = md.SPEC_PARAMS["train"]
    rows = [
        (action, f"`{key}`", f"`{fn}`" + (f" ({md.PARENT_JOB[key]})" if key in md.PARENT_JOB else ""))
        for action, mapping in md.SPEC_PARAMS.items()
        for key, fn in mapping.items()
        if key not in ("encryption_key", "results_dir")
    ]
    used = {fn for mapping in md.SPEC_PARAMS.values() for fn in mapping.values()}
    # Functions with the same meaning share one line (the create_* family).
    by_text: dict[str, list[str]] = {}
    for fn, text in md.SPEC_PARAM_FUNCTIONS.items():
        if fn in used:
            by_text.setdefault(text, []).append(f"`{fn}`")
    funcs = "\n".join(f"- {' / '.join(fns)}: {text}" for text, fns in by_text.items())
    assert common["encryption_key"] == "key" and common["results_dir"] == "output_dir"
    return (
        "## Spec Param / Parent Model Inference\n\n"
        f"Resolve `spec_params` from `{layout.skill_info}` before creating a job; never write them back into a "
        "spec and never guess a path. Every action also maps `results_dir` → `output_dir` and `encryption_key` "
        "→ `key`. Use a `*_latest` file only when asked for the latest.\n\n"
        + table(("Action", "Spec Key", "Function (parent job)"), rows)
        + "\n\n"
        + funcs
    )


def _deployment() -> str:
    return (
        "## Deployment\n\n"
        "Build a TensorRT engine from the exported ONNX file and run TensorRT evaluate or inference with "
        "`references/tao-deploy-ocrnet.md` (metadata `references/tao-deploy-ocrnet.skill_info.yaml`; one spec "
        "for all three actions, `references/spec_template_deploy_experiment.yaml`)."
    )


def _automl() -> str:
    defaults, _ = automl_lists("train")
    space = ", ".join(f"`{k}` {bounds(k)}" for k in defaults)
    return (
        "## AutoML / HPO Notes\n\n"
        f"- Default search space (`automl_default_parameters`): {space}. Anything else only when named.\n"
        "- Search `train.optim.lr` on a log scale per optimizer (Adadelta ≈ 0.05–1, Adam ≈ 1e-5–1e-3); "
        "`train.optim.name` only when asked.\n"
        "- The other augmentation probabilities act only when `aug_prob` > 0 and `keep_aspect_ratio` is off.\n"
        "- A trial's value is its best `val_acc` (the model in `best_accuracy.pth`), maximized; with "
        "`train.model_ema` it is the EMA model's accuracy.\n"
        "- `train.num_epochs` is not searched; wherever epochs change, keep `train.checkpoint_interval` and "
        "`train.validation_interval` ≤ `train.num_epochs`.\n"
        "- Gates, in order: model support; preflight (platform, credentials, image, data visible from the "
        "compute, compute shape); dataset_convert per split with `data.mdb`/`lock.mdb` verified; the baseline "
        "eval job below; a confirmed pre-launch review (first-batch configs, ranges, budget, metric, direction, "
        "ETA, baseline); a fresh timestamped run. Settings are validated first; resume only on request.\n\n"
        "## Automatic Baseline Eval Job\n\n"
        "After preflight passes and before the first trial, launch one post-preflight eval job: `evaluate` on "
        "the starting checkpoint (`train.pretrained_model_path`, or the pruned model for retrain) with the "
        "evaluate rows above. Report its job id, result path and the eval metric number (`test_acc`, percent; "
        "divide by 100 to compare with `val_acc`). If it fails while a checkpoint exists, stop. From scratch "
        "there is no checkpoint: record the baseline as unavailable and go on."
    )


def _cpu() -> str:
    return (
        "## Using this skill on a CPU machine\n\n"
        "The `ocrnet` CLI runs without a GPU (slowly). `ocrnet synth OUT` renders a synthetic dataset in the "
        "data-source layout above, and `ocrnet demo --quick` runs synth → dataset_convert → train → evaluate → "
        "inference end to end. Use `train.num_gpus: 0` for the CPU (1 falls back to it without CUDA). TensorRT "
        "needs a GPU."
    )


def _jobs() -> str:
    return (
        "## Jobs\n\n"
        "`ocrnet jobs submit ACTION --train-dataset URI [--eval-dataset URI] [--parent-job ID] [--dry-run] "
        "[--wait] [key=value ...]` builds the spec (template → data sources → spec_params → overrides → "
        "validation), records the job and runs it detached; `ocrnet jobs list|status|logs|cancel|results` track "
        "it. Roots: a path, `file://`, `s3://` or `job:<dataset_convert job>`. See `references/ocrnet-jobs.md`."
    )


def _mcp() -> str:
    # Kept short (SKILL.md stays under 20,000 characters): the detail is in the generated MCP guide.
    return (
        "## MCP Server\n\n"
        "`ocrnet mcp [--workspace DIR]` serves each action as tool `ocrnet_<action>`, plus `ocrnet_job_*` and "
        f"`ocrnet_describe_action`; see `{GUIDE_MD}`."
    )


def _differences() -> str:
    return (
        "## Differences from the reference\n\n"
        "Skill and schemas:\n"
        f"- `model.num_fiducial` is {default('model.num_fiducial')} everywhere; templates equal schema defaults, "
        "the manifest matches the schemas (`ocrnet skill generate --check` in CI).\n"
        "- Strict sorted JSON: no `Infinity`, no list among `properties`, AutoML metadata at root/collection "
        "level for train and retrain only, `required` = what the action needs, list defaults are lists.\n"
        "- Categoricals accept any case, stored canonically (`fp16` → `FP16`).\n"
        f"- Finite bounds on searchable and size fields (`train.optim.lr` {bounds('train.optim.lr')}).\n"
        "- `**Monitoring metric:**` line and action-level metric keys.\n"
        "- Data sources: dataset_convert dependency (`lmdb_from`), all four sources, a specified extraction "
        "and gt location; table and YAML from one source.\n"
        "- No PyTorch `trt_engine` mapping; retrain `model.pruned_graph_path` → `pruned_model`; deterministic "
        "checkpoints; `gen_trt_engine` declared.\n"
        f"- Docs from the spec (`distributed_strategy` `{default('train.distributed_strategy')}`); one template "
        "generator; stamped images in both metadata files; skill-root template paths; deploy name "
        "`tao-deploy-ocrnet`.\n"
        "- Validated AutoML settings; nested best specs; top-level `tags` only in the bank layout; positive and "
        "negative evals; shared preflight checks.\n\n"
        "Model and tools:\n"
        "- Training: LR schedules and weight decay work; `keep_aspect_ratio` works; bad samples skipped and "
        "counted; one gt parser; all `train_dataset_dir` folders used; multi-GPU shards data "
        f"(`use_distributed_sampler` `{default('train.use_distributed_sampler')}`); Attn EMA fixed; QAT rejected "
        "with a message.\n"
        "- Prune: `threshold` works; `amount` prunes each group once; hybrid honours L1/L2; Attn prunes; output "
        "`pruned_<stem>.pth`.\n"
        "- Checkpoints: one loader, architecture and charset inside, weights-only; quantize needs no charset; "
        "duplicate characters rejected.\n"
        "- Decoding: one decoder for PyTorch, ONNX Runtime and TensorRT; fixed `[s]` handling; `metrics.json` "
        "(fractions, edit distance); sorted `inference_results.json`.\n"
        "- Export/TensorRT: CPU or GPU export to `<stem>.onnx`, no silent overwrite; TensorRT reads every image "
        "sorted, honours `input_channel`, reports skips; `workspace_size` in MiB; default engine path; "
        "out-of-profile batches rejected."
    )


def render_body(layout: Layout) -> str:
    sections = [
        _intro(),
        _schemas(layout),
        _policy(layout),
        _requirements(),
        _dataset_table(),
        _checkpoints(),
        _overrides(),
        _eval_dataset(),
        _important(),
        _multi_gpu(),
        _hardware(),
        _errors(),
        _spec_params(layout),
        _deployment(),
        _automl(),
        _cpu(),
        _jobs(),
        _mcp(),
        _differences(),
    ]
    return "\n\n".join(sections) + "\n"


def render_skill_md(layout: Layout) -> str:
    return f"{frontmatter_text(layout)}{MARKDOWN_MARKER}\n\n{render_body(layout)}"


# Required body headings, in order (contract §2.2); tests check them.
REQUIRED_HEADINGS = (
    "## Dataclass Schemas",
    "## Train Action Policy",
    "## Training Requirements",
    "### Per-Action Dataset Requirements",
    "### Checkpoint Selection",
    "### Typical Spec Overrides",
    "## Eval Dataset",
    "## Important Parameters",
    "## Multi-GPU / Multi-Node",
    "## Hardware",
    "## Error Patterns",
    "## Spec Param / Parent Model Inference",
    "## Deployment",
)
