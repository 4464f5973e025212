# SPDX-License-Identifier: Apache-2.0
"""Label codecs and the one decoder shared by the PyTorch, ONNX Runtime and TensorRT paths.

Every backend reduces its output to two numpy arrays [B, T]: the argmax class ids and their
softmax probabilities (the ONNX graph emits exactly these as `output_id` / `output_prob`;
PyTorch logits go through `logits_to_ids_probs`). `decode` turns them into (text, confidence).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor

from tao_ocrnet.config.arch import ModelArch
from tao_ocrnet.model.loss import attn_loss, ctc_loss

CTC_BLANK = "[CTCblank]"
ATTN_GO = "[GO]"
ATTN_EOS = "[s]"


def logits_to_ids_probs(logits: Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Softmax over classes then max: (ids int64 [B, T], probs float32 [B, T]) as numpy arrays."""
    if isinstance(logits, Tensor):
        probs_t = torch.softmax(logits.detach().float(), dim=-1)
        prob, index = probs_t.max(dim=-1)
        return index.cpu().numpy().astype(np.int64), prob.cpu().numpy().astype(np.float32)
    arr = np.asarray(logits, dtype=np.float64)
    exp = np.exp(arr - arr.max(axis=-1, keepdims=True))  # stable softmax
    probs = exp / exp.sum(axis=-1, keepdims=True)
    index = probs.argmax(axis=-1)
    return index.astype(np.int64), np.take_along_axis(probs, index[..., None], -1)[..., 0].astype(np.float32)


def _to(tensor: Tensor, device: torch.device | str | None) -> Tensor:
    return tensor if device is None else tensor.to(device)


class _Codec:
    """Shared character <-> index bookkeeping; subclasses define the special tokens."""

    specials: tuple[str, ...] = ()

    def __init__(self, charset: Iterable[str], max_label_length: int | None = None) -> None:
        self.charset: tuple[str, ...] = tuple(charset)
        self.max_label_length = max_label_length  # default for encode()
        if len(set(self.charset)) != len(self.charset):
            raise ValueError("the character list has duplicate characters")
        self.tokens: tuple[str, ...] = self.specials + self.charset
        offset = len(self.specials)
        self._index = {ch: i + offset for i, ch in enumerate(self.charset)}

    @property
    def num_class(self) -> int:
        """K: the classifier width."""
        return len(self.tokens)

    def _max_len(self, max_len: int | None) -> int:
        if max_len is not None:
            return max_len
        if self.max_label_length is None:
            raise ValueError("encode needs max_len (or build the codec with max_label_length)")
        return self.max_label_length

    def decode(self, ids: np.ndarray, probs: np.ndarray) -> list[tuple[str, float]]:
        raise NotImplementedError

    def predict(self, logits: Tensor | np.ndarray) -> tuple[list[str], list[float]]:
        """Logits [B, T, K] -> (texts, confidences): `logits_to_ids_probs` then `decode`."""
        decoded = self.decode(*logits_to_ids_probs(logits))
        return [text for text, _ in decoded], [conf for _, conf in decoded]

    def _label_ids(self, label: str, max_len: int) -> list[int]:
        if len(label) > max_len:
            raise ValueError(
                f"label {label!r} has {len(label)} characters, more than max_label_length={max_len} "
                "(the data layer should have filtered it)"
            )
        unknown = sorted({ch for ch in label if ch not in self._index})
        if unknown:
            raise ValueError(
                f"label {label!r} has characters not in the character list: {unknown!r} "
                "(the data layer should have filtered it)"
            )
        return [self._index[ch] for ch in label]

    @staticmethod
    def _check_arrays(ids: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids)
        probs = np.asarray(probs, dtype=np.float64)
        if ids.ndim != 2 or ids.shape != probs.shape:
            raise ValueError(f"decode expects ids and probs of one shape [B, T]; got {ids.shape} and {probs.shape}")
        return ids.astype(np.int64), probs


class CTCCodec(_Codec):
    """0 = [CTCblank]; character i -> i + 1; K = n + 1."""

    specials = (CTC_BLANK,)
    blank = 0

    def encode(
        self, labels: Sequence[str], max_len: int | None = None, device: torch.device | str | None = None
    ) -> tuple[Tensor, Tensor]:
        """(targets [B, max_len] zero-padded, lengths [B]); both int64.

        Raises ValueError for labels longer than `max_len` or with characters outside the charset.
        """
        max_len = self._max_len(max_len)
        targets = torch.zeros(len(labels), max_len, dtype=torch.long)
        lengths = torch.zeros(len(labels), dtype=torch.long)
        for row, label in enumerate(labels):
            ids = self._label_ids(label, max_len)
            targets[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            lengths[row] = len(ids)
        return _to(targets, device), _to(lengths, device)

    def loss(self, logits: Tensor, targets: Tensor, lengths: Tensor) -> Tensor:
        """`loss.ctc_loss` on the outputs of `encode`."""
        return ctc_loss(logits, targets, lengths)

    def decode(self, ids: np.ndarray, probs: np.ndarray) -> list[tuple[str, float]]:
        """Greedy CTC: drop blanks and any index equal to the previous *raw* index.

        Confidence is the product of the max probabilities over ALL T steps, blanks and repeats
        included. This is the reference's definition (users threshold on it), so it shrinks with
        T, not only with the number of characters.
        """
        ids, probs = self._check_arrays(ids, probs)
        results: list[tuple[str, float]] = []
        for row_ids, row_probs in zip(ids, probs, strict=True):
            chars: list[str] = []
            prev = -1
            for idx in row_ids.tolist():
                if idx != self.blank and idx != prev and 0 < idx < len(self.tokens):
                    chars.append(self.tokens[idx])
                prev = idx
            results.append(("".join(chars), float(np.prod(row_probs))))
        return results


class AttnCodec(_Codec):
    """0 = [GO], 1 = [s] (end of sequence), characters from 2; K = n + 2."""

    specials = (ATTN_GO, ATTN_EOS)
    go = 0
    eos = 1

    def encode(
        self, labels: Sequence[str], max_len: int | None = None, device: torch.device | str | None = None
    ) -> tuple[Tensor, Tensor]:
        """(text [B, max_len + 2] = [GO], chars, [s], 0-padding; lengths [B] = len + 1); int64.

        Feed `text` to the model (teacher forcing reads text[:, :max_len + 1]) and to `attn_loss`
        (targets are text[:, 1:]). Raises ValueError like `CTCCodec.encode`.
        """
        max_len = self._max_len(max_len)
        text = torch.zeros(len(labels), max_len + 2, dtype=torch.long)
        lengths = torch.zeros(len(labels), dtype=torch.long)
        for row, label in enumerate(labels):
            ids = [*self._label_ids(label, max_len), self.eos]
            text[row, 1 : 1 + len(ids)] = torch.tensor(ids, dtype=torch.long)
            lengths[row] = len(ids)
        return _to(text, device), _to(lengths, device)

    def loss(self, logits: Tensor, text: Tensor, lengths: Tensor | None = None) -> Tensor:
        """`loss.attn_loss` on the outputs of `encode` (lengths are not needed)."""
        return attn_loss(logits, text)

    def decode(self, ids: np.ndarray, probs: np.ndarray) -> list[tuple[str, float]]:
        """Cut at the first [s] by token index.

        * No [s]: every token is kept and the confidence is the product over all T steps.
        * [s] first: ("", 0.0).
        * Otherwise the text before [s], confidence = product of the probabilities before [s].
        A predicted [GO] (never a training target) contributes no character.
        """
        ids, probs = self._check_arrays(ids, probs)
        results: list[tuple[str, float]] = []
        for row_ids, row_probs in zip(ids, probs, strict=True):
            eos_at = np.flatnonzero(row_ids == self.eos)
            end = int(eos_at[0]) if eos_at.size else len(row_ids)
            if end == 0:
                results.append(("", 0.0))
                continue
            text = "".join(self.tokens[i] for i in row_ids[:end].tolist() if 2 <= i < len(self.tokens))
            results.append((text, float(np.prod(row_probs[:end]))))
        return results


def make_codec(
    prediction: str | ModelArch, charset: Iterable[str] | None = None, max_label_length: int | None = None
) -> CTCCodec | AttnCodec:
    """The codec for a `ModelArch` (`make_codec(arch)`), or for ("CTC" | "Attn", charset)."""
    if isinstance(prediction, ModelArch):
        arch = prediction
        prediction, charset, max_label_length = arch.prediction, arch.charset, arch.max_label_length
    if charset is None:
        raise ValueError("make_codec needs a charset (or a ModelArch)")
    if prediction == "CTC":
        return CTCCodec(charset, max_label_length)
    if prediction == "Attn":
        return AttnCodec(charset, max_label_length)
    raise ValueError(f"unknown prediction {prediction!r}; use CTC or Attn")
