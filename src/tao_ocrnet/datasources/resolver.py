# SPDX-License-Identifier: Apache-2.0
"""Data sources: a request's dataset roots + the action's skill_info `data_sources` rules -> spec values.

For each rule `{source, path, runtime?, list?, lmdb_from?, raw_only?}`:
- the source's root comes from the request (`train_datasets` is a list), else along the documented
  fallbacks (eval -> train; calibration -> train; inference -> eval -> train); no root, no value;
- `runtime: extracted_folder`: the archive at `path` (else the same name ending .tgz, .tar or .zip) is extracted
  once into the staging folder `<cache>/staging/<archive identity>/<source>/<archive stem>`; a local root may
  hold the unpacked folder (`train/` for `train.tar.gz`) instead; a dry run inspects the archive (every check,
  headers only) and extracts nothing;
- an LMDB input resolves to the folder that directly holds `data.mdb` (searched a few levels down); for
  an LMDB-capable rule, a local root that itself holds `data.mdb` is that LMDB;
- `list: true` gives a YAML list with one folder per root;
- a `job:<id>` root names a COMPLETE dataset_convert job: it gives that job's LMDB for rules with
  `lmdb_from: job:dataset_convert.<split>` (the split must match), and the job's own input root for every
  other file (the character list, say);
- `image_folder: true`: a local root holding neither the archive nor its unpacked folder, but images at its
  top, is that image folder as is (inference over a plain folder of word crops);
- a gt file (`<split>/gt_new.txt`) is read beside the archive at the rule's path, else as `gt_new.txt` at the
  top of the extracted folder; a `raw_only` gt file is left empty when its folder is an LMDB.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tao_ocrnet.config.formats import IMAGE_EXTENSIONS
from tao_ocrnet.datasources.archives import (
    MARKER,
    Contents,
    archive_stem,
    extract_once,
    inspect_archive,
    is_archive,
)
from tao_ocrnet.datasources.roots import LocalRoot, ParsedUri, Root, open_root, parse_uri
from tao_ocrnet.datasources.rules import SOURCE_FALLBACKS, Rule
from tao_ocrnet.errors import DataError, UserError
from tao_ocrnet.results.partial import is_partial

OPTION = {
    "train_datasets": "--train-dataset",
    "eval_dataset": "--eval-dataset",
    "calibration_dataset": "--calibration-dataset",
    "inference_dataset": "--inference-dataset",
}
LMDB_FILE = "data.mdb"
LMDB_SEARCH_DEPTH = 3


@dataclass(frozen=True)
class DataRoots:
    train_datasets: tuple[str, ...] = ()
    eval_dataset: str | None = None
    calibration_dataset: str | None = None
    inference_dataset: str | None = None

    def given(self, source: str) -> list[str]:
        if source == "train_datasets":
            return list(self.train_datasets)
        value = getattr(self, source)
        return [value] if value else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "train_datasets": list(self.train_datasets),
            "eval_dataset": self.eval_dataset,
            "calibration_dataset": self.calibration_dataset,
            "inference_dataset": self.inference_dataset,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataRoots:
        """Inverse of `to_dict` (records and stored study configurations keep roots that way)."""
        return cls(
            train_datasets=tuple(data.get("train_datasets") or ()),
            eval_dataset=data.get("eval_dataset"),
            calibration_dataset=data.get("calibration_dataset"),
            inference_dataset=data.get("inference_dataset"),
        )


@dataclass(frozen=True)
class Folder:
    path: Path
    kind: str  # lmdb | raw
    uri: str
    listed: Contents | None = None  # a dry run's archive, not extracted: what `path` will hold

    def has_file(self, name: str) -> bool:
        return name in self.listed.files if self.listed is not None else (self.path / name).is_file()


@dataclass
class Inputs:
    values: dict[str, Any] = field(default_factory=dict)  # dotted spec key -> value
    described: dict[str, Any] = field(default_factory=dict)  # dotted spec key -> where it came from
    credentials: set[str] = field(default_factory=set)  # environment variable NAMES used
    split: str | None = None  # dataset_convert: which split this job converts


def find_lmdb(folder: Path, uri: str) -> Path | None:
    """The folder that directly holds data.mdb: `folder` itself or one a few levels below (exactly one).

    The search skips unfinished outputs (`.partial-` folders a killed dataset_convert left): they are never data.
    """
    if (folder / LMDB_FILE).is_file():
        return folder
    found: list[Path] = []
    level = [folder]
    for _ in range(LMDB_SEARCH_DEPTH):
        subdirs: list[Path] = []
        for parent in level:
            with os.scandir(parent) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False) and not is_partial(entry.name):
                        sub = Path(entry.path)
                        (found if (sub / LMDB_FILE).is_file() else subdirs).append(sub)
        if found:
            break
        level = subdirs
    if len(found) > 1:
        raise _several_lmdbs(uri, [str(p.relative_to(folder)) for p in found])
    return found[0] if found else None


def holds_images(folder: Path) -> bool:
    """Whether `folder` directly holds at least one image file (by suffix: the reader checks each file)."""
    with os.scandir(folder) as entries:
        return any(entry.is_file() and os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS for entry in entries)


def _several_lmdbs(uri: str, names: list[str]) -> DataError:
    return DataError(f"`{uri}` holds several LMDBs ({', '.join(sorted(names))}); give each as its own dataset root")


def _listed_lmdb(listed: Contents, uri: str) -> str | None:
    """`find_lmdb` on an archive's listing (a dry run extracts nothing): the relative folder holding data.mdb."""
    if LMDB_FILE in listed.files:
        return ""
    for depth in range(LMDB_SEARCH_DEPTH):
        found = [
            folder
            for folder in listed.folders
            if folder.count("/") == depth
            and f"{folder}/{LMDB_FILE}" in listed.files
            and not any(is_partial(part) for part in folder.split("/"))
        ]
        if len(found) > 1:
            raise _several_lmdbs(uri, found)
        if found:
            return found[0]
    return None


class _JobRoot:
    """A COMPLETE dataset_convert job used as a dataset root."""

    def __init__(self, record: dict[str, Any], cache_root: Path) -> None:
        self.record = record
        self.split = (record.get("request") or {}).get("split")
        outputs = record.get("outputs") or {}
        lmdb = find_lmdb(Path(outputs.get("task_dir") or record["results_dir"]), record["id"])
        if lmdb is None:
            raise DataError(f"dataset_convert job `{record['id']}` has no LMDB (data.mdb) in {record['results_dir']}")
        self.lmdb = lmdb
        roots = (record.get("request") or {}).get("roots") or {}
        source = "eval_dataset" if self.split == "eval" else "train_datasets"
        uris = roots.get(source) or []
        uri = uris[0] if isinstance(uris, list) and uris else uris
        self.input_root = open_root(parse_uri(uri), cache_root) if uri else None


class InputResolver:
    """Resolves data-source rules against the given roots.

    `lookup_dataset_job(job_id, uri)` returns the record of the COMPLETE dataset_convert job a `job:` root names
    (the jobs layer owns records and states), or raises UserError saying why that job cannot be used.
    With `dry_run`, archives are inspected (headers only: every check, nothing written) and not extracted.
    """

    def __init__(
        self,
        roots: DataRoots,
        cache_root: Path,
        lookup_dataset_job: Callable[[str, str], dict[str, Any]],
        dry_run: bool = False,
    ) -> None:
        self.roots = roots
        self.dry_run = dry_run
        self.cache_root = cache_root
        self.lookup_dataset_job = lookup_dataset_job
        self._opened: dict[str, Root] = {}
        self._jobs: dict[str, _JobRoot] = {}
        self.credentials: set[str] = set()

    # --- roots -------------------------------------------------------------------------------------

    def root_uris(self, source: str) -> list[str]:
        for candidate in (source, *SOURCE_FALLBACKS.get(source, ())):
            uris = self.roots.given(candidate)
            if uris:
                return uris
        return []

    def _root(self, parsed: ParsedUri) -> Root:
        if parsed.text not in self._opened:
            root = open_root(parsed, self.cache_root)
            self.credentials |= set(root.credentials)
            self._opened[parsed.text] = root
        return self._opened[parsed.text]

    def _job_root(self, job_id: str, uri: str) -> _JobRoot:
        if job_id not in self._jobs:
            self._jobs[job_id] = _JobRoot(self.lookup_dataset_job(job_id, uri), self.cache_root)
        return self._jobs[job_id]

    def _plain_root(self, uri: str) -> Root:
        """The root that serves files for `uri` (a job root serves its own input root's files)."""
        parsed = parse_uri(uri)
        if parsed.scheme != "job":
            return self._root(parsed)
        job = self._job_root(parsed.job_id, uri)
        if job.input_root is None:
            raise DataError(f"`{uri}`: job `{parsed.job_id}` records no input root to read other files from")
        self.credentials |= set(job.input_root.credentials)
        return job.input_root

    # --- rules -------------------------------------------------------------------------------------

    def _folder(self, uri: str, rule: Rule, key: str) -> Folder:
        parsed = parse_uri(uri)
        if parsed.scheme == "job" and rule.lmdb_from:
            job = self._job_root(parsed.job_id, uri)
            wanted = rule.lmdb_from.rsplit(".", 1)[-1]
            if job.split != wanted:
                raise UserError(
                    f"`{key}` wants the LMDB of a dataset_convert job on the {wanted} split, but `{parsed.job_id}` "
                    f"converted the {job.split} split; pass {OPTION[rule.source]} job:<{wanted} dataset_convert job>"
                )
            return Folder(job.lmdb, "lmdb", uri)
        root = self._plain_root(uri)
        if rule.lmdb_from and isinstance(root, LocalRoot) and (root.base / LMDB_FILE).is_file():
            return Folder(root.base, "lmdb", uri)  # the root itself is an LMDB (a hand-run dataset_convert)
        # The documented archive names: train.tar.gz, else train.tgz, train.tar or train.zip.
        download = not self.dry_run
        fetched = next(filter(None, (root.file(path, download) for path in rule.archive_paths())), None)
        stem = archive_stem(PurePosixPath(rule.path).name)
        if fetched is not None:
            if not is_archive(rule.path):
                raise DataError(f"`{key}`: {rule.path} is not an archive (.tar.gz, .tgz, .tar or .zip)")
            digest = hashlib.sha256(fetched.identity.encode()).hexdigest()[:16]
            dest = self.cache_root / "staging" / digest / rule.source / stem
            if self.dry_run and not (dest / MARKER).is_file():
                if not fetched.path.is_file():  # a remote archive not fetched yet: its contents show at submit
                    return Folder(dest, "raw", uri)
                listed = inspect_archive(fetched.path, dest)
                inner = _listed_lmdb(listed, uri)
                return Folder(dest / inner, "lmdb", uri) if inner is not None else Folder(dest, "raw", uri, listed)
            folder = extract_once(fetched.path, dest)
        else:
            local = root.folder(str(PurePosixPath(rule.path).parent / stem))
            if local is None and rule.image_folder and isinstance(root, LocalRoot) and holds_images(root.base):
                return Folder(root.base, "raw", uri)  # a plain folder of images, used as is
            if local is None:
                images = ", nor images at its top" if rule.image_folder else ""
                raise DataError(
                    f"{OPTION[rule.source]} `{uri}` has no {rule.path}"
                    + (f" (nor a {stem}/ folder{images})" if isinstance(root, LocalRoot) else "")
                    + f", needed for `{key}`"
                )
            folder = local
        lmdb = find_lmdb(folder, uri)
        return Folder(lmdb, "lmdb", uri) if lmdb is not None else Folder(folder, "raw", uri)

    def _file(self, uri: str, rule: Rule, key: str, paired: list[Folder] | None) -> str:
        fetched = self._plain_root(uri).file(rule.path)
        if fetched is not None:
            return str(fetched.path)
        if paired:
            name = PurePosixPath(rule.path).name
            if paired[0].has_file(name):
                return str(paired[0].path / name)
        where = f" (nor {PurePosixPath(rule.path).name} in the extracted folder)" if paired else ""
        raise DataError(f"{OPTION[rule.source]} `{uri}` has no {rule.path}{where}, needed for `{key}`")

    def resolve(self, rules: dict[str, Rule], skip: set[str], action: str) -> Inputs:
        """Spec values for every rule whose key the user did not set and whose source has a root."""
        out = Inputs()
        folders: dict[str, list[Folder]] = {}
        folder_keys: dict[str, str] = {}
        ordered = sorted(rules.items(), key=lambda item: not item[1].extract)  # folders first, for pairing
        for key, rule in ordered:
            uris = self.root_uris(rule.source)
            if rule.extract:
                folder_keys[rule.source] = key
            if key in skip or not uris:
                continue
            if rule.extract:
                targets = uris if rule.is_list else uris[:1]
                if not rule.is_list and len(uris) > 1:
                    raise UserError(f"{action} takes one {OPTION[rule.source]} for `{key}`; got {len(uris)}")
                found = [self._folder(uri, rule, key) for uri in targets]
                folders[rule.source] = found
                out.values[key] = [str(f.path) for f in found] if rule.is_list else str(found[0].path)
                out.described[key] = [{"uri": f.uri, "kind": f.kind, "path": str(f.path)} for f in found]
                continue
            paired = folders.get(rule.source)
            if rule.raw_only and folder_keys.get(rule.source) in skip:
                continue  # the user set the folder; its gt file is theirs to set too
            if rule.raw_only and paired and all(f.kind == "lmdb" for f in paired):
                out.values[key] = ""
                out.described[key] = {"uri": paired[0].uri, "kind": "unused (LMDB input)"}
                continue
            if rule.raw_only and paired and len(paired) > 1:
                raise UserError(
                    f"`{key}` is one gt file, but {len(paired)} {OPTION[rule.source]} roots are given and not all "
                    "are LMDB; convert the raw ones with dataset_convert jobs and pass them as job:<id>"
                )
            value = self._file(uris[0], rule, key, paired)
            out.values[key] = value
            out.described[key] = {"uri": uris[0], "kind": "file", "path": value}
        out.credentials = set(self.credentials)
        return out
