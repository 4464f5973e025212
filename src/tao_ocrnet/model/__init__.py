# SPDX-License-Identifier: Apache-2.0
"""The OCRNet network in four stages (TPS -> backbone -> BiLSTM -> CTC/Attn), label codecs, losses, metrics,
checkpoints, EMA and the LightningModule. The architecture it is built from is `tao_ocrnet.config.arch`."""
