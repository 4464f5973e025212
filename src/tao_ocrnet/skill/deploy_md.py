# SPDX-License-Identifier: Apache-2.0
"""`references/tao-deploy-ocrnet.md`: the TensorRT guide, rendered from the deploy metadata and spec models."""

from __future__ import annotations

from tao_ocrnet.config.render import MARKDOWN_MARKER
from tao_ocrnet.datasources.rules import render_table, table_rows
from tao_ocrnet.jobs import skill_info as md
from tao_ocrnet.skill.mdtext import code, default, table

TRT = "gen_trt_engine.tensorrt"
CAL = f"{TRT}.calibration"
MOUNTS = ("specs", "models", "data", "results")


def _quick_start() -> str:
    image = md.DEPLOY_IMAGE
    mounts = " ".join(f'-v "$PWD/{m}:/{m}"' for m in MOUNTS)
    lines = [f"TAO_DEPLOY_IMAGE={image.literal}  # {image.comment}"]
    lines += [
        f'docker run --gpus all --shm-size=16g {mounts} "$TAO_DEPLOY_IMAGE" ocrnet {action} -e /specs/deploy.yaml'
        for action in md.DEPLOY_COMMANDS
    ]
    commands = ", ".join(f"`{cmd.replace(' -e {config_path}', '')}`" for cmd in md.DEPLOY_COMMANDS.values())
    return (
        "## Quick Start\n\n"
        "Inside the TAO deploy image the actions are `ocrnet gen_trt_engine`, `ocrnet evaluate` and "
        "`ocrnet inference` (TAO launcher: `tao deploy ocrnet <action>`). Mount every folder the spec names:\n\n"
        + code("bash", "\n".join(lines))
        + f"\n\nWith this project's CLI (and in `tao-deploy-ocrnet.skill_info.yaml`) they are {commands}: "
        "`ocrnet evaluate` and `ocrnet inference` alone are the PyTorch actions."
    )


def _inputs() -> str:
    rows = table_rows(md.DEPLOY_DATA_SOURCES)
    parents = [
        (action, f"`{key}`", f"`{fn}`" + (f" ({md.PARENT_JOB[key]})" if key in md.PARENT_JOB else ""))
        for action, mapping in md.DEPLOY_SPEC_PARAMS.items()
        for key, fn in mapping.items()
        if key not in ("encryption_key", "results_dir")
    ]
    return (
        "## Inputs\n\n"
        "Data (same roots, fallbacks and extraction as the main skill; TensorRT reads raw images, so no LMDB):\n\n"
        + render_table(rows)
        + "\n\nParent jobs and outputs (`spec_params`; `results_dir` → `output_dir`, `encryption_key` → `key`):\n\n"
        + table(("Action", "Spec Key", "Function (parent job)"), parents)
    )


def _spec() -> str:
    start = "\n".join(
        [
            f"{TRT}.data_type: FP16",
            *(f"{TRT}.{k}: {default(f'{TRT}.{k}')}" for k in ("min_batch_size", "opt_batch_size", "max_batch_size")),
            *(f"model.{k}: {default(f'model.{k}')}  # as in train/export" for k in
              ("input_width", "input_height", "input_channel")),
            "dataset.character_list_file: /data/character_list",
        ]
    )  # fmt: skip
    notes = "\n".join(f"- {note}" for note in md.deploy_notes())
    return "## Spec\n\n" + notes + "\n\nStarting overrides:\n\n" + code("yaml", start)


def _pitfalls() -> str:
    return (
        "## Pitfalls\n\n"
        f"- **Profile:** evaluate/inference `batch_size` must lie within `{TRT}.min_batch_size` .. "
        "`max_batch_size` of the engine; other batches are rejected.\n"
        f"- **INT8:** needs at least `{CAL}.cal_batch_size` × `cal_batches` images (defaults "
        f"{default(f'{CAL}.cal_batch_size')} × {default(f'{CAL}.cal_batches')}) under `cal_image_dir`, and a "
        "writable `cal_cache_file`; an existing cache is reused without reading images.\n"
        f"- **Workspace:** `{TRT}.workspace_size` is in MiB (default {default(f'{TRT}.workspace_size')}).\n"
        "- **Engine path:** an empty `gen_trt_engine.trt_engine` means `<results_dir>/<onnx stem>.engine`.\n"
        "- **Paths:** every path in the spec must exist inside the container: mount it."
    )


def render_deploy_md() -> str:
    intro = (
        "# OCRNet TensorRT deployment\n\n"
        "Build a TensorRT engine from the ONNX file that `export` wrote, then evaluate or run it. These actions "
        f"run on the TAO deploy image (`{md.DEPLOY_IMAGE.literal}`). Metadata: `tao-deploy-ocrnet.skill_info.yaml`; "
        "one spec for all three actions: `spec_template_deploy_experiment.yaml` (both beside this file). Train, "
        "export, prune and quantize stay in the main skill."
    )
    body = "\n\n".join([intro, _quick_start(), _inputs(), _spec(), _pitfalls()])
    return f"{MARKDOWN_MARKER}\n\n{body}\n"
