# SPDX-License-Identifier: Apache-2.0
"""Server-side argument validation: the low-level SDK server checks nothing, so every call goes through here.

- `ArgumentValidator`: one Draft202012Validator per tool (compiled at start-up) over the advertised
  inputSchema; every error is collected and worded as "the argument, the problem, the fix".
- `SpecChecker`: `spec_overrides` (dotted keys) against the action's full JSON Schema: unknown keys get a
  "did you mean" among that action's keys, categoricals are accepted in any case, ranges and types are
  checked, and secrets are refused (they travel by environment variable name).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from tao_ocrnet.mcp import constants as C
from tao_ocrnet.mcp.errors import ToolError

_TYPE_WORDS = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
               "array": "a list", "object": "an object", "null": "null"}  # fmt: skip


def _where(path: Iterable[Any], prefix: str = "") -> str:
    out = prefix
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(arguments)"


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _type_word(expected: Any) -> str:
    kinds: list[str] = expected if isinstance(expected, list) else [expected]
    return " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)


def _range(schema: Mapping[str, Any]) -> str:
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    left = "(" if "exclusiveMinimum" in schema else "["
    right = ")" if "exclusiveMaximum" in schema else "]"
    if lo is None and hi is None:
        return ""
    return f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The nearest of `choices` (whole dotted key, then same last part, then a near last part)."""
    keys = list(choices)
    match = difflib.get_close_matches(word, keys, n=1, cutoff=0.6)
    if match:
        return match[0]
    last = word.rsplit(".", 1)[-1]
    same = [k for k in keys if k.rsplit(".", 1)[-1] == last]
    if same:
        return same[0]
    tails = {k.rsplit(".", 1)[-1]: k for k in reversed(keys)}
    near = difflib.get_close_matches(last, list(tails), n=1, cutoff=0.75)
    return tails[near[0]] if near else None


def _needs(prop: Mapping[str, Any]) -> str:
    """What a missing argument takes (the tool schemas keep descriptions terse, so say it from the type)."""
    if prop.get("pattern") == C.JOB_ID_PATTERN:
        what = "a job id such as ocrnet-train-1a2b3c (see ocrnet_job_list)"
        return f"{prop['description'].rstrip('.')}: {what}" if prop.get("description") else what
    if prop.get("description"):
        return str(prop["description"])
    if "enum" in prop:
        return "one of " + ", ".join(_show(v) for v in prop["enum"])
    return f"give {_type_word(prop.get('type', 'a value'))}"


def describe_error(err: ValidationError, prefix: str = "", spec_names: Mapping[str, str] | None = None) -> list[str]:
    """One line per problem of a jsonschema error: argument, problem, fix."""
    where = _where(err.absolute_path, prefix)
    kind = err.validator
    # JSON from the schema and from the call (the stubs also allow "unset", which iter_errors never gives).
    rule: Any = err.validator_value
    value: Any = err.instance
    schema = err.schema if isinstance(err.schema, Mapping) else {}
    spec_names = spec_names or {}
    if kind == "required":
        props = schema.get("properties", {})
        missing = [k for k in rule if isinstance(value, dict) and k not in value]
        return [f"`{_where([*err.absolute_path, k], prefix)}` is required: {_needs(props.get(k, {}))}" for k in missing]
    if kind == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        lines = []
        for extra in (k for k in value if k not in allowed):
            where_extra = _where([*err.absolute_path, extra], prefix)
            if not prefix and extra in spec_names:  # a spec field given as a top-level argument
                example = json.dumps({spec_names[extra]: value[extra]}, default=str)
                lines.append(f"`{where_extra}` is a spec field, not an argument; put it in spec_overrides: {example}")
                continue
            hint = closest(extra, allowed)
            fix = f"did you mean `{hint}`?" if hint else f"the arguments are: {', '.join(allowed)}"
            lines.append(f"`{where_extra}` is not an argument of this tool; {fix}")
        return lines
    if kind == "type":
        return [f"`{where}` must be {_type_word(rule)}, not {_show(value)}"]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [f"`{where}` = {_show(value)} is out of range; use a value in {_range(schema)}"]
    if kind == "enum":
        options = ", ".join(_show(v) for v in rule)
        return [f"`{where}` = {_show(value)} is not allowed; choose one of {options}"]
    if kind == "pattern":
        if rule == C.JOB_ID_PATTERN:
            fix = "job ids look like ocrnet-train-1a2b3c (see ocrnet_job_list)"
        elif rule == C.ENV_NAME_PATTERN:
            fix = "give the NAME of an environment variable, e.g. OCRNET_KEY"
        elif rule == C.DOTTED_KEY_PATTERN:
            fix = "keys are dotted spec keys such as train.optim.lr"
        else:
            fix = f"it must match {rule}"
        return [f"`{where}` = {_show(value)} is malformed; {fix}"]
    if kind == "propertyNames":
        return [f"`{where}` key {_show(value)}: {err.message}"]
    if kind in ("minItems", "maxItems"):
        need = f"at least {rule}" if kind == "minItems" else f"at most {rule}"
        return [f"`{where}` has {len(value)} item(s); give {need}"]
    if kind in ("maxProperties", "maxLength", "minLength"):
        return [f"`{where}` is too {'long' if kind != 'minLength' else 'short'}: {err.message}"]
    return [f"`{where}`: {err.message}"]


def _flatten_errors(errors: Iterable[ValidationError]) -> Iterable[ValidationError]:
    for err in errors:
        if err.context:  # anyOf/oneOf: report the branches' own errors
            yield from _flatten_errors(err.context)
        else:
            yield err


def problems_of(
    validator: Draft202012Validator, instance: Any, prefix: str = "", spec_names: Mapping[str, str] | None = None
) -> list[str]:
    errors = sorted(_flatten_errors(validator.iter_errors(instance)), key=lambda e: [str(p) for p in e.absolute_path])
    out: list[str] = []
    for err in errors:
        for line in describe_error(err, prefix, spec_names):
            if line not in out:
                out.append(line)
    return out


def problem_text(tool: str, problems: list[str], hint: str = "") -> str:
    head = f"{tool}: {len(problems)} problem(s) with the arguments; nothing was started:"
    tail = f"\nFix them and call {tool} again." + (f" {hint}" if hint else "")
    return head + "\n" + "\n".join(f"- {p}" for p in problems) + tail


class ArgumentValidator:
    """Checks tool arguments against each tool's advertised inputSchema."""

    def __init__(
        self, tools: Iterable[Mapping[str, Any]], spec_names: Mapping[str, Mapping[str, str]] | None = None
    ) -> None:
        self.validators = {t["name"]: Draft202012Validator(t["inputSchema"]) for t in tools}
        self.spec_names = spec_names or {}  # tool -> {dotted key, alias or leaf name: dotted key}

    def problems(self, tool: str, arguments: Mapping[str, Any]) -> list[str]:
        """Every problem; an oversized call raises at once (nothing else of it is read)."""
        size = len(json.dumps(arguments, default=str).encode())
        if size > C.MAX_ARGUMENTS_BYTES:
            raise ToolError(
                f"{tool}: the arguments are {size} bytes; the limit is {C.MAX_ARGUMENTS_BYTES} bytes; nothing was "
                "started. Send paths and dataset roots, not file contents or long lists."
            )
        return problems_of(self.validators[tool], dict(arguments), spec_names=self.spec_names.get(tool))


def spec_names(leaves: Iterable[str], aliases: Mapping[str, str]) -> dict[str, str]:
    """Names a caller may use for a spec field: the dotted key, a shorthand alias, or an unambiguous leaf name."""
    keys = list(leaves)
    tails: dict[str, list[str]] = {}
    for key in keys:
        tails.setdefault(key.rsplit(".", 1)[-1], []).append(key)
    out = {tail: found[0] for tail, found in tails.items() if len(found) == 1}
    out.update({alias: key for alias, key in aliases.items() if key in keys})
    out.update({key: key for key in keys})
    return out


# --- spec_overrides ----------------------------------------------------------------------------


def schema_index(schema: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, Any], set[str]]:
    """(leaf dotted key -> leaf schema, section dotted keys) of a spec JSON Schema."""
    leaves: dict[str, Any] = {}
    sections: set[str] = set()
    for name, sub in schema.get("properties", {}).items():
        dotted = f"{prefix}{name}"
        if sub.get("type") == "object" and "properties" in sub:
            sections.add(dotted)
            inner, inner_sections = schema_index(sub, dotted + ".")
            leaves.update(inner)
            sections |= inner_sections
        else:
            leaves[dotted] = sub
    return leaves, sections


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = tree
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return tree


class SpecSchema:
    """One action's full spec schema, indexed for dotted-key checks."""

    def __init__(self, name: str, schema: dict[str, Any]) -> None:
        self.name = name
        self.schema = schema
        self.validator = Draft202012Validator(schema)
        self.leaves, self.sections = schema_index(schema)

    @classmethod
    def load(cls, path: Path) -> SpecSchema:
        return cls(path.stem, json.loads(path.read_text(encoding="utf-8")))

    def _canonical(self, dotted: str, value: Any) -> Any:
        """Categoricals in any case (`fp16` -> `FP16`), as the spec loader accepts them."""
        enum = self.leaves[dotted].get("enum")
        if enum and isinstance(value, str):
            lookup = {str(choice).lower(): choice for choice in enum}
            return lookup.get(value.strip().lower(), value)
        return value

    def _expand(self, key: str, value: Any, problems: list[str]) -> dict[str, Any]:
        if key in self.leaves:
            return {key: value}
        if key in self.sections:
            if not isinstance(value, Mapping):
                problems.append(
                    f"`spec_overrides.{key}` is a section; give an object of its keys or dotted keys like "
                    f"`{key}.{next(k for k in self.leaves if k.startswith(key + '.')).split('.')[-1]}`"
                )
                return {}
            out: dict[str, Any] = {}
            for sub, inner in value.items():
                out.update(self._expand(f"{key}.{sub}", inner, problems))
            return out
        hint = closest(key, self.leaves)
        fix = f"did you mean `{hint}`?" if hint else "ocrnet_describe_action lists the fields"
        problems.append(f"`spec_overrides.{key}` is not a field of the {self.name} spec; {fix}")
        return {}

    def check(
        self, overrides: Mapping[str, Any], aliases: Mapping[str, str], fixed: Mapping[str, tuple[str, Any]]
    ) -> tuple[dict[str, Any], list[str]]:
        """(flat {dotted leaf: canonical value}, problems). The caller reports the problems with its own.

        `fixed` maps dotted keys already set by top-level arguments to (argument name, value).
        """
        problems: list[str] = []
        flat: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for key, value in overrides.items():
            dotted = aliases.get(key, key)
            for leaf, leaf_value in self._expand(dotted, value, problems).items():
                if leaf in flat and flat[leaf] != leaf_value:
                    twice = f"({origin[leaf]} and {key})"
                    problems.append(f"`spec_overrides`: `{leaf}` is given twice {twice}; give it once")
                    continue
                flat[leaf] = leaf_value
                origin[leaf] = key
        for leaf, value in list(flat.items()):
            schema = self.leaves[leaf]
            if schema.get("writeOnly"):
                problems.append(
                    f"`spec_overrides.{leaf}` is a secret and is never sent in arguments; export it in the server's "
                    "environment and pass its variable name as `key_env`"
                )
                del flat[leaf]
                continue
            flat[leaf] = self._canonical(leaf, value)
            if leaf in fixed and fixed[leaf][1] != flat[leaf]:
                arg = fixed[leaf][0]
                problems.append(f"`{arg}` and `spec_overrides.{leaf}` both set `{leaf}`; give it once (as `{arg}`)")
        problems += problems_of(self.validator, _nest(flat), "spec_overrides")
        return flat, problems
