# SPDX-License-Identifier: Apache-2.0
"""The generated MCP tool definitions: derived from the schemas and skill_info, valid, small, complete."""

from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator

from tao_ocrnet.config.actions import ACTIONS, ALL_ACTIONS
from tao_ocrnet.config.json_schema import json_schema
from tao_ocrnet.config.tao_schema import popular_values
from tao_ocrnet.jobs import skill_info as md
from tao_ocrnet.jobs.catalog import job_actions
from tao_ocrnet.mcp import constants as C
from tao_ocrnet.mcp.validation import SpecSchema
from tao_ocrnet.skill.manifests import manifest_files
from tao_ocrnet.skill.tooldefs import HINT_DEFAULTS, TOOL_FAMILIES, schema_leaves, schema_name, tools_document
from tao_ocrnet.skill_root import find_project_root

ROOT = find_project_root()
ISSUE_TOOLS = [f"ocrnet_{a}" for a in (
    "dataset_convert", "train", "retrain", "evaluate", "inference", "export", "prune", "quantize", "gen_trt_engine",
    "trt_evaluate", "trt_inference", "job_status", "job_logs", "job_cancel", "job_list", "job_results",
    "describe_action", "automl_status", "automl_cancel",
)]  # fmt: skip


@pytest.fixture(scope="module")
def doc() -> dict:
    return tools_document()


def wire_size(tools: list[dict]) -> int:
    return len(json.dumps({"tools": tools}).encode())


def test_the_served_file_is_the_generated_one(doc):
    on_disk = json.loads((ROOT / C.TOOLS_FILE).read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(doc))


def test_every_issue_tool_exists_with_a_valid_name(doc):
    names = [t["name"] for t in doc["tools"]]
    assert sorted(names) == sorted(ISSUE_TOOLS)
    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"[a-z0-9_]+", name) and len(C.SERVER_NAME) + len(name) <= 64


def test_every_schema_is_2020_12_and_the_list_fits_the_budget(doc):
    for tool in doc["tools"]:
        Draft202012Validator.check_schema(tool["inputSchema"])
        Draft202012Validator.check_schema(tool["outputSchema"])
        assert tool["inputSchema"]["type"] == "object" and tool["outputSchema"]["type"] == "object"
        assert tool["inputSchema"]["additionalProperties"] is False
        assert tool["description"] and tool["title"]
    size = wire_size(doc["tools"])
    assert size <= 24 * 1024, f"tools/list is {size} bytes"  # the real-client figure: tests/test_mcp_results.py


def test_annotations_are_truthful(doc):
    # Hints equal to the spec's defaults are left out of tools/list; read them back with the defaults.
    ann = {t["name"]: {**HINT_DEFAULTS, **t["annotations"]} for t in doc["tools"]}
    for name in ("ocrnet_job_status", "ocrnet_job_logs", "ocrnet_job_list", "ocrnet_job_results",
                 "ocrnet_describe_action"):  # fmt: skip
        assert ann[name]["readOnlyHint"] is True and ann[name]["openWorldHint"] is False
    assert ann["ocrnet_job_cancel"] == {**ann["ocrnet_job_cancel"], "readOnlyHint": False, "destructiveHint": True,
                                        "idempotentHint": True}  # fmt: skip
    for action in job_actions():
        a = ann[f"ocrnet_{action}"]
        assert a["readOnlyHint"] is False and a["destructiveHint"] is False and a["idempotentHint"] is False
    assert ann["ocrnet_export"]["openWorldHint"] is True  # eval_dataset may be an s3:// root


def test_action_arguments_come_from_the_schemas_and_skill_info(doc):
    tools = {t["name"]: t for t in doc["tools"]}
    for name, action in job_actions().items():
        props = tools[f"ocrnet_{name}"]["inputSchema"]["properties"]
        binding = doc["bindings"][f"ocrnet_{name}"]
        schema = json_schema(name)
        # data sources: exactly the sources the skill_info rules of the action name
        sources = {r.source for rules in (action.splits.values() or [action.rules]) for r in rules.values()}
        assert set(binding["sources"]) == sources <= set(props)
        # parents: where spec_params read a parent model
        reads_parent = any(
            fn in ("parent_model", "pruned_model", "ptm_if_no_resume_model") for fn in action.params.values()
        )
        assert ("parent_job_id" in props) == reads_parent
        assert ("resume_from_job_id" in props) == ("resume_model" in action.params.values())
        # popular fields: typed like the schema leaf, bounds and enums included
        expected = _dotted(popular_values(name)) if name in ACTIONS else []  # the deploy spec marks none
        assert set(binding["popular"].values()) == set(expected)
        for arg, dotted in binding["popular"].items():
            leaf = schema_leaves(schema)[dotted]
            for key in ("type", "minimum", "maximum", "enum", "default", "items"):
                assert props[arg].get(key) == leaf.get(key), (name, arg, key)
            assert props[arg].get("description") or not leaf.get("description"), (name, arg)
        # control arguments
        assert {"spec_overrides", "dry_run", "wait_seconds", "key_env"} <= set(props)
        assert ("automl_policy" in props) == ("request" in props) == ALL_ACTIONS[name].automl
        assert binding["schema"] == schema_name(name)
        # every input and output path of the action is a confined path key
        entry = md.skill_info()["actions"].get(name) or md.deploy_skill_info()["actions"][name.removeprefix("trt_")]
        declared = set(entry["inputs"]) | (set(entry["outputs"]) - {"results_dir"})
        assert declared <= set(binding["path_keys"]), (name, declared - set(binding["path_keys"]))


def _dotted(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in tree.items():
        out += _dotted(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]
    return out


def test_train_takes_the_automl_arguments(doc):
    props = next(t for t in doc["tools"] if t["name"] == "ocrnet_train")["inputSchema"]["properties"]
    assert props["automl_policy"]["enum"] == ["on", "off", "auto"]
    assert props["request"]["type"] == "string"
    assert doc["server"]["automl_enabled"] is md.skill_info()["automl_enabled"]


def test_every_schema_field_is_settable_through_spec_overrides(doc):
    """Each leaf of each action's full schema passes the server's spec_overrides check with its default."""
    for tool, binding in doc["bindings"].items():
        if "schema" not in binding:
            continue
        spec = SpecSchema.load(ROOT / C.JSON_SCHEMA_DIR / f"{binding['schema']}.json")
        assert spec.leaves, tool
        checked = 0
        for dotted, leaf in spec.leaves.items():
            _, problems = spec.check({dotted: leaf["default"]}, binding["aliases"], {})
            if leaf.get("writeOnly"):  # encryption_key: refused with the key_env fix
                assert problems and "key_env" in problems[0]
                continue
            assert problems == [], (tool, dotted, problems)
            checked += 1
        assert checked == len(spec.leaves) - 1


def test_manifests_are_consistent(doc):
    files = manifest_files()
    for rel, data in files.items():
        assert json.loads((ROOT / rel).read_text(encoding="utf-8")) == data
    server = files[".mcp.json"]["mcpServers"][C.SERVER_NAME]
    assert server == {"command": "ocrnet", "args": ["mcp"], "env": {"OCRNET_HOME": "~/.ocrnet"}}
    for host in (".claude-plugin", ".codex-plugin", ".cursor-plugin"):
        manifest = files[f"{host}/plugin.json"]
        assert manifest["name"] == C.SERVER_NAME and manifest["version"] == md.SKILL_VERSION
        if "mcpServers" in manifest:
            assert (ROOT / manifest["mcpServers"]).resolve() == (ROOT / ".mcp.json").resolve()
    cursor = files[".cursor-plugin/plugin.json"]
    assert re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", cursor["name"])
    allowed = {"name", "displayName", "description", "version", "author", "publisher", "homepage", "repository",
               "license", "logo", "keywords", "mcpServers", "skills", "rules", "agents", "commands"}  # fmt: skip
    assert set(cursor) <= allowed  # Cursor's manifest schema is closed
    assert "mcpServers" in files[".codex-plugin/plugin.json"] and "interface" in files[".codex-plugin/plugin.json"]


def test_the_mcp_command_of_the_manifest_exists():
    from tao_ocrnet.cli import build_parser

    args = build_parser().parse_args(["mcp", "--workspace", "/tmp", "--http", "127.0.0.1:0"])
    assert args.workspace == ["/tmp"] and args.http == "127.0.0.1:0"


def test_skill_md_and_guide_point_at_the_server(doc):
    skill = (ROOT / "SKILL.md").read_text(encoding="utf-8")
    assert "## MCP Server" in skill and C.GUIDE_MD in skill and len(skill) < 20_000
    guide = (ROOT / C.GUIDE_MD).read_text(encoding="utf-8")
    for tool in doc["tools"]:
        assert f"`{tool['name']}`" in guide
    assert "inspector" in guide and "--config .mcp.json" in guide


def test_a_new_tool_is_one_registry_entry():
    # Families are plain functions returning ToolDefs; the AutoML tools (issue 7) add one more.
    assert all(callable(f) for f in TOOL_FAMILIES)
    bindings = tools_document()["bindings"]
    assert all(":" in b["handler"] for b in bindings.values())


def test_required_arguments_platform_and_read_sections_follow_the_sources(doc):
    from tao_ocrnet.jobs.platforms.base import PLATFORMS

    tools = {t["name"]: t for t in doc["tools"]}
    for name in job_actions():
        tool, binding = tools[f"ocrnet_{name}"], doc["bindings"][f"ocrnet_{name}"]
        props = tool["inputSchema"]["properties"]
        assert set(tool["inputSchema"].get("required", [])) <= set(props), name
        assert props["platform"]["enum"] == list(PLATFORMS), name  # follows the platform registry
        # describe_action's default field list covers every key the action must have and every key a root sets
        keys = [*ALL_ACTIONS[name].required, *(k for ks in binding["source_keys"].values() for k in ks)]
        assert {k.split(".")[0] for k in keys} <= set(binding["reads"]), name
    assert "model" not in doc["bindings"]["ocrnet_dataset_convert"]["reads"]
    assert doc["data_roots"]["gt_file"].count("<TAB>") == 1
