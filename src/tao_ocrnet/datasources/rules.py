# SPDX-License-Identifier: Apache-2.0
"""Data-source rules: how a job's dataset roots become spec values (skill_info `data_sources`).

A rule keeps the skill-bank shape `{source, path, runtime?, list?}` that existing consumers parse, and
adds two keys for what that shape could not say (the reference's table said LMDB, its YAML raw + gt):

- `lmdb_from: job:dataset_convert.<split>`: the preferred value is the LMDB folder written by this run's
  dataset_convert job on that split; `source`/`path` are that job's input and the raw-image alternative.
- `raw_only: true`: a gt file that is set only when the paired folder holds raw images; with the LMDB
  it stays "".
- `image_folder: true`: a local root that directly holds images (and has neither the archive nor its
  unpacked folder) is that image folder itself; inference reads a plain folder of word crops this way.

The same rules render the SKILL.md table, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from tao_ocrnet.datasources.archives import SUFFIXES, archive_stem, is_archive

SOURCES = ("train_datasets", "eval_dataset", "calibration_dataset", "inference_dataset")

# Every source resolves: a missing root falls back along this chain (the first one set wins).
SOURCE_FALLBACKS: dict[str, tuple[str, ...]] = {
    "train_datasets": (),
    "eval_dataset": ("train_datasets",),
    "calibration_dataset": ("train_datasets",),
    "inference_dataset": ("eval_dataset", "train_datasets"),
}

# Where an archive is unpacked and how: documented in skill_info so every runner does the same thing.
EXTRACTION: dict[str, Any] = {
    "archive": "the rule's path (train.tar.gz); when the root has no such file, the same name ending .tgz, "
    ".tar or .zip, in that order",
    "dir": "<staging>/<source>/<archive name without .tar.gz/.tgz/.tar/.zip>",
    "strip": "single_top_level_folder",
    "strip_rule": "ignoring a leading ./, strip one leading folder only when every member sits under that "
    "one folder; otherwise extract as is (never a blind --strip-components=1)",
    "marker": ".extracted",
    "gt_file": "read beside the archive at the rule's path (<split>/gt_new.txt under the root); if absent, "
    "a gt_new.txt at the top of the extracted folder; image paths in it are relative to the extracted folder",
    "archive_as_folder": "never pass an archive path where a folder is expected; extract it first",
    "image_folder": "a rule with image_folder: true also takes a local root that directly holds images (and has "
    "neither the archive nor its unpacked folder): that folder is used as is",
}


@dataclass(frozen=True)
class Rule:
    """Where one spec key's value comes from."""

    source: str
    path: str
    extract: bool = False  # runtime: extracted_folder
    is_list: bool = False  # the spec value is a YAML list
    lmdb_from: str | None = None  # e.g. "job:dataset_convert.train"
    raw_only: bool = False
    image_folder: bool = False  # a local root that directly holds images is the folder itself

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown data source {self.source!r}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "path": self.path}
        if self.extract:
            out["runtime"] = "extracted_folder"
        if self.is_list:
            out["list"] = True
        if self.lmdb_from:
            out["lmdb_from"] = self.lmdb_from
        if self.raw_only:
            out["raw_only"] = True
        if self.image_folder:
            out["image_folder"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rule:
        """The inverse of `to_dict`: how consumers (the job layer) read a skill_info rule back."""
        return cls(
            source=data["source"],
            path=data["path"],
            extract=data.get("runtime") == "extracted_folder",
            is_list=bool(data.get("list", False)),
            lmdb_from=data.get("lmdb_from"),
            raw_only=bool(data.get("raw_only", False)),
            image_folder=bool(data.get("image_folder", False)),
        )

    def archive_paths(self) -> tuple[str, ...]:
        """Where to look for the archive: `path`, then the same name with every other archive suffix."""
        if not is_archive(self.path):
            return (self.path,)
        path = PurePosixPath(self.path)
        others = (str(path.with_name(archive_stem(path.name) + suffix)) for suffix in SUFFIXES)
        return (self.path, *(other for other in others if other != self.path))

    def files_cell(self) -> str:
        """The table's Files text. The archive/file path comes where tao-automl's row parser looks for it."""
        if self.lmdb_from:
            split = self.lmdb_from.rsplit(".", 1)[-1]
            return f"dataset_convert {split} LMDB, else images extracted from {self.path}"
        if self.extract:
            # The alternative goes first: tao-automl reads the path as everything after "extracted from".
            plain = "the images at the root's top, or " if self.image_folder else ""
            return f"{plain}images extracted from {self.path}"
        if self.raw_only:
            return f"{self.path} when using raw images"
        return self.path


def rules_to_yaml(rules: dict[str, dict[str, Rule]]) -> dict[str, dict[str, dict[str, Any]]]:
    return {action: {key: rule.to_dict() for key, rule in keys.items()} for action, keys in rules.items()}


def table_rows(rules: dict[str, dict[str, Rule]], action_label: dict[str, str] | None = None) -> list[tuple[str, ...]]:
    """(Action, Spec Key, Source, Files, List?) rows, one per action and spec key, in rule order."""
    label = action_label or {}
    return [
        (label.get(action, action), key, rule.source, rule.files_cell(), "Yes" if rule.is_list else "No")
        for action, keys in rules.items()
        for key, rule in keys.items()
    ]


TABLE_HEADER = "| Action | Spec Key | Source | Files | List? |"


def render_table(rows: list[tuple[str, ...]]) -> str:
    lines = [TABLE_HEADER, "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
