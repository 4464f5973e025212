# SPDX-License-Identifier: Apache-2.0
"""`references/ocrnet-jobs.md`: the job guide (`ocrnet jobs`); its text is `text/ocrnet-jobs.md.j2`, its facts
the job layer's own constants."""

from __future__ import annotations

from tao_ocrnet.datasources import archives, s3
from tao_ocrnet.datasources import resolver as inputs
from tao_ocrnet.datasources.rules import SOURCE_FALLBACKS
from tao_ocrnet.jobs import paths, record, spec_params
from tao_ocrnet.jobs.catalog import job_actions
from tao_ocrnet.jobs.service import DEFAULT_GRACE
from tao_ocrnet.skill.text import render_text

JOBS_MD = "references/ocrnet-jobs.md"


def render_jobs_md() -> str:
    return render_text(
        "ocrnet-jobs.md.j2",
        actions=job_actions(),
        options=", ".join(f"`{opt}` ({src})" for src, opt in inputs.OPTION.items()),
        fallbacks="; ".join(f"{src} → {' → '.join(chain)}" for src, chain in SOURCE_FALLBACKS.items() if chain),
        archive_suffixes=archives.SUFFIXES,
        archive_marker=archives.MARKER,
        max_ratio=f"{archives.MAX_RATIO:g}",
        ratio_floor_mib=archives.RATIO_FLOOR_BYTES >> 20,
        lmdb_depth=inputs.LMDB_SEARCH_DEPTH,
        legacy_names=", ".join(f"`{old}` → `{new}`" for new, old in s3.LEGACY_NAMES.items()),
        parent_output=spec_params.PARENT_OUTPUT,
        home_env=paths.HOME_ENV,
        default_home=paths.DEFAULT_HOME,
        results_env=paths.RESULTS_ENV,
        cache_env=paths.CACHE_ENV,
        states=record.STATES,
        grace_s=f"{DEFAULT_GRACE:g}",
    )
