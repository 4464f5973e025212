# SPDX-License-Identifier: Apache-2.0
"""Label codecs, the shared decoder and the losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tao_ocrnet.model.codec import AttnCodec, CTCCodec, logits_to_ids_probs, make_codec
from tao_ocrnet.model.loss import attn_loss, ctc_loss, ocr_loss

CHARS = tuple("abc1")  # CTC: a=1 b=2 c=3 1=4; Attn: a=2 b=3 c=4 1=5


def test_ctc_encode() -> None:
    codec = CTCCodec(CHARS)
    assert codec.num_class == 5 and codec.tokens[0] == "[CTCblank]"
    text, lengths = codec.encode(["ab", "", "c1a"], max_len=4)
    assert text.dtype == torch.long and lengths.dtype == torch.long
    assert text.tolist() == [[1, 2, 0, 0], [0, 0, 0, 0], [3, 4, 1, 0]]
    assert lengths.tolist() == [2, 0, 3]


def test_attn_encode() -> None:
    codec = AttnCodec(CHARS)
    assert codec.num_class == 6 and codec.tokens[:2] == ("[GO]", "[s]")
    text, lengths = codec.encode(["ab", "c"], max_len=3)
    assert text.tolist() == [[0, 2, 3, 1, 0], [0, 4, 1, 0, 0]]
    assert lengths.tolist() == [3, 2]


@pytest.mark.parametrize("codec_cls", [CTCCodec, AttnCodec])
def test_encode_rejects_bad_labels(codec_cls: type) -> None:
    codec = codec_cls(CHARS)
    with pytest.raises(ValueError, match="max_label_length=2"):
        codec.encode(["abc"], max_len=2)
    with pytest.raises(ValueError, match=r"not in the character list: \['Z'\]"):
        codec.encode(["aZ"], max_len=5)


def test_duplicate_charset_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        CTCCodec(("a", "a"))


def test_ctc_decode_collapse_and_confidence() -> None:
    codec = CTCCodec(CHARS)
    ids = np.array(
        [
            [1, 1, 0, 1, 2, 2, 0],  # a a _ a b b _ -> "aab"
            [0, 0, 0, 0, 0, 0, 0],  # all blank -> ""
            [3, 0, 3, 3, 0, 0, 4],  # c _ c c _ _ 1 -> "cc1"
        ]
    )
    probs = np.full(ids.shape, 0.5, dtype=np.float32)
    out = codec.decode(ids, probs)
    assert [t for t, _ in out] == ["aab", "", "cc1"]
    # Confidence multiplies over all T steps, blanks and repeats included (reference-compatible).
    assert all(c == pytest.approx(0.5**7) for _, c in out)


def test_attn_decode_edge_cases() -> None:
    codec = AttnCodec(CHARS)
    ids = np.array(
        [
            [2, 3, 1, 4, 4],  # "ab" then [s]
            [1, 2, 3, 4, 5],  # [s] first -> "" with confidence 0
            [2, 3, 4, 5, 2],  # no [s] -> keep every token
            [2, 0, 3, 1, 1],  # a predicted [GO] adds no character
        ]
    )
    probs = np.array([[0.9, 0.8, 0.7, 0.1, 0.1], [0.9] * 5, [0.5] * 5, [0.5, 0.5, 0.5, 0.5, 0.5]], dtype=np.float32)
    out = codec.decode(ids, probs)
    assert out[0][0] == "ab" and out[0][1] == pytest.approx(0.9 * 0.8)  # [s] step excluded
    assert out[1] == ("", 0.0)
    assert out[2][0] == "abc1a" and out[2][1] == pytest.approx(0.5**5)
    assert out[3][0] == "ab" and out[3][1] == pytest.approx(0.5**3)


def test_decode_rejects_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match="one shape"):
        CTCCodec(CHARS).decode(np.zeros((2, 3)), np.zeros((2, 4)))


@pytest.mark.parametrize("prediction", ["CTC", "Attn"])
def test_round_trip_through_logits(prediction: str) -> None:
    codec = make_codec(prediction, CHARS)
    labels = ["abc", "1", "ba1c"]
    text, _ = codec.encode(labels, max_len=6)
    # The ideal output: CTC emits the characters then blanks; Attn the characters, [s], then padding.
    steps = text if prediction == "CTC" else text[:, 1:]
    logits = torch.full((*steps.shape, codec.num_class), -5.0)
    logits.scatter_(2, steps.unsqueeze(2), 5.0)
    ids, probs = logits_to_ids_probs(logits)
    decoded = codec.decode(ids, probs)
    assert [t for t, _ in decoded] == labels
    assert all(0.0 < c <= 1.0 for _, c in decoded)


def test_logits_to_ids_probs_numpy_matches_torch() -> None:
    logits = torch.randn(3, 7, 11)
    ids_t, probs_t = logits_to_ids_probs(logits)
    ids_n, probs_n = logits_to_ids_probs(logits.numpy())
    assert ids_t.dtype == np.int64 and probs_t.dtype == np.float32
    assert np.array_equal(ids_t, ids_n)
    assert np.allclose(probs_t, probs_n, atol=1e-6)
    assert np.allclose(probs_t, torch.softmax(logits, -1).max(-1).values.numpy())


def test_ctc_loss() -> None:
    codec = CTCCodec(CHARS)
    text, lengths = codec.encode(["ab", "c"], max_len=4)
    logits = torch.randn(2, 10, codec.num_class, requires_grad=True)
    loss = ctc_loss(logits, text, lengths)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert logits.grad is not None
    # An impossible alignment (label longer than T) gives 0 instead of inf (zero_infinity).
    long_text, long_len = codec.encode(["abcabc"], max_len=6)
    assert ocr_loss("CTC", torch.randn(1, 3, codec.num_class), long_text, long_len).item() == 0.0


def test_attn_loss_ignores_padding() -> None:
    codec = AttnCodec(CHARS)
    text, lengths = codec.encode(["ab"], max_len=4)  # [GO] a b [s] 0 0
    logits = torch.full((1, 5, codec.num_class), -10.0)
    target = text[0, 1:]  # a b [s] 0 0
    for step, token in enumerate(target.tolist()[:3]):
        logits[0, step, token] = 10.0
    logits[0, 3:, 3] = 10.0  # garbage after [s] is not penalised (targets are 0 = ignored)
    assert attn_loss(logits, text).item() < 1e-6
    assert ocr_loss("Attn", logits, text, lengths).item() < 1e-6


def test_codec_from_arch_predict_and_loss() -> None:
    from tao_ocrnet.config.arch import ModelArch

    arch = ModelArch(prediction="Attn", max_label_length=4, charset=CHARS)
    codec = make_codec(arch)
    assert isinstance(codec, AttnCodec) and codec.num_class == arch.num_class
    text, lengths = codec.encode(["ab"])  # max_len defaults to the arch's max_label_length
    assert text.shape == (1, 6)
    logits = torch.full((1, 5, codec.num_class), -5.0)
    logits.scatter_(2, text[:, 1:].unsqueeze(2), 5.0)
    texts, confidences = codec.predict(logits)
    assert texts == ["ab"] and 0 < confidences[0] <= 1
    assert codec.loss(logits, text, lengths).item() == pytest.approx(attn_loss(logits, text).item())
    ctc = make_codec("CTC", CHARS)
    with pytest.raises(ValueError, match="max_len"):
        ctc.encode(["a"])
    targets, target_lengths = ctc.encode(["a"], 3)
    ctc_logits = torch.randn(1, 6, ctc.num_class)
    assert ctc.loss(ctc_logits, targets, target_lengths).item() == pytest.approx(
        ctc_loss(ctc_logits, targets, target_lengths).item()
    )
