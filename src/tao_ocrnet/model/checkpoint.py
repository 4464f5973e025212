# SPDX-License-Identifier: Apache-2.0
"""Model files: `{"format": "tao-ocrnet/1", "arch": ModelArch.to_dict(), "state_dict": ...}`.

Our files (and our Lightning training checkpoints, which carry the same "format"/"arch" keys next
to Lightning's `state_dict` with its `model.` prefix) hold only tensors and plain types, so they
load with `torch.load(weights_only=True)`. Pickled files (the reference's whole-model
`best_accuracy.pth`, Lightning dicts with `whole_model`) can run code when loaded: they load only
with `allow_pickle=True` (CLI `--allow-pickle`), for trusted files, through a class-path shim
that stands in for classes we cannot import (e.g. the reference's model classes).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import re
import types
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from tao_ocrnet.atomic import staged
from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.config.shipped import SHIPPED_MODELS, names_shipped_model, shipped_model_file
from tao_ocrnet.errors import ModelFileError, SpecError
from tao_ocrnet.model.ocrnet import OCRNet, build_model
from tao_ocrnet.model.quantized import import_torchao, rebuild_quantized

log = logging.getLogger(__name__)

FORMAT = "tao-ocrnet/1"
MODEL_PREFIX = "model."
# The reference's LightningModule attribute is `model_ema`; `ema.module.` is accepted too.
EMA_PREFIXES = ("model_ema.module.", "ema.module.")
_PICKLE_HINT = (
    "it is a pickled file (it stores Python objects, not only tensors), and unpickling can run arbitrary "
    "code. If you trust the file, load it with allow_pickle=True (CLI flag --allow-pickle); never do so for "
    "files from unknown sources"
)


# ---------------------------------------------------------------------------- saving
def checkpoint_metadata(arch: ModelArch) -> dict[str, Any]:
    """Keys to add to a Lightning checkpoint (`on_save_checkpoint`) so `load_model_file` can rebuild it."""
    return {"format": FORMAT, "arch": arch.to_dict()}


def save_model_file(path: str | os.PathLike[str], model: nn.Module, arch: ModelArch, **extra: Any) -> Path:
    """Write `model` (state_dict on CPU) + `arch` atomically (temp file + rename). Returns the path.

    `extra` values must be plain types / tensors so the file stays weights-only loadable.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        **checkpoint_metadata(arch),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **extra,
    }
    with staged(path) as tmp, tmp.open("wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    return path


# ---------------------------------------------------------------------------- reading
def _looks_pickled(path: Path) -> bool:
    """True for a torch zip archive (has data.pkl) or a raw pickle stream (protocol 2-5 header)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                return any(n.endswith("data.pkl") for n in archive.namelist())
        with path.open("rb") as handle:
            head = handle.read(2)
    except OSError:
        return False
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


class _StubModule(nn.Module):
    """Stands in for a class the shim cannot import; keeps its parameters, buffers and children."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise ModelFileError(f"{type(self).__name__} is a stand-in for a class that could not be imported")


class _ShimUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            log.info("pickle shim: %s.%s is not importable; using a stand-in module", module, name)
            return type(name, (_StubModule,), {"__module__": f"tao_ocrnet_shim.{module}"})


def _shim_load(file: Any, **kwargs: Any) -> Any:
    return _ShimUnpickler(file, **kwargs).load()


# `torch.load(pickle_module=...)` needs a module-like object with `Unpickler` and `load`.
_SHIM_PICKLE = types.SimpleNamespace(Unpickler=_ShimUnpickler, load=_shim_load, __name__="tao_ocrnet_pickle_shim")


def read_model_file(path: str | os.PathLike[str], allow_pickle: bool = False, map_location: Any = "cpu") -> Any:
    """`torch.load` with weights_only=True; pickled files only with `allow_pickle` (trusted files)."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist")
    if not path.is_file():
        raise ModelFileError(f"model file {path} is not a file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for bad files; classify below
        weights_only_error = exc
    if "GLOBAL torchao." in str(weights_only_error):
        # A torchao-quantized file: importing torchao registers its tensor types as weights-only safe.
        import_torchao()
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except Exception as exc:
            weights_only_error = exc
    if not _looks_pickled(path):
        # torch's own text here is about weights_only, which would mislead: the file is no checkpoint at all.
        raise ModelFileError(
            f"{path} is not a model file: neither a PyTorch checkpoint nor a pickle; give a .pth written by "
            "a training run (or torch.save)"
        )
    if not isinstance(weights_only_error, pickle.UnpicklingError):
        raise ModelFileError(f"{path} is damaged or truncated: {_first_line(weights_only_error)}")
    if not allow_pickle:
        found = re.search(r"GLOBAL ([\w.]+)", str(weights_only_error))
        what = f" (first unsupported object: {found.group(1)})" if found else ""
        raise ModelFileError(f"{path} cannot be loaded safely{what}: {_PICKLE_HINT}")
    log.warning("loading pickled model file %s with allow_pickle=True: only do this for trusted files", path)
    try:
        return torch.load(path, map_location=map_location, weights_only=False, pickle_module=_SHIM_PICKLE)
    except Exception as exc:
        raise ModelFileError(f"{path} is not a loadable PyTorch checkpoint: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _strip_module_prefix(key: str) -> str:
    while key.startswith("module."):  # DataParallel / DDP wrappers, possibly nested
        key = key[len("module.") :]
    return key


def normalize_state_dict(state_dict: Mapping[str, Any], use_ema: bool = False) -> dict[str, Tensor]:
    """Plain OCRNet keys from any of: our state_dict, a Lightning one (`model.` / `model_ema.module.`), or
    a DataParallel one (`module.`). EMA weights are ignored unless `use_ema`.
    """
    tensors = {k: v for k, v in state_dict.items() if isinstance(v, Tensor)}
    if use_ema:
        picked = {}
        for prefix in EMA_PREFIXES:
            picked = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            if picked:
                break
        else:
            raise ModelFileError("the checkpoint has no EMA weights (model_ema.module.*)")
    elif any(k.startswith(MODEL_PREFIX) for k in tensors):
        picked = {k[len(MODEL_PREFIX) :]: v for k, v in tensors.items() if k.startswith(MODEL_PREFIX)}
    else:
        picked = {k: v for k, v in tensors.items() if not k.startswith(("model_ema.", "ema."))}
    return {_strip_module_prefix(k): v for k, v in picked.items()}


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(isinstance(v, Tensor) for v in obj.values())


def extract_state_dict(raw: Any, use_ema: bool = False) -> tuple[dict[str, Tensor], dict[str, Any] | None]:
    """(plain state_dict, stored arch dict or None) from whatever `read_model_file` returned."""
    if isinstance(raw, nn.Module):
        arch = raw.arch.to_dict() if isinstance(raw, OCRNet) else None
        return normalize_state_dict(raw.state_dict()), arch
    if not isinstance(raw, Mapping):
        raise ModelFileError(f"expected a model or a dict of weights, found a {type(raw).__name__}")
    arch = raw.get("arch") if isinstance(raw.get("arch"), Mapping) else None
    if "state_dict" in raw and isinstance(raw["state_dict"], Mapping):
        return normalize_state_dict(raw["state_dict"], use_ema), arch
    if isinstance(raw.get("whole_model"), nn.Module):  # reference Lightning checkpoint (pickled)
        state_dict, module_arch = extract_state_dict(raw["whole_model"])
        return state_dict, arch or module_arch
    if "modelopt_state" in raw:
        raise ModelFileError("ModelOpt checkpoints (modelopt_state) are not supported")
    if _is_state_dict(raw):
        return normalize_state_dict(raw, use_ema), arch
    raise ModelFileError("the file holds a dict without model weights (no state_dict, whole_model or tensors)")


def load_state_dict_file(
    path: str | os.PathLike[str], allow_pickle: bool = False, map_location: Any = "cpu", use_ema: bool = False
) -> tuple[dict[str, Tensor], dict[str, Any] | None, Any]:
    """(state_dict, stored arch dict or None, raw object) for any supported file (e.g. pretrained weights)."""
    raw = read_model_file(path, allow_pickle=allow_pickle, map_location=map_location)
    try:
        state_dict, arch = extract_state_dict(raw, use_ema=use_ema)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
    return state_dict, arch, raw


# ---------------------------------------------------------------------------- training checkpoints
LIGHTNING_KEY = "pytorch-lightning_version"


def check_training_checkpoint(
    path: str | os.PathLike[str], module: nn.Module, arch: ModelArch, key: str, allow_pickle: bool = False
) -> None:
    """ModelFileError naming `key` unless `path` is a training checkpoint that `module` can resume from.

    Lightning itself would fail on such a file with a traceback (`KeyError: 'pytorch-lightning_version'` for
    a plain model file, a size mismatch for another architecture); this reads it once up front instead.
    """
    try:
        raw = read_model_file(path, allow_pickle=allow_pickle)
    except ModelFileError as exc:
        raise ModelFileError(f"{key}: {exc}") from None
    if not isinstance(raw, Mapping) or LIGHTNING_KEY not in raw or not isinstance(raw.get("state_dict"), Mapping):
        raise ModelFileError(
            f"{key}: {path} is not a training checkpoint (it has no training state); resume from a "
            "model_epoch_*.pth or ocr_model_latest.pth that train wrote, or start from its weights with "
            "train.pretrained_model_path"
        )
    stored = raw.get("arch")
    if isinstance(stored, Mapping):
        try:
            theirs = ModelArch.from_dict(stored)
        except (SpecError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{key}: {path} has an invalid stored architecture: {exc}") from None
        differ = [f.name for f in dataclasses.fields(arch) if getattr(theirs, f.name) != getattr(arch, f.name)]
        if differ == ["charset"]:
            raise ModelFileError(
                f"{key}: {path} was trained with another character list; set dataset.character_list_file to that "
                "list, or start a new run from its weights with train.pretrained_model_path"
            )
        if differ:
            detail = ", ".join(
                f"{name}: {getattr(theirs, name)!r} in the file, {getattr(arch, name)!r} in the spec"
                for name in differ
                if name != "charset"
            )
            raise ModelFileError(
                f"{key}: {path} was trained with other model settings ({detail}); resume with the settings it was "
                "trained with, or start a new run from its weights with train.pretrained_model_path"
            )
    target = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in raw["state_dict"].items() if isinstance(v, Tensor)}
    missing = sorted(target.keys() - found.keys())
    unexpected = sorted(found.keys() - target.keys())
    resized = sorted(k for k in target.keys() & found.keys() if target[k] != found[k])
    if missing or unexpected or resized:
        parts = [
            f"{len(names)} {what} (first: {names[0]})"
            for names, what in ((missing, "missing"), (unexpected, "unexpected"), (resized, "of another shape"))
            if names
        ]
        raise ModelFileError(
            f"{key}: {path} does not fit this model: tensors {', '.join(parts)} (EMA on one side only, or another "
            "architecture); resume with the settings it was trained with"
        )


# ---------------------------------------------------------------------------- architecture checks
def _infer_from_weights(base: ModelArch, state_dict: Mapping[str, Tensor]) -> ModelArch:
    """Correct `base` (from the caller's spec) with what the weights prove: TPS, fiducials, head, channels."""
    changes: dict[str, Any] = {}
    tps = any(k.startswith("Transformation.") for k in state_dict)
    changes["tps"] = tps
    fc2 = state_dict.get("Transformation.LocalizationNetwork.localization_fc2.bias")
    if fc2 is not None:
        changes["num_fiducial"] = int(fc2.numel() // 2)
    if "Prediction.generator.weight" in state_dict:
        changes["prediction"] = "Attn"
    elif "Prediction.weight" in state_dict:
        changes["prediction"] = "CTC"
    if not any(k.startswith("SequenceModeling.") for k in state_dict):
        changes["sequence"] = "None"
    first = state_dict.get("FeatureExtraction.ConvNet.conv0_1.weight")
    if first is not None:
        changes["input_channel"] = int(first.shape[1])
    changed = {k: v for k, v in changes.items() if getattr(base, k) != v}
    if changed:
        log.warning("the weights override the spec's model settings: %s", changed)
    try:
        return dataclasses.replace(base, **changed)
    except SpecError as exc:
        raise ModelFileError(f"the weights do not fit a valid architecture: {exc}") from exc


def _head_classes(state_dict: Mapping[str, Tensor]) -> int | None:
    for key in ("Prediction.generator.weight", "Prediction.weight"):
        if key in state_dict:
            return int(state_dict[key].shape[0])
    return None


def check_charset(arch: ModelArch, expected_charset: Iterable[str], path: str | os.PathLike[str]) -> None:
    """ModelFileError when the model's characters differ from the spec's character list."""
    expected = tuple(expected_charset)
    if expected == arch.charset:
        return
    detail = f"{len(arch.charset)} characters in the model, {len(expected)} in the list"
    if len(expected) == len(arch.charset):
        diff = [i for i, (a, b) in enumerate(zip(arch.charset, expected, strict=True)) if a != b]
        detail = f"they differ from position {diff[0]} ({arch.charset[diff[0]]!r} vs {expected[diff[0]]!r})"
    raise ModelFileError(
        f"{path} was trained with a different character list than dataset.character_list_file ({detail}); "
        "set dataset.character_list_file to the list used for training"
    )


def load_model_file(
    path: str | os.PathLike[str],
    allow_pickle: bool = False,
    map_location: Any = "cpu",
    *,
    arch: ModelArch | None = None,
    expected_charset: Iterable[str] | None = None,
    use_ema: bool = False,
    key: str | None = None,
    allow_quantized: bool = True,
) -> tuple[OCRNet, ModelArch, dict[str, Any]]:
    """Load any supported model file into a new OCRNet (eval mode, on CPU).

    * Our files and Lightning checkpoints use their stored `arch` (EMA weights only with `use_ema`).
    * Files without an arch (pickled reference models, plain state_dicts) need `arch` from the caller
      (built from the spec); what the weights prove (TPS, head type, input channels) overrides it.
    * Pruned widths come from the state_dict shapes.
    * `expected_charset` (the spec's character list) must match the stored one.
    * `key` (e.g. "evaluate.checkpoint") prefixes every error, so the user knows which setting to fix.
    * Quantized files (`quantization` entry, from `ocrnet quantize`) are rebuilt quantized; with
      `allow_quantized=False` (training, pruning) they are refused.
    Returns (model, arch, raw), raw being the loaded dict ({"whole_model": module} for a bare module).
    """
    try:
        return _load_model_file(path, allow_pickle, map_location, arch, expected_charset, use_ema, allow_quantized)
    except ModelFileError as exc:
        if key is None:
            raise
        raise ModelFileError(f"{key}: {exc}") from exc


def _load_model_file(
    path: str | os.PathLike[str],
    allow_pickle: bool,
    map_location: Any,
    arch: ModelArch | None,
    expected_charset: Iterable[str] | None,
    use_ema: bool,
    allow_quantized: bool = True,
) -> tuple[OCRNet, ModelArch, dict[str, Any]]:
    state_dict, stored_arch, raw = load_state_dict_file(path, allow_pickle, map_location, use_ema)
    quantized = isinstance(raw, Mapping) and isinstance(raw.get("quantization"), Mapping)
    if quantized and not allow_quantized:
        raise ModelFileError(
            f"{path} is a quantized model ({raw['quantization'].get('backend')}); train and prune need the float "
            "model it was quantized from"
        )
    if stored_arch is not None:
        try:
            model_arch = ModelArch.from_dict(stored_arch)
        except (SpecError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path} has an invalid stored architecture: {exc}") from exc
    elif arch is not None:
        model_arch = _infer_from_weights(arch, state_dict)
    else:
        raise ModelFileError(
            f"{path} does not record its architecture; pass the spec's model settings (arch=...) to load it"
        )
    if expected_charset is not None:
        check_charset(model_arch, expected_charset, path)
    classes = _head_classes(state_dict)
    if classes is not None and classes != model_arch.num_class:
        raise ModelFileError(
            f"{path} predicts {classes} classes but the character list gives {model_arch.num_class} "
            f"({len(model_arch.charset)} characters + {model_arch.num_class - len(model_arch.charset)} special); "
            "set dataset.character_list_file to the list used for training"
        )
    try:
        model = rebuild_quantized(model_arch, state_dict, raw) if quantized else build_model(model_arch, state_dict)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise ModelFileError(
            f"{path}: the weights do not fit the architecture ({model_arch.backbone}, "
            f"{model_arch.prediction}, TPS={model_arch.tps}): {_first_line(exc)}"
        ) from exc
    raw_dict = raw if isinstance(raw, dict) else {"whole_model": raw}
    return model.eval(), model_arch, raw_dict


def resolve_model_path(value: str | os.PathLike[str], key: str) -> Path:
    """The model file named by spec setting `key` (a path or a shipped model's short name), or
    ModelFileError naming the setting."""
    if not str(value).strip():
        raise ModelFileError(f"{key} is empty; set it to a model file or a shipped model ({', '.join(SHIPPED_MODELS)})")
    path = Path(value).expanduser()
    if names_shipped_model(value):
        path = shipped_model_file(str(value))
        if not path.is_file():
            raise ModelFileError(f"{key}: shipped model {value} is missing from this installation ({path}); reinstall")
        log.info("%s: using the shipped model %s (%s)", key, value, path)
        return path
    if not path.exists():
        raise ModelFileError(f"{key}: model file {path} does not exist")
    if not path.is_file():
        raise ModelFileError(f"{key}: {path} is not a file")
    return path


CTC_HEAD_KEYS = ("Prediction.weight", "Prediction.bias")


def remap_ctc_head(
    tensors: dict[str, Tensor], target: Mapping[str, Tensor], source_charset: Iterable[str], charset: Iterable[str]
) -> list[str]:
    """Rewrite the CTC head rows of `tensors` (in place) from `source_charset` order to `charset` order.

    Fine-tuning on another character list keeps what the source model knows of each shared character
    (a copy by shape alone would give a same-size list in another order the wrong rows). Rows of new
    characters keep the target's initialisation. Returns the characters that were carried over.
    """
    index = {c: i + 1 for i, c in enumerate(source_charset)}  # row 0 is the CTC blank
    rows = [0] + [index.get(c, -1) for c in charset]
    carried = [c for c in charset if c in index]
    for key in CTC_HEAD_KEYS:
        if key not in tensors or key not in target or tensors[key].shape[1:] != target[key].shape[1:]:
            continue
        out = target[key].clone()
        for dst, src in enumerate(rows):
            if src >= 0:
                out[dst] = tensors[key][src]
        tensors[key] = out
    return carried


def _warn_other_input_size(arch: ModelArch, stored: Mapping[str, Any]) -> None:
    """Convolution and LSTM weights fit any input width, so a model trained on wider (or narrower) crops loads
    without a shape mismatch and silently reads worse: say which setting keeps what it learned."""
    keys = ("input_height", "input_width")
    if all(stored.get(k) in (None, getattr(arch, k)) for k in keys):
        return
    theirs, ours = "x".join(str(stored.get(k)) for k in keys), "x".join(str(getattr(arch, k)) for k in keys)
    log.warning(
        "train.pretrained_model_path was trained on %s crops (height x width) and this run trains on %s; set "
        "model.input_height=%s model.input_width=%s to fine-tune at the size it learned",
        theirs, ours, stored.get("input_height"), stored.get("input_width"),
    )  # fmt: skip


def load_pretrained_partial(
    model: nn.Module,
    source: Mapping[str, Any] | str | os.PathLike[str],
    allow_pickle: bool = False,
    arch: ModelArch | None = None,
) -> tuple[list[str], list[str]]:
    """Copy every tensor whose key and shape match (e.g. public CLOVA weights into a new head size).

    `source` is a state_dict (any prefix style) or a model file path (read like `load_model_file`).
    With the target `arch`, a CTC source file that stores its character list has its head rows
    matched by character (`remap_ctc_head`), so another list or order fine-tunes from the right rows.
    Returns (loaded_keys, skipped_keys); skipped are the source's keys that were unknown or mismatched.
    """
    stored = None
    if isinstance(source, Mapping):
        state_dict: Mapping[str, Any] = source
    else:
        state_dict, stored = load_state_dict_file(source, allow_pickle=allow_pickle)[:2]
    tensors = normalize_state_dict(state_dict)
    target = model.state_dict()
    if arch is not None and stored:
        _warn_other_input_size(arch, stored)
    if arch is not None and arch.prediction == "CTC" and stored and stored.get("prediction") == "CTC":
        source_charset = tuple(stored.get("charset") or ())
        if source_charset and source_charset != arch.charset:
            carried = remap_ctc_head(tensors, target, source_charset, arch.charset)
            log.info("pretrained CTC head: %d of %d characters carried over by name", len(carried), len(arch.charset))
    matched = {k: v for k, v in tensors.items() if k in target and target[k].shape == v.shape}
    model.load_state_dict(matched, strict=False)
    skipped = sorted(set(tensors) - set(matched))
    return sorted(matched), skipped
