# SPDX-License-Identifier: Apache-2.0
"""SKILL.md: the facts its template (`text/SKILL.md.j2`) needs, read from the spec models and skill_info.

The TAO skill bank's consumers rely on its frontmatter and body sections: bank CI checks the frontmatter,
agents look for the sections below in order, and tao-automl's validator parses the dataset table and the
`**Monitoring metric:**` line. Spec facts are read here or by the template's filters, never typed, so the text
cannot drift from the schemas (the reference skill's prose said `distributed_strategy` is `auto`; the spec's
default is `ddp`).
"""

from __future__ import annotations

from tao_ocrnet.config.actions import SCHEMA_ACTIONS
from tao_ocrnet.config.shorthand import TRAIN_SHORTHAND
from tao_ocrnet.config.tao_schema import LR_BY_OPTIMIZER, automl_lists, search_range
from tao_ocrnet.datasources.rules import render_table, table_rows
from tao_ocrnet.jobs import skill_info as md
from tao_ocrnet.mcp.constants import GUIDE_MD
from tao_ocrnet.skill.differences_md import DIFFERENCES_MD
from tao_ocrnet.skill.layout import Layout
from tao_ocrnet.skill.mdtext import bounds, choices, default, node
from tao_ocrnet.skill.text import render_text

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
MULTI_GPU = ("train.num_gpus", "train.gpu_ids", "train.distributed_strategy", "train.use_distributed_sampler")


def _data_sources() -> dict[str, str]:
    layout = md.DATA_SOURCE_LAYOUT
    roots = "; ".join(f"{src}: " + ", ".join(f"`{p}`" for p in files) for src, files in layout["roots"].items())
    fallbacks = ", ".join(f"{src} → " + " → ".join(chain) for src, chain in layout["fallbacks"].items())
    rows = table_rows(md.DATA_SOURCES) + table_rows({"dataset_convert": md.CONVERT_SPLITS["eval"]})
    return {"roots": roots, "fallbacks": fallbacks, "dataset_table": render_table(rows)}


def _important() -> list[dict[str, str]]:
    return [
        {
            "key": key,
            "default": default(key),
            "choices": choices(key) if node(key).enum and len(node(key).enum) > 1 else "",
            "description": node(key).description,
        }
        for key in IMPORTANT
    ]


def spec_param_rows(spec_params: dict[str, dict[str, str]]) -> list[tuple[str, str, str]]:
    """(Action, Spec Key, Function (parent job)) rows; the results_dir and encryption_key rows are in the prose."""
    return [
        (action, f"`{key}`", f"`{fn}`" + (f" ({md.PARENT_JOB[key]})" if key in md.PARENT_JOB else ""))
        for action, mapping in spec_params.items()
        for key, fn in mapping.items()
        if key not in ("encryption_key", "results_dir")
    ]


def _spec_params() -> dict[str, list]:
    common = md.SPEC_PARAMS["train"]
    # The template states these two mappings for every action.
    assert common["encryption_key"] == "key" and common["results_dir"] == "output_dir"
    used = {fn for mapping in md.SPEC_PARAMS.values() for fn in mapping.values()}
    # Functions with the same meaning share one line (the create_* family).
    by_text: dict[str, list[str]] = {}
    for fn, text in md.SPEC_PARAM_FUNCTIONS.items():
        if fn in used:
            by_text.setdefault(text, []).append(fn)
    return {"spec_params": spec_param_rows(md.SPEC_PARAMS), "functions": [(fns, text) for text, fns in by_text.items()]}


def _search_bounds(key: str) -> str:
    """The range TAO AutoML samples for a default search parameter (the schema's, else the spec's bounds)."""
    rng = search_range(key)
    return f"[{rng[0]:g}, {rng[1]:g}]" if rng else bounds(key)


def render_skill_md(layout: Layout) -> str:
    return render_text(
        "SKILL.md.j2",
        name=md.SKILL_NAME,
        version=md.SKILL_VERSION,
        author=md.AUTHOR,
        tags=list(md.TAGS),
        top_level_tags=layout.top_level_tags,
        skill_info=layout.skill_info,
        schema_actions=SCHEMA_ACTIONS,
        train_metrics=md.TRAIN_METRICS,
        eval_metrics=md.EVAL_METRICS,
        shorthand=list(TRAIN_SHORTHAND),
        important=_important(),
        multi_gpu=[(f"`{k}`", f"`{default(k)}`", node(k).description) for k in MULTI_GPU],
        search_space=[(key, _search_bounds(key)) for key in automl_lists("train")[0]],
        mcp_guide=GUIDE_MD,
        differences_md=DIFFERENCES_MD,
        lr_ranges={name: (f"{lo:g}", f"{hi:g}") for name, (lo, hi) in LR_BY_OPTIMIZER.items()},
        **_data_sources(),
        **_spec_params(),
    )


# The body headings, in order, that the bank's consumers look for (tests check them).
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
