# SPDX-License-Identifier: Apache-2.0
"""The `slurm` platform's settings a user sets once: `$OCRNET_HOME/slurm.yaml`, each key overridable by
environment (`OCRNET_SLURM_<KEY>`, e.g. OCRNET_SLURM_PARTITION). Every key is optional:

    partition: gpu            # sbatch --partition (default: the cluster's default partition)
    account: my-project       # sbatch --account
    time_limit: "4:00:00"     # sbatch --time: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
    sbatch_options: ["--qos=high", "--exclusive"]   # more sbatch options (env: one shell-quoted line)
    container_image: nvcr.io/nvidia/pytorch:25.01-py3   # Pyxis/Enroot --container-image
    gpus: true                # request the spec's GPUs (--gpus-per-node); false on a cluster without GPU GRES
    cpus_per_task: 8          # CPUs for each task (default: 1 + the spec's dataset.workers)
    python: /opt/venv/bin/python   # the interpreter on the nodes (default: the submitter's, same environment)

The file is read with every scalar as text (no YAML 1.1 surprises: `4:00:00` is not 14400, `yes` is not a
boolean partition); each value is checked here and a bad one is an error naming the key and the fix.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tao_ocrnet.errors import UserError
from tao_ocrnet.jobs import paths

FILE_NAME = "slurm.yaml"
ENV_PREFIX = "OCRNET_SLURM_"
_TIME = re.compile(
    r"^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2}|UNLIMITED|INFINITE)$"
)
_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
# Options the platform sets from the job itself: a user's value would break the job's shape or its files.
RESERVED = (
    "--parsable", "--job-name", "-J", "--output", "-o", "--error", "-e", "--open-mode", "--chdir", "-D",
    "--nodes", "-N", "--ntasks", "-n", "--ntasks-per-node", "--cpus-per-task", "-c", "--gpus-per-node",
    "--gres", "--gpus", "-G", "--requeue", "--no-requeue", "--wrap", "--array", "-a",
)  # fmt: skip


@dataclass(frozen=True)
class SlurmSettings:
    partition: str | None = None
    account: str | None = None
    time_limit: str | None = None
    sbatch_options: tuple[str, ...] = ()
    container_image: str | None = None
    gpus: bool = True
    cpus_per_task: int | None = None
    python: str | None = None


KEYS = tuple(SlurmSettings.__dataclass_fields__)


def settings_path() -> Path:
    return paths.home() / FILE_NAME


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UserError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        data = yaml.load(text, Loader=yaml.BaseLoader)  # BaseLoader: every scalar stays text
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: must be a mapping of settings ({', '.join(KEYS)})")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise UserError(f"{path}: unknown setting `{unknown[0]}`; the settings are {', '.join(KEYS)}")
    return data


def _text(key: str, value: Any, where: str, pattern: re.Pattern[str] | None = None, hint: str = "") -> str | None:
    if not isinstance(value, str):
        raise UserError(f"{where}: `{key}` must be a single value, not {type(value).__name__}")
    value = value.strip()
    if not value:
        return None
    if pattern is not None and not pattern.match(value):
        raise UserError(f"{where}: `{key}` = {value!r} is not valid; {hint}")
    return value


def _options(value: Any, where: str, from_env: bool) -> tuple[str, ...]:
    if from_env and isinstance(value, str):
        value = shlex.split(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f'{where}: `sbatch_options` must be a list of sbatch options, e.g. ["--qos=high"]')
    out = tuple(v.strip() for v in value if v.strip())
    for option in out:
        name = option.split("=", 1)[0]
        if not option.startswith("-"):
            raise UserError(f"{where}: `sbatch_options` entry {option!r} is not an option; write it as --name=value")
        if name in RESERVED:
            raise UserError(
                f"{where}: `sbatch_options` may not set {name}: the slurm platform sets it from the job "
                "(the allocation comes from train.num_nodes / train.num_gpus; the log is the job folder's job.log)"
            )
    return out


def _count(key: str, value: Any, where: str) -> int | None:
    text = _text(key, value, where)
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise UserError(f"{where}: `{key}` = {text!r} must be a whole number >= 1 (or left out for the default)")
    return int(text)


def _bool(value: Any, where: str) -> bool:
    word = value.strip().lower() if isinstance(value, str) else value
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise UserError(f"{where}: `gpus` = {value!r} must be true or false")


def load_settings(path: Path | None = None) -> SlurmSettings:
    """The file's settings with the environment's on top; any bad value is a UserError naming its key."""
    path = path or settings_path()
    values: dict[str, tuple[Any, str, bool]] = {key: (v, str(path), False) for key, v in _read_file(path).items()}
    for key in KEYS:
        env = ENV_PREFIX + key.upper()
        if os.environ.get(env, "").strip():
            values[key] = (os.environ[env], env, True)
    out: dict[str, Any] = {}
    for key, (value, where, from_env) in values.items():
        if key == "sbatch_options":
            out[key] = _options(value, where, from_env)
        elif key == "cpus_per_task":
            out[key] = _count(key, value, where)
        elif key == "gpus":
            out[key] = _bool(value, where)
        elif key == "time_limit":
            out[key] = _text(key, value, where, _TIME, "use minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS")
        elif key in ("partition", "account"):
            out[key] = _text(key, value, where, _NAME, "use the name `sinfo` / `sacctmgr` shows")
        else:
            out[key] = _text(key, value, where)
    return SlurmSettings(**out)
