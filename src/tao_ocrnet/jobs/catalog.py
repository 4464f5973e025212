# SPDX-License-Identifier: Apache-2.0
"""The actions a job can run, read from skill_info (the main file and the deploy file).

Job action names: every action of `skill_info.yaml` by its own name; the deploy file's evaluate and
inference become `trt_evaluate` and `trt_inference` (the config layer's names for them, and the MCP tool
names), running `ocrnet deploy evaluate|inference`. Nothing here is specific to one action: a command the
installed CLI gains later (export, prune, ...) becomes runnable without a change here.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from tao_ocrnet.config.actions import ALL_ACTIONS, pick_action
from tao_ocrnet.datasources.rules import Rule

DEPLOY_JOB_NAMES = {"evaluate": "trt_evaluate", "inference": "trt_inference"}


@dataclass(frozen=True)
class JobAction:
    name: str  # the job action (and config action) name
    skill_file: str  # "skill_info" or "deploy_skill_info"
    entry: dict[str, Any] = field(repr=False)  # the skill_info action entry, as published
    rules: dict[str, Rule] = field(repr=False)  # data_sources for this action
    params: dict[str, str] = field(repr=False)  # spec_params: dotted key -> function name
    splits: dict[str, dict[str, Rule]] = field(default_factory=dict, repr=False)  # dataset_convert only

    @property
    def command(self) -> str:
        return self.entry["command"]

    @property
    def deploy(self) -> bool:
        """Deploy-spec actions take the deploy shorthand names."""
        return ALL_ACTIONS[self.name].deploy

    @property
    def cli_words(self) -> list[str]:
        """The CLI words of the command before its options: ["train"], ["deploy", "evaluate"]."""
        words = shlex.split(self.command)[1:]
        end = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
        return words[:end]


def _rules(data: dict[str, Any]) -> dict[str, Rule]:
    return {key: Rule.from_dict(rule) for key, rule in data.items()}


@cache
def job_actions() -> dict[str, JobAction]:
    # skill_info loads pydantic; this module is imported by JobService, which `ocrnet jobs list|status` use.
    from tao_ocrnet.jobs import skill_info as md

    info, deploy = md.skill_info(), md.deploy_skill_info()
    out: dict[str, JobAction] = {}
    for name, entry in info["actions"].items():
        splits = (
            {split: _rules(rules) for split, rules in info["dataset_convert_splits"].items()}
            if name == "dataset_convert"
            else {}
        )
        out[name] = JobAction(
            name, "skill_info", entry, _rules(info["data_sources"].get(name, {})),
            dict(info["spec_params"].get(name, {})), splits,
        )  # fmt: skip
    for name, entry in deploy["actions"].items():
        job_name = DEPLOY_JOB_NAMES.get(name)
        if job_name is None:
            continue  # gen_trt_engine: the main file declares it too, with the same command
        out[job_name] = JobAction(
            job_name, "deploy_skill_info", entry, _rules(deploy["data_sources"].get(name, {})),
            dict(deploy["spec_params"].get(name, {})),
        )  # fmt: skip
    return out


def job_action(name: str) -> JobAction:
    return pick_action(job_actions(), name)
