# SPDX-License-Identifier: Apache-2.0
"""`references/ocrnet-jobs.md`: the job guide (`ocrnet jobs`), rendered from the job layer's own constants."""

from __future__ import annotations

from tao_ocrnet.config.render import MARKDOWN_MARKER
from tao_ocrnet.datasources import archives, s3
from tao_ocrnet.datasources import resolver as inputs
from tao_ocrnet.datasources.rules import SOURCE_FALLBACKS
from tao_ocrnet.jobs import paths, record, spec_params
from tao_ocrnet.jobs.catalog import job_actions
from tao_ocrnet.jobs.service import DEFAULT_GRACE
from tao_ocrnet.skill.mdtext import code, table

JOBS_MD = "references/ocrnet-jobs.md"


def _commands() -> str:
    example = "\n".join(
        [
            "ocrnet jobs submit dataset_convert --train-dataset s3://bucket/ocr --wait   # -> JOB_A",
            "ocrnet jobs submit dataset_convert --eval-dataset s3://bucket/ocr --wait    # -> JOB_B",
            "ocrnet jobs submit train --train-dataset job:JOB_A --eval-dataset job:JOB_B num_epochs=30",
            "ocrnet jobs status JOB_T; ocrnet jobs logs JOB_T --follow",
            "ocrnet jobs submit evaluate --eval-dataset job:JOB_B --parent-job JOB_T --wait",
            "ocrnet jobs submit export --eval-dataset s3://bucket/ocr --parent-job JOB_T",
            "ocrnet jobs submit train ... --dry-run     # print the resolved spec, launch nothing",
        ]
    )
    names = ", ".join(f"`{name}`" for name in job_actions())
    return (
        "## Commands\n\n"
        "`ocrnet jobs submit ACTION [--train-dataset URI ...] [--eval-dataset URI] [--calibration-dataset URI] "
        "[--inference-dataset URI] [--parent-job ID [--checkpoint-epoch N] [--checkpoint-step N]] "
        "[--resume-from ID] [--key-env NAME] [--dry-run] [--wait] [dotted.key=value ...]`, then "
        "`ocrnet jobs list | status ID | logs ID [--tail N] [--follow] | cancel ID [--grace S] | results ID`.\n\n"
        f"Actions: {names} (`trt_evaluate` / `trt_inference` run `ocrnet deploy evaluate|inference`). An action "
        "whose command the installed CLI lacks is refused at submit.\n\n" + code("bash", example)
    )


def _spec() -> str:
    return (
        "## How the spec is built\n\n"
        "One pipeline, in this order: the action's template (`references/spec_template_<action>.yaml`) → data "
        "sources → `spec_params` → your overrides (they win) → validation, the same as `ocrnet <action> -e`. "
        "The result is the job's `spec.yaml`; `--dry-run` prints it. Any error (unknown action, unreadable "
        "URI, parent not usable, conflicting overrides, results root not writable) stops the submit before "
        "anything is recorded or launched. `results_dir` is bound to the job and `encryption_key` never "
        "enters a spec: pass `--key-env NAME` and the runner reads it from that variable."
    )


def _data() -> str:
    fallbacks = "; ".join(f"{src} → {' → '.join(chain)}" for src, chain in SOURCE_FALLBACKS.items() if chain)
    legacy = ", ".join(f"`{old}` → `{new}`" for new, old in s3.LEGACY_NAMES.items())
    options = ", ".join(f"`{opt}` ({src})" for src, opt in inputs.OPTION.items())
    return (
        "## Dataset roots\n\n"
        f"Options: {options}. A root is a local folder, `file:///path`, `s3://bucket/prefix` or "
        "`job:<dataset_convert job id>`; the data-source rules of `skill_info.yaml` pick files under it. "
        f"Missing roots fall back: {fallbacks}.\n\n"
        f"- **Archives** ({', '.join(f'`{s}`' for s in archives.SUFFIXES)}) are extracted once per archive "
        f"identity into `$OCRNET_HOME/cache/staging/…` (marker `{archives.MARKER}`). Refused: absolute paths, "
        "`..`, devices, links leaving the folder, expansion beyond "
        f"{archives.MAX_RATIO:g}x (past {archives.RATIO_FLOOR_BYTES >> 20} MiB) or the free disk. A local root "
        "may hold the unpacked folder (`train/`) instead of `train.tar.gz`.\n"
        "- **LMDB:** a folder holding `data.mdb` (at most "
        f"{inputs.LMDB_SEARCH_DEPTH} levels down) is used as the LMDB, and its gt file is left empty; a local "
        "root that is itself an LMDB folder works for the LMDB rows.\n"
        "- **gt files** are read beside the archive (`train/gt_new.txt`), else as `gt_new.txt` atop the "
        "extracted folder.\n"
        "- **`job:` roots:** the LMDB of a COMPLETE dataset_convert job (the split must match: train for "
        "`dataset.train_dataset_dir`, eval for the eval folders); other files (`character_list`) come from that "
        "job's own root. dataset_convert converts the train split with `--train-dataset`, the eval split with "
        "`--eval-dataset`.\n"
        "- **S3:** standard AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL` for "
        f"S3-compatible stores, `AWS_DEFAULT_REGION`); legacy names are mapped: {legacy}. Objects are "
        "downloaded once into `$OCRNET_HOME/cache/objects/` keyed by bucket, key, ETag and size. Only "
        "variable names are recorded."
    )


def _models() -> str:
    rows = [
        ("train / retrain", "`best_accuracy.pth`; with `--checkpoint-epoch`/`--checkpoint-step` exactly "
                            "`model_epoch_EEE_step_SSSSS.pth`; never the newest file"),
        ("export", f"its `{spec_params.PARENT_OUTPUT['export']}`"),
        ("prune", f"its `{spec_params.PARENT_OUTPUT['prune']}` (retrain's `model.pruned_graph_path`)"),
        ("gen_trt_engine", f"its `{spec_params.PARENT_OUTPUT['gen_trt_engine']}`"),
    ]  # fmt: skip
    return (
        "## Parent jobs and resume\n\n"
        "`--parent-job ID` feeds the `spec_params` of `skill_info.yaml` (`parent_model`, `pruned_model`, "
        "`ptm_if_no_resume_model`). The parent must be COMPLETE and of a kind the key takes; otherwise the "
        "submit fails naming the parent and the file it looked for.\n\n"
        + table(("Parent action", "Model file used"), rows)
        + "\n\n`ocrnet jobs submit train --resume-from ID ...` continues a finished, failed or killed "
        "train (or retrain) job in a new job: `train.resume_training_checkpoint_path` is that job's latest "
        "readable `model_epoch_*_step_*.pth` (by epoch and step in the name), its `best_accuracy.pth` is "
        "carried over, and `retry_of` names it. Every epoch up to that checkpoint is kept."
    )


def _records() -> str:
    states = " · ".join(record.STATES)
    return (
        "## Records and lifecycle\n\n"
        f"- Records: `${paths.HOME_ENV}/jobs/<id>.json` (default `{paths.DEFAULT_HOME}`), id "
        "`ocrnet-<action>-<6 hex>`; job folder `jobs/<id>/` (spec.yaml, runner.py, job.log); results in "
        f"`<results root>/<id>` (`${paths.RESULTS_ENV}`, default `${paths.HOME_ENV}/results`); cache in "
        f"`${paths.CACHE_ENV}` (default `${paths.HOME_ENV}/cache`).\n"
        f"- States: {states}. Transitions are appended with timestamps and a source (agent, poller, "
        "backend-hook); COMPLETE, ERROR and CANCELED are final. A record holds the resolved spec, the parent, "
        "the runner copy and its hash, the exit code and the KPIs from `status.json`. Writes are atomic and "
        "locked; secrets are masked.\n"
        "- Jobs run as detached process groups (they outlive the submitting process). Reading a job "
        "reconciles it: a process that died without an exit record becomes ERROR with the reason; a reused "
        "pid is detected by its start time.\n"
        f"- `cancel` sends SIGTERM to the group, SIGKILL after {DEFAULT_GRACE:g} s (`--grace`), and records "
        "CANCELED.\n"
        "- `runners/<action>.py` (generated from `skill_info.yaml`) runs one job folder: it executes the "
        "action's `command`, streams the log, writes `.runner/exit.json` and updates the record."
    )


def render_jobs_md() -> str:
    sections = [
        "# OCRNet jobs\n\n"
        "Run any action as a tracked, detached job: the spec is resolved from `skill_info.yaml`, dataset roots "
        "and parent jobs, recorded, then launched.",
        _commands(),
        _spec(),
        _data(),
        _models(),
        _records(),
    ]
    return f"{MARKDOWN_MARKER}\n\n" + "\n\n".join(sections) + "\n"
