# SPDX-License-Identifier: Apache-2.0
"""`references/tao-deploy-ocrnet.md`: the TensorRT guide; its text is `text/tao-deploy-ocrnet.md.j2`, its facts
the deploy metadata and the spec models."""

from __future__ import annotations

from tao_ocrnet.datasources.rules import render_table, table_rows
from tao_ocrnet.jobs import skill_info as md
from tao_ocrnet.skill.skill_md import spec_param_rows
from tao_ocrnet.skill.text import render_text


def render_deploy_md() -> str:
    return render_text(
        "tao-deploy-ocrnet.md.j2",
        image=md.DEPLOY_IMAGE,
        image_actions=list(md.DEPLOY_COMMANDS),
        cli_commands=[cmd.replace(" -e {config_path}", "") for cmd in md.DEPLOY_COMMANDS.values()],
        dataset_table=render_table(table_rows(md.DEPLOY_DATA_SOURCES)),
        spec_params=spec_param_rows(md.DEPLOY_SPEC_PARAMS),
        notes=md.deploy_notes(),
    )
