# SPDX-License-Identifier: Apache-2.0
"""AutoML policy resolution: does this training request go through the tuner or train directly?

A pure function of (explicit policy, the user's words, the skill's files). The policy is a workflow
argument for one run: it is never written into a spec and never changes the skill's metadata
(the `## Train Action Policy` section of SKILL.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

Policy = Literal["on", "off"]
Source = Literal["explicit", "request", "default"]
_OPPOSITE: dict[Policy, Policy] = {"on": "off", "off": "on"}
NOT_RUNNABLE = "AutoML is enabled but not runnable until schemas are generated"
# How to take the other route (the argument is the per-run policy, `automl_policy`).
TO_DIRECT = (
    "this starts an AutoML study (several training trials, the baseline first), not one training job; "
    'call again with automl_policy "off" to train once directly'
)
TO_AUTOML = 'this trains once directly; call again with automl_policy "on" to search hyperparameters with AutoML'

# Phrases that turn AutoML off for this run, and phrases that ask for tuning. Matched on
# lower-cased text with quoted spans removed (a quoted phrase is mentioned, not meant).
_AUTOML = r"(?:automl_policy|automl|auto-ml|auto ml|hpo)"
_SEARCH = r"(?:hyper[- ]?parameters?|parameters?) (?:search(?:es|ing)?|sweeps?|tuning|optimi[sz]ation)"
# What a search is called: "no <this>", "skip <this>", "<this> is not needed" turn AutoML off.
_TUNING = (
    rf"(?:{_AUTOML}|{_SEARCH}|tuning|sweeps?|sweeping|(?:grid |random )?search(?:es|ing)?|"
    rf"(?:{_AUTOML} |tuning )?stud(?:y|ies)|trials)"
)
_WITHOUT = (
    r"(?:no|skip(?:ping)?|without|w/o|bypass(?:ing)?|avoid(?:ing)?|forget(?: about)?|opt(?:ing)? out of|"
    r"hold(?:ing)? off on|leave out|drop) (?:any |the |an? )?"
)
_HYPERS = r"(?:hyper[- ]?parameters?|learning rates?|lrs?|settings|configurations)"
# "train once" but not "train once the data is converted" (a conjunction).
_ONCE = r"once\b(?! (?:the|my|your|our|its?|it's|we|you|i|that|this|they|data|conversion|convert(?:ed|ing)?)\b)"
_OFF = (
    rf"(?:turn|switch|shut)(?:ing)? off (?:the )?(?:{_AUTOML}|tuning)",
    rf"(?:{_AUTOML}|tuning) off",
    rf"disabl(?:e|ing) (?:the )?(?:{_AUTOML}|tuning|{_SEARCH})",
    rf"{_WITHOUT}{_TUNING}\b",
    rf"{_TUNING} (?:is |are )?(?:not|isn't|aren't|isnt) (?:needed|necessary|required|wanted)",
    rf"{_TUNING} (?:is |are )?(?:unnecessary|unneeded|overkill)",
    r"(?:plain|normal|regular|standard|simple|ordinary|vanilla) (?:training|train|run|job)",
    r"just (?:train|run)(?: it| the (?:model|training))?\b",
    rf"(?:train|run)(?: it| the model| the training)? (?:just |only )?{_ONCE}",
    r"(?:train|run)(?: it| the model| the training)? directly",
    r"(?:just |only )?(?:one|1|a single|single) (?:plain |quick |training |single )?"
    r"(?:run|job|training(?: run| job)?)\b",
    rf"keep (?:the |my |all )?{_HYPERS} (?:fixed|as is|as they are|unchanged)",
)
_ON = (
    rf"(?:turn|switch)(?:ing)? on (?:the )?(?:{_AUTOML}|tuning)",
    rf"{_AUTOML} (?:on|auto)\b",
    rf"enabl(?:e|ing) (?:the )?(?:{_AUTOML}|tuning)",
    rf"(?:use|using|run|with|via|through) (?:the )?{_AUTOML}\b",
    rf"(?:run|start|launch|do) (?:an? )?(?:{_AUTOML} |tuning )?(?:study|sweep|search)\b",
    _SEARCH,
    r"\btune\b|\btuning\b|\bhpo\b|\bautoml\b",
    rf"(?:find|search for|pick|search|sweep|tune|optimi[sz]e|explore) (?:over |for |the |my )*(?:best )?{_HYPERS}",
    rf"try (?:several|multiple|different|a few|various|some) {_HYPERS}",
    r"\bsweep\b",
)
# A negation shortly before a phrase flips it: "don't disable AutoML" is on, "don't tune" is off.
_NEGATION = re.compile(
    r"(?:\bdon'?t|\bdo not|\bdoes not|\bdoesn'?t|\bnever|\bnot|\bno need (?:to|for)|\bwithout needing to)"
    r"(?: \w+){0,2} $"
)
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|`[^`]*`|(?<!\w)'[^']*'(?!\w)")


@dataclass(frozen=True)
class PolicyDecision:
    policy: Policy  # the resolved per-run policy
    route: Literal["automl", "direct"]  # where the train request goes
    reason: str  # one sentence for the caller to show the user
    source: Source
    switch: str = ""  # how to take the other route, or why there is none (for the caller to show the user)

    def to_dict(self) -> dict[str, Any]:
        out = {"policy": self.policy, "route": self.route, "reason": self.reason, "source": self.source}
        return out | ({"switch": self.switch} if self.switch else {})


def normalise_policy(value: str | bool | None) -> Policy | None:
    """'on'/'off'; the legacy 'auto' (TAO 7.0.0) means on; None means not given."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    text = str(value).strip().lower()
    if text in ("on", "auto", "true", "yes", "enabled"):
        return "on"
    if text in ("off", "false", "no", "disabled"):
        return "off"
    raise ValueError(f"automl_policy must be on or off (auto is accepted as on), not {value!r}")


def _mentions(text: str) -> list[tuple[int, Policy]]:
    """(position, polarity) of every policy phrase in `text`, negations applied."""
    found: dict[int, tuple[int, Policy]] = {}
    phrases: tuple[tuple[tuple[str, ...], Policy], ...] = ((_OFF, "off"), (_ON, "on"))
    for patterns, polarity in phrases:
        for pattern in patterns:
            for m in re.finditer(pattern, text):
                # An off-phrase wins over an on-phrase covering the same words ("disable automl").
                if any(s <= m.start() < e for s, (e, p) in found.items() if p != polarity):
                    continue
                found.setdefault(m.start(), (m.end(), polarity))
    out: list[tuple[int, Policy]] = []
    previous_end = 0
    for start, (end, polarity) in sorted(found.items()):
        if start < previous_end:
            continue  # nested in the phrase before ("use automl" holds "automl")
        # A negation applies to the next phrase only, never across another phrase.
        if _NEGATION.search(text[max(previous_end, start - 40) : start]):
            polarity = _OPPOSITE[polarity]
        out.append((start, polarity))
        previous_end = max(previous_end, end)
    return out


def policy_from_request(request: str | None) -> Policy | None:
    """The policy the user's words ask for, or None when they say nothing about it.

    When the request says both, the last statement wins ("tune it... actually, just train it").
    """
    if not request:
        return None
    text = _QUOTED.sub(" ", request.lower().replace("’", "'"))
    text = re.sub(r"[^\w'\-/]+", " ", text).strip() + " "
    mentions = _mentions(text)
    return mentions[-1][1] if mentions else None


def automl_runnable(skill_dir: Path) -> bool:
    """The train schema and template both exist and parse (two of the policy's conditions for AutoML)."""
    try:
        json.loads((skill_dir / "schemas" / "train.schema.json").read_text(encoding="utf-8"))
        template = yaml.safe_load((skill_dir / "references" / "spec_template_train.yaml").read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return False
    return isinstance(template, dict)


def resolve_policy(
    action: str,
    explicit: str | bool | None,
    request: str | None,
    automl_enabled: bool,
    skill_dir: Path,
) -> PolicyDecision:
    """Decide how to run one request. An explicit value beats the wording; the default is on."""
    given = normalise_policy(explicit)
    worded = policy_from_request(request)
    source: Source
    if given is not None:
        policy, source = given, "explicit"
    elif worded is not None:
        policy, source = worded, "request"
    else:
        policy, source = "on", "default"
    why = {
        "explicit": f"automl_policy={policy} was given",
        "request": f"the request asks for AutoML {policy}",
        "default": "no AutoML preference was stated (the default is on)",
    }[source]
    if action not in ("train", "retrain"):
        return PolicyDecision(policy, "direct", f"{action} is never routed to AutoML", source)
    if policy == "off":
        return PolicyDecision(policy, "direct", f"{why}: training directly, for this run only", source, TO_AUTOML)
    if not automl_enabled:
        why = f"{why}, but this skill has automl_enabled: false"
        return PolicyDecision(policy, "direct", why, source, "AutoML is not available: automl_enabled is false")
    if not automl_runnable(skill_dir):
        return PolicyDecision(policy, "direct", f"{NOT_RUNNABLE}; training directly", source, NOT_RUNNABLE)
    return PolicyDecision(policy, "automl", f"{why}: routing training through AutoML", source, TO_DIRECT)
