# SPDX-License-Identifier: Apache-2.0
"""Stage 3: sequence modelling. Visual sequence [B, T, C_feat] -> contextual features [B, T, hidden]."""

from __future__ import annotations

from torch import Tensor, nn

from tao_ocrnet.config.arch import ModelArch


class BidirectionalLSTM(nn.Module):
    """One batch-first BiLSTM followed by Linear(2h, out) to merge both directions."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, bidirectional=True, batch_first=True)
        self.linear = nn.Linear(hidden_size * 2, output_size)

    def forward(self, x: Tensor) -> Tensor:
        recurrent, _ = self.rnn(x)
        return self.linear(recurrent)


def build_sequence_model(arch: ModelArch) -> tuple[nn.Module, int]:
    """(module, output width). Anything but "BiLSTM" means no sequence model, as in the reference."""
    if not arch.use_sequence_model:
        return nn.Identity(), arch.feature_channel
    h = arch.hidden_size
    return nn.Sequential(BidirectionalLSTM(arch.feature_channel, h, h), BidirectionalLSTM(h, h, h)), h
