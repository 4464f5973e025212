# SPDX-License-Identifier: Apache-2.0
"""`ModelArch`: everything needed to rebuild an OCRNet, as plain types.

It imports no torch: spec validation, job submission and the skill tooling check input sizes and widths
without paying for a torch import. Backbone facts come from `tao_ocrnet.config.backbones`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tao_ocrnet.config.backbones import BACKBONE_NAMES, BACKBONES, feature_map_size
from tao_ocrnet.errors import SpecError

log = logging.getLogger(__name__)

PREDICTIONS: tuple[str, ...] = ("CTC", "Attn")
# The search range for the smallest usable input size (only used to word error messages).
_MAX_PROBE = 4096


def _smallest(backbone: str, axis: str) -> int:
    for n in range(1, _MAX_PROBE):
        h, w = feature_map_size(backbone, n if axis == "h" else 64, n if axis == "w" else 64)
        if (h if axis == "h" else w) >= 1:
            return n
    return _MAX_PROBE


def _as_charset(charset: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(c) for c in charset)


@dataclass(frozen=True)
class ModelArch:
    """The network's architecture, independent of its (possibly pruned) weights.

    A pruned network is `ModelArch` + a state_dict whose shapes are smaller than the defaults
    (`build_model(arch, state_dict=...)` resizes modules to match).
    """

    backbone: str = "ResNet"
    tps: bool = False
    num_fiducial: int = 20
    feature_channel: int = 512
    hidden_size: int = 256
    sequence: str = "BiLSTM"
    prediction: str = "CTC"
    input_channel: int = 1
    input_height: int = 32
    input_width: int = 100
    max_label_length: int = 25
    charset: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        # Normalise types so that equality and hashing work for values read back from files.
        object.__setattr__(self, "charset", _as_charset(self.charset))
        problems = self.problems()
        if problems:
            raise SpecError(problems, header="the model architecture is not valid")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_spec(cls, model_cfg: Any, charset: Iterable[str], max_label_length: int) -> ModelArch:
        """Build from the spec's `model` section (duck-typed: attribute access only)."""
        backbone = str(model_cfg.backbone)
        feature_channel = int(model_cfg.feature_channel)
        fixed = BACKBONES[backbone].fixed_feature_channel if backbone in BACKBONES else None
        if fixed is not None and feature_channel != fixed:
            # The reference forces the width silently; we say so.
            log.warning(
                "model.feature_channel=%d is ignored for backbone %s: its feature width is fixed at %d",
                feature_channel,
                backbone,
                fixed,
            )
            feature_channel = fixed
        return cls(
            backbone=backbone,
            tps=bool(model_cfg.TPS),
            num_fiducial=int(model_cfg.num_fiducial),
            feature_channel=feature_channel,
            hidden_size=int(model_cfg.hidden_size),
            sequence=str(model_cfg.sequence),
            prediction=str(model_cfg.prediction),
            input_channel=int(model_cfg.input_channel),
            input_height=int(model_cfg.input_height),
            input_width=int(model_cfg.input_width),
            max_label_length=int(max_label_length),
            charset=_as_charset(charset),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (charset as a list) that `torch.load(weights_only=True)` can read back."""
        d = asdict(self)
        d["charset"] = list(self.charset)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelArch:
        """Inverse of `to_dict`. Unknown keys are ignored (forward compatibility)."""
        known = {f.name for f in fields(cls)}
        missing = sorted(known - set(data))
        if missing:
            raise SpecError([f"missing key {k!r}" for k in missing], header="the stored architecture is incomplete")
        return cls(**{k: data[k] for k in known})

    # ------------------------------------------------------------------ derived values
    @property
    def num_class(self) -> int:
        """K: characters + [CTCblank] (CTC) or + [GO], [s] (Attn)."""
        return len(self.charset) + (1 if self.prediction == "CTC" else 2)

    @property
    def use_sequence_model(self) -> bool:
        """The reference treats any value other than BiLSTM as "no sequence model"."""
        return self.sequence == "BiLSTM"

    @property
    def feature_size(self) -> tuple[int, int]:
        """(H', W') of the backbone output."""
        return feature_map_size(self.backbone, self.input_height, self.input_width)

    @property
    def sequence_length(self) -> int:
        """T of the logits: W' for CTC, max_label_length + 1 decoding steps for Attn."""
        if self.prediction == "Attn":
            return self.max_label_length + 1
        return self.feature_size[1]

    # ------------------------------------------------------------------ validation
    def problems(self) -> list[str]:
        """Every reason this architecture cannot be built (empty when valid)."""
        p: list[str] = []
        if self.backbone not in BACKBONES:
            p.append(f"model.backbone={self.backbone!r} is not supported; use one of {', '.join(BACKBONE_NAMES)}")
        if self.prediction not in PREDICTIONS:
            p.append(f"model.prediction={self.prediction!r} is not supported; use CTC or Attn")
        if self.input_channel not in (1, 3):
            p.append(f"model.input_channel={self.input_channel} must be 1 (grayscale) or 3 (RGB)")
        if self.max_label_length < 1:
            p.append(f"dataset.max_label_length={self.max_label_length} must be at least 1")
        if self.hidden_size < 1:
            p.append(f"model.hidden_size={self.hidden_size} must be at least 1")
        if not self.charset:
            p.append("the character list is empty; check dataset.character_list_file")
        elif len(set(self.charset)) != len(self.charset):
            p.append("the character list has duplicate characters; check dataset.character_list_file")
        if self.tps and (self.num_fiducial < 4 or self.num_fiducial % 2):
            p.append(f"model.num_fiducial={self.num_fiducial} must be an even number >= 4 (20 is the default)")
        fixed = BACKBONES[self.backbone].fixed_feature_channel if self.backbone in BACKBONES else None
        if fixed is not None:
            if self.feature_channel != fixed:
                p.append(f"model.feature_channel must be {fixed} for {self.backbone}")
        elif self.backbone in BACKBONES and (self.feature_channel < 16 or self.feature_channel % 16):
            # ResNet widths are feature_channel / 16, /8, /4, /2, /1.
            p.append(
                f"model.feature_channel={self.feature_channel} must be a positive multiple of 16 for {self.backbone}"
            )
        if self.backbone in BACKBONES:
            p += self._size_problems()
        return p

    def _size_problems(self) -> list[str]:
        p: list[str] = []
        h, w = self.input_height, self.input_width
        step = BACKBONES[self.backbone].downsample
        if BACKBONES[self.backbone].resnet_first_pool is None:
            for key, value in (("model.input_height", h), ("model.input_width", w)):
                if value < step or value % step:
                    fixed = max(step, (value + step - 1) // step * step)
                    p.append(
                        f"{key}={value} does not work with backbone {self.backbone}, which needs a multiple of "
                        f"{step}; set {key} to {fixed} (e.g. 32x128 or 64x200 instead of 32x100)"
                    )
        else:
            fh, fw = self.feature_size
            if fh < 1:
                need = _smallest(self.backbone, "h")
                p.append(
                    f"model.input_height={h} is too small for backbone {self.backbone}, which down-samples the "
                    f"height to nothing; set model.input_height to at least {need} (32 is the default)"
                )
            if fw < 1:
                need = _smallest(self.backbone, "w")
                p.append(
                    f"model.input_width={w} is too small for backbone {self.backbone}; "
                    f"set model.input_width to at least {need} (100 is the default)"
                )
        if self.tps:
            # The localisation network max-pools three times by 2.
            for key, value in (("model.input_height", h), ("model.input_width", w)):
                if value < 8:
                    p.append(f"{key}={value} is too small for TPS (needs >= 8); set {key} to at least 8")
        return p

    def warnings(self) -> list[str]:
        """Legal but suspicious settings (the caller decides whether to log them)."""
        out: list[str] = []
        if self.prediction == "CTC" and 0 < self.sequence_length < self.max_label_length:
            out.append(
                f"CTC has only {self.sequence_length} time steps for labels up to {self.max_label_length} "
                "characters; increase model.input_width or lower dataset.max_label_length"
            )
        return out
