# SPDX-License-Identifier: Apache-2.0
"""The prose of the generated Markdown: Jinja2 templates in `skill/text/`, one per file they render.

Python computes the facts (from skill_info, the spec models, the shipped model) and passes them as the
context; the wording lives in the templates, so it is edited there. Every template may use the filters
below and `marker`, the "generated, do not edit" line.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from tao_ocrnet.config.render import MARKDOWN_MARKER
from tao_ocrnet.skill import mdtext

_ENV = Environment(
    loader=PackageLoader("tao_ocrnet.skill", "text"),
    undefined=StrictUndefined,  # a missing fact fails the generator, not the reader
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,  # Markdown and YAML, not HTML
)
_ENV.globals["marker"] = MARKDOWN_MARKER
_ENV.filters.update(
    spec_default=mdtext.default,
    spec_choices=mdtext.choices,
    spec_bounds=mdtext.bounds,
    table=mdtext.table,
    code=mdtext.code,
    yaml_scalar=mdtext.yaml_scalar,
    thousands=mdtext.thousands,
    percent=mdtext.percent,
)


def render_text(template: str, /, **context: Any) -> str:
    """Render `skill/text/<template>` with `context`."""
    return _ENV.get_template(template).render(**context)
