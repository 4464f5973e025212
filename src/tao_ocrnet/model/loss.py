# SPDX-License-Identifier: Apache-2.0
"""Training losses, matching the reference (section 3.4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def ctc_loss(logits: Tensor, targets: Tensor, target_lengths: Tensor) -> Tensor:
    """CTC on logits [B, T, K] (blank 0, mean reduction, zero_infinity, every input length = T).

    `targets`/`target_lengths` come from `CTCCodec.encode`.
    """
    batch, steps, _ = logits.shape
    log_probs = logits.float().log_softmax(dim=2).permute(1, 0, 2)  # time-major [T, B, K]
    input_lengths = torch.full((batch,), steps, dtype=torch.long, device=logits.device)
    return F.ctc_loss(
        log_probs,
        targets.to(logits.device),
        input_lengths,
        target_lengths.to(logits.device),
        blank=0,
        reduction="mean",
        zero_infinity=True,
    )


def attn_loss(logits: Tensor, text: Tensor) -> Tensor:
    """Cross-entropy of logits [B, S, K] against text[:, 1:S+1] ([GO] dropped), ignoring padding (0).

    `text` comes from `AttnCodec.encode` ([B, L + 2]); S = L + 1 steps.
    """
    steps = logits.size(1)
    target = text[:, 1 : steps + 1].to(logits.device)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=0)


def ocr_loss(prediction: str, logits: Tensor, text: Tensor, lengths: Tensor) -> Tensor:
    """Dispatch on `ModelArch.prediction`: ("CTC" | "Attn", logits, codec.encode(...) outputs)."""
    if prediction == "CTC":
        return ctc_loss(logits, text, lengths)
    return attn_loss(logits, text)
