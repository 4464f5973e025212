# SPDX-License-Identifier: Apache-2.0
"""The ink of a synthetic word before geometry and colour: the fill, an optional outline ring and underline.

Layers are float32 masks in [0, 1] on one canvas with room around the text for the warps that follow. Text
effects are drawn here: per-character jitter of position and size, letter spacing, outline, underline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tao_ocrnet.data.synth.fonts import load_font

__all__ = ["TextLayers", "TextStyle", "draw_text_style", "text_layers"]


@dataclass(frozen=True)
class TextStyle:
    size: int  # font size in pixels
    spacing: int = 0  # extra pixels between characters (0: the font's own advances and kerning)
    jitter_y: float = 0.0  # per-character baseline shift, a fraction of the size (standard deviation)
    jitter_size: float = 0.0  # per-character size change, a fraction (standard deviation)
    outline: int = 0  # width in pixels of a ring in a second colour around each glyph (0: none)
    underline: bool = False

    @property
    def per_character(self) -> bool:
        return bool(self.spacing or self.jitter_y or self.jitter_size)


@dataclass
class TextLayers:
    fill: np.ndarray  # (h, w) float32 in [0, 1]: the glyphs (and underline)
    outline: np.ndarray | None  # the ring around them, or None

    def stack(self) -> np.ndarray:
        """(h, w, k) for warps that must move every layer the same way."""
        return np.dstack([self.fill] if self.outline is None else [self.fill, self.outline])

    @classmethod
    def from_stack(cls, stacked: np.ndarray) -> TextLayers:
        return cls(stacked[..., 0], stacked[..., 1] if stacked.shape[-1] > 1 else None)


def draw_text_style(rng: np.random.Generator) -> TextStyle:
    size = int(rng.integers(28, 57))
    spacing = int(rng.integers(1, max(2, size // 4))) if rng.random() < 0.15 else 0
    jitter = rng.random() < 0.15
    return TextStyle(
        size=size,
        spacing=spacing,
        jitter_y=float(rng.uniform(0.02, 0.07)) if jitter else 0.0,
        jitter_size=float(rng.uniform(0.03, 0.12)) if jitter else 0.0,
        outline=int(rng.integers(1, max(2, size // 12))) if rng.random() < 0.1 else 0,
        underline=rng.random() < 0.05,
    )


def text_layers(text: str, font_path: str, style: TextStyle, rng: np.random.Generator) -> TextLayers:
    font = load_font(font_path, style.size)
    ascent, descent = font.getmetrics()
    pad = style.size // 2 + 4 + style.outline
    if style.per_character:
        sizes = [max(8, round(style.size * (1 + rng.normal(0, style.jitter_size)))) for _ in text]
        shifts = [round(rng.normal(0, style.jitter_y) * style.size) for _ in text]
        fonts = [load_font(font_path, s) for s in sizes]
        advances = [f.getlength(ch) + style.spacing for f, ch in zip(fonts, text, strict=True)]
        width = int(sum(advances)) + 2 * pad
    else:
        left, _, right, _ = font.getbbox(text, stroke_width=style.outline)
        width = int(right - left) + 2 * pad
    height = ascent + descent + 2 * pad
    fill = Image.new("L", (max(width, 1), height), 0)
    ring = Image.new("L", fill.size, 0) if style.outline else None
    draws = [ImageDraw.Draw(fill)] + ([ImageDraw.Draw(ring)] if ring is not None else [])

    def put(xy: tuple[float, float], chars: str, f: ImageFont.FreeTypeFont) -> None:
        draws[0].text(xy, chars, font=f, fill=255)
        if ring is not None:
            draws[1].text(xy, chars, font=f, fill=255, stroke_width=style.outline, stroke_fill=255)

    if style.per_character:
        x = float(pad)
        for ch, f, adv, dy in zip(text, fonts, advances, shifts, strict=True):
            # Characters of another size keep the common baseline (then jitter off it).
            put((x, pad + dy + ascent - f.getmetrics()[0]), ch, f)
            x += adv
        right_edge = x
    else:
        left = font.getbbox(text, stroke_width=style.outline)[0]
        put((pad - left, pad), text, font)
        right_edge = pad - left + font.getlength(text)
    if style.underline:
        y = pad + ascent + max(1, descent // 3)
        draws[0].line((pad, y, right_edge, y), fill=255, width=max(1, style.size // 14))
    fill_arr = np.asarray(fill, dtype=np.float32) / 255
    if ring is None:
        return TextLayers(fill_arr, None)
    # The ring is what the stroke adds around the glyph: the fill covers the rest.
    return TextLayers(fill_arr, np.clip(np.asarray(ring, dtype=np.float32) / 255 - fill_arr, 0, 1))
