# SPDX-License-Identifier: Apache-2.0
"""The JSON sidecar beside every exported ONNX file and TensorRT engine (`<model file>.json`).

An ONNX file alone does not say which character list its class indices mean, nor whether it is a
CTC or Attn model; the sidecar records that (and the input size) so gen_trt_engine and the deploy
actions can refuse mismatched inputs instead of silently decoding garbage. Example::

    {"format": "tao-ocrnet-onnx/1", "input_name": "input", "input_channel": 1, "input_height": 32,
     "input_width": 100, "prediction": "CTC", "sequence_length": 26, "num_class": 37,
     "num_characters": 36, "charset_hash": "<sha256>", "opset": 17, "source": "best_accuracy.pth",
     "arch": {...ModelArch.to_dict()...}, "quantization": null, "tensorrt": null}

No torch import: the light layers may read sidecars.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tao_ocrnet.atomic import write_text_atomic
from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.data.charset import CHARSET_KEY, charset_hash
from tao_ocrnet.errors import ModelFileError, SpecError

log = logging.getLogger(__name__)

FORMAT = "tao-ocrnet-onnx/1"
INPUT_NAME = "input"
OUTPUT_NAMES = ("output_id", "output_prob")
SIZE_FIELDS = ("input_channel", "input_height", "input_width")


def sidecar_path(model_path: str | Path) -> Path:
    return Path(f"{model_path}.json")


@dataclass(frozen=True)
class Sidecar:
    input_channel: int
    input_height: int
    input_width: int
    prediction: str
    sequence_length: int
    num_class: int
    num_characters: int
    charset_hash: str
    arch: dict[str, Any]
    opset: int = 17
    source: str = ""
    input_name: str = INPUT_NAME
    format: str = FORMAT
    quantization: dict[str, Any] | None = None
    tensorrt: dict[str, Any] | None = None

    @classmethod
    def for_arch(cls, arch: ModelArch, source: str = "", **kwargs: Any) -> Sidecar:
        return cls(
            input_channel=arch.input_channel,
            input_height=arch.input_height,
            input_width=arch.input_width,
            prediction=arch.prediction,
            sequence_length=arch.sequence_length,
            num_class=arch.num_class,
            num_characters=len(arch.charset),
            charset_hash=charset_hash(arch.charset),
            arch=arch.to_dict(),
            source=source,
            **kwargs,
        )

    def model_arch(self) -> ModelArch:
        return ModelArch.from_dict(self.arch)

    def with_updates(self, **changes: Any) -> Sidecar:
        return replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def write(self, model_path: str | Path) -> Path:
        return write_text_atomic(sidecar_path(model_path), self.to_json())


def read_sidecar(model_path: str | Path, key: str) -> Sidecar:
    """The sidecar of `model_path`; ModelFileError naming `key` when absent or unreadable."""
    path = sidecar_path(model_path)
    if not path.is_file():
        raise ModelFileError(
            f"`{key}`: {model_path} has no sidecar {path.name} (written by `ocrnet export` and gen_trt_engine); "
            "export the model with `ocrnet export` and keep the .json file beside it"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown format {data.get('format')!r}")
        known = set(Sidecar.__dataclass_fields__)
        sidecar = Sidecar(**{k: v for k, v in data.items() if k in known})
        arch = sidecar.model_arch()
    except (OSError, ValueError, TypeError, KeyError, SpecError) as exc:
        raise ModelFileError(f"`{key}`: sidecar {path} is not valid ({exc}); export the model again") from None
    if charset_hash(arch.charset) != sidecar.charset_hash:
        raise ModelFileError(f"`{key}`: sidecar {path} is inconsistent (character list hash); export the model again")
    return sidecar


def _chosen(section: Any, name: str) -> bool:
    """True when the spec file or an override set this key to a value other than its default. A default, even
    written out (the generated templates and job specs write every key), cannot be told from an untouched one,
    so it does not cause a mismatch: the model file's size is used (e.g. the shipped model's 160-wide input)."""
    if name not in getattr(section, "model_fields_set", set()):
        return False
    field = type(section).model_fields[name]
    return getattr(section, name) != field.default


def spec_problems(
    sidecar: Sidecar,
    spec: Any,
    charset: Sequence[str] | None,
    key: str,
    extra_size_sections: Sequence[str] = (),
) -> list[str]:
    """Mismatches between a model file's sidecar and the spec, each naming the keys to fix.

    Input sizes are compared where the spec sets them to other than their defaults (`model.*`, and
    `evaluate.input_*` / `inference.input_*` for deploy); the character list whenever
    `dataset.character_list_file` is set.
    """
    problems: list[str] = []
    for name in SIZE_FIELDS:
        want = getattr(sidecar, name)
        if _chosen(spec.model, name) and getattr(spec.model, name) != want:
            problems.append(
                f"`model.{name}` = {getattr(spec.model, name)} but `{key}` was built for {want}; "
                f"set model.{name}={want} (keep input sizes from train to export and deploy)"
            )
        for section_name in extra_size_sections:
            section = getattr(spec, section_name)
            if hasattr(section, name) and _chosen(section, name) and getattr(section, name) != want:
                problems.append(f"`{section_name}.{name}` = {getattr(section, name)} but `{key}` expects {want}")
    if charset is not None and charset_hash(charset) != sidecar.charset_hash:
        problems.append(
            f"`{CHARSET_KEY}` lists {len(charset)} characters that differ from the {sidecar.num_characters} "
            f"the model in `{key}` was trained with; set {CHARSET_KEY} to the training character list"
        )
    return problems


def check_spec(
    sidecar: Sidecar, spec: Any, charset: Sequence[str] | None, key: str, extra_size_sections: Sequence[str] = ()
) -> None:
    problems = spec_problems(sidecar, spec, charset, key, extra_size_sections)
    if problems:
        raise SpecError(problems, header=f"the spec does not match the model in `{key}`")
