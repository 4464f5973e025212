# SPDX-License-Identifier: Apache-2.0
"""The actions a job can run, read from skill_info (the main file and the deploy file).

Job action names: every action of `skill_info.yaml` by its own name; the deploy file's evaluate and
inference become `trt_evaluate` and `trt_inference` (the config layer's names for them, and the MCP tool
names), running `ocrnet deploy evaluate|inference`. Nothing here is specific to one action: a command the
installed CLI gains later (export, prune, ...) becomes runnable without a change here.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from tao_ocrnet.config.actions import ALL_ACTIONS
from tao_ocrnet.datasources.rules import Rule
from tao_ocrnet.errors import UserError

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
    actions = job_actions()
    try:
        return actions[name]
    except KeyError:
        close = difflib.get_close_matches(name, actions, n=1)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        raise UserError(f"unknown action `{name}`; choose one of: {', '.join(actions)}.{hint}") from None


def command_available(action: JobAction) -> bool:
    """Whether the installed `ocrnet` CLI has the action's command (e.g. `ocrnet export`)."""
    import argparse

    from tao_ocrnet import cli

    words = action.cli_words
    if len(words) == 1 and words[0] in cli.SPEC_ACTIONS:
        return True  # the fast path: no parser needed
    parser: argparse.ArgumentParser = cli.build_parser()
    for word in words:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or word not in sub.choices:
            return False
        parser = sub.choices[word]
    return True
