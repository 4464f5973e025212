# SPDX-License-Identifier: Apache-2.0
"""The OCRNet network (TPS -> backbone -> BiLSTM -> CTC/Attn), label codecs, losses, checkpoints, EMA.

Names are resolved lazily so that `tao_ocrnet.model.arch` stays importable without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ModelArch": "arch",
    "feature_map_size": "arch",
    "OCRNet": "ocrnet",
    "ExportWrapper": "ocrnet",
    "build_model": "ocrnet",
    "initialize_weights": "ocrnet",
    "resize_to_state_dict": "ocrnet",
    "count_parameters": "ocrnet",
    "stage_parameter_counts": "ocrnet",
    "CTCCodec": "codec",
    "AttnCodec": "codec",
    "make_codec": "codec",
    "logits_to_ids_probs": "codec",
    "ctc_loss": "loss",
    "attn_loss": "loss",
    "ocr_loss": "loss",
    "FORMAT": "checkpoint",
    "checkpoint_metadata": "checkpoint",
    "save_model_file": "checkpoint",
    "load_model_file": "checkpoint",
    "load_state_dict_file": "checkpoint",
    "load_pretrained_partial": "checkpoint",
    "normalize_state_dict": "checkpoint",
    "ModelEMA": "ema",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
