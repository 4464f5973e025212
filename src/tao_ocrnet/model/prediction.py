# SPDX-License-Identifier: Apache-2.0
"""Stage 4: prediction. Contextual features [B, T, C] -> logits [B, T_out, K].

* CTC: one Linear per time step (T_out = T, K = n_chars + 1, index 0 = blank).
* Attn: an attention decoder (T_out = max_label_length + 1, K = n_chars + 2, 0 = [GO], 1 = [s]).
  The recurrent unit is an `nn.LSTM` stepped once per token (the reference's layout, so weights and
  ONNX LSTM nodes line up). The number of steps is fixed, which keeps the greedy loop traceable:
  the ONNX export unrolls it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tao_ocrnet.config.arch import ModelArch

GO_TOKEN = 0
EOS_TOKEN = 1


class CTCHead(nn.Linear):
    """Linear(C, K). Subclassing Linear keeps CLOVA's key names (`Prediction.weight`)."""

    def forward(self, x: Tensor, text: Tensor | None = None, is_train: bool = False) -> Tensor:
        return super().forward(x)


def one_hot(index: Tensor, num_classes: int) -> Tensor:
    """Float one-hot [B, K] via a comparison with arange (exports to Equal + Cast, no OneHot op)."""
    classes = torch.arange(num_classes, device=index.device)
    return (index.unsqueeze(1) == classes).float()


class AttentionCell(nn.Module):
    """One decoding step: additive attention over H, then one LSTM step on [context, prev one-hot]."""

    def __init__(self, input_size: int, hidden_size: int, num_embeddings: int) -> None:
        super().__init__()
        self.i2h = nn.Linear(input_size, hidden_size, bias=False)
        self.h2h = nn.Linear(hidden_size, hidden_size)
        self.score = nn.Linear(hidden_size, 1, bias=False)
        self.rnn = nn.LSTM(input_size + num_embeddings, hidden_size)

    def forward(
        self, state: tuple[Tensor, Tensor], batch_h: Tensor, batch_h_proj: Tensor, char_onehots: Tensor
    ) -> tuple[Tensor, Tensor]:
        """`batch_h_proj` = i2h(batch_h), computed once per sequence by the caller (same result)."""
        prev_h = state[0][0]  # [B, hidden]
        e = self.score(torch.tanh(batch_h_proj + self.h2h(prev_h).unsqueeze(1)))  # [B, T, 1]
        alpha = F.softmax(e, dim=1)
        context = torch.bmm(alpha.transpose(1, 2), batch_h).squeeze(1)  # [B, C]
        step_in = torch.cat([context, char_onehots], dim=1).unsqueeze(0)  # [1, B, C + K]
        _, new_state = self.rnn(step_in, state)
        return new_state


class AttentionHead(nn.Module):
    """Attention decoder: teacher forcing when training, greedy decoding otherwise (fixed steps)."""

    def __init__(self, input_size: int, hidden_size: int, num_class: int, num_steps: int) -> None:
        super().__init__()
        self.num_steps = num_steps
        self.attention_cell = AttentionCell(input_size, hidden_size, num_class)
        self.generator = nn.Linear(hidden_size, num_class)

    def forward(self, batch_h: Tensor, text: Tensor | None = None, is_train: bool = False) -> Tensor:
        """`text`: encoded labels starting with [GO] ([B, >= num_steps]), only used when `is_train`."""
        if is_train and (text is None or text.size(1) < self.num_steps):
            raise ValueError(f"Attn training needs text [B, >= {self.num_steps}] starting with [GO] (AttnCodec.encode)")
        # Widths come from the (possibly pruned) layers, not from stored ints.
        hidden_size = self.attention_cell.rnn.hidden_size
        num_class = self.generator.out_features
        batch = batch_h.size(0)
        h0 = batch_h.new_zeros(1, batch, hidden_size)
        state = (h0, h0)
        batch_h_proj = self.attention_cell.i2h(batch_h)  # step-independent, compute once
        prev = batch_h.new_zeros(batch, dtype=torch.long)  # [GO]
        outputs: list[Tensor] = []
        for step in range(self.num_steps):
            if is_train and text is not None:
                prev = text[:, step]
            state = self.attention_cell(state, batch_h, batch_h_proj, one_hot(prev, num_class))
            logits = self.generator(state[0][0])  # [B, K]
            outputs.append(logits)
            if not is_train:
                prev = logits.argmax(dim=1)
        return torch.stack(outputs, dim=1)


def build_prediction(arch: ModelArch, input_size: int) -> nn.Module:
    if arch.prediction == "CTC":
        return CTCHead(input_size, arch.num_class)
    return AttentionHead(input_size, arch.hidden_size, arch.num_class, arch.max_label_length + 1)
