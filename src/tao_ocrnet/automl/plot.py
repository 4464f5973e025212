# SPDX-License-Identifier: Apache-2.0
"""`plot.png` next to the summary, drawn with Pillow (no plotting library needed).

Left: val_acc per trial over epochs (one line per trial; the baseline black, the best thick, pruned trials
dashed). Right: the best val_acc so far against the trial number, with every finished trial as a dot.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from PIL import Image, ImageDraw, ImageFont

W, H = 1200, 520
PANEL_W = 560
MARGIN = (64, 40, 24, 56)  # left, top, right, bottom (inside a panel)
PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]  # fmt: skip


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


class _Panel:
    def __init__(self, draw: ImageDraw.ImageDraw, x0: int, title: str, xlim: tuple[float, float], ylim) -> None:
        self.d, self.x0 = draw, x0
        self.left, self.top = x0 + MARGIN[0], MARGIN[1]
        self.right, self.bottom = x0 + PANEL_W - MARGIN[2], H - MARGIN[3]
        self.xlim, self.ylim = xlim, ylim
        font = _font(16)
        draw.text((x0 + PANEL_W // 2, 12), title, fill="black", font=font, anchor="mt")

    def xy(self, x: float, y: float) -> tuple[float, float]:
        (x0, x1), (y0, y1) = self.xlim, self.ylim
        px = self.left + (x - x0) / ((x1 - x0) or 1) * (self.right - self.left)
        py = self.bottom - (y - y0) / ((y1 - y0) or 1) * (self.bottom - self.top)
        return px, py

    def axes(self, xlabel: str, ylabel: str) -> None:
        font = _font(12)
        span = self.ylim[1] - self.ylim[0]
        digits = 2 if span >= 0.2 else 3 if span >= 0.02 else 4
        for y in _ticks(*self.ylim):
            _, py = self.xy(self.xlim[0], y)
            self.d.line([self.left, py, self.right, py], fill=(230, 230, 230))
            self.d.text((self.left - 6, py), f"{y:.{digits}f}", fill="black", font=font, anchor="rm")
        for x in _int_ticks(*self.xlim):
            px, _ = self.xy(x, self.ylim[0])
            self.d.line([px, self.bottom, px, self.bottom + 4], fill=(80, 80, 80))
            self.d.text((px, self.bottom + 6), str(x), fill="black", font=font, anchor="mt")
        self.d.rectangle([self.left, self.top, self.right, self.bottom], outline=(80, 80, 80))
        self.d.text(((self.left + self.right) / 2, H - 18), xlabel, fill="black", font=font, anchor="mm")
        self.d.text((self.x0 + 6, self.top - 24), ylabel, fill="black", font=font, anchor="lt")

    def polyline(self, pts: Sequence[tuple[float, float]], color, width: int = 2, dashed: bool = False) -> None:
        px = [self.xy(x, y) for x, y in pts]
        for a, b in itertools.pairwise(px):
            if dashed:
                self._dash(a, b, color, width)
            else:
                self.d.line([a, b], fill=color, width=width)
        for p in px:
            r = width + 1
            self.d.ellipse([p[0] - r, p[1] - r, p[0] + r, p[1] + r], fill=color)

    def _dash(self, a, b, color, width: int, on: float = 6.0) -> None:
        dx, dy = b[0] - a[0], b[1] - a[1]
        length = (dx * dx + dy * dy) ** 0.5 or 1.0
        steps = int(length // on)
        for i in range(0, steps + 1, 2):
            t0, t1 = i * on / length, min(1.0, (i + 1) * on / length)
            self.d.line([a[0] + dx * t0, a[1] + dy * t0, a[0] + dx * t1, a[1] + dy * t1], fill=color, width=width)


def _int_ticks(lo: float, hi: float, most: int = 8) -> list[int]:
    first, last = math.ceil(lo), math.floor(hi)
    step = max(1, math.ceil((last - first + 1) / most))
    return list(range(first, last + 1, step))


def _ylim(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 1.0
    lo, hi = min(values), max(values)
    pad = max(0.05, (hi - lo) * 0.08)
    return max(0.0, lo - pad), min(1.0, hi + pad) if hi <= 1.0 else hi + pad


def render_png(summary: Mapping[str, Any]) -> bytes:
    rows = [r for r in summary["history"] if r["curve"]]
    best_id = summary["best"]["rec_id"] if summary.get("best") else None
    img = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(img)
    values = [v for r in rows for _, v in r["curve"]]
    ylim = _ylim(values)
    max_step = max((s for r in rows for s, _ in r["curve"]), default=1)
    left = _Panel(draw, 20, "val_acc per trial", (0.5, max_step + 0.5), ylim)
    left.axes("epochs trained", "val_acc")
    for i, r in enumerate(rows):
        color = (0, 0, 0) if r["baseline"] else PALETTE[i % len(PALETTE)]
        width = 4 if r["rec_id"] == best_id else 2
        left.polyline([(s, v) for s, v in r["curve"]], color, width, dashed=r["status"] == "pruned")
    finished = [r for r in summary["history"] if r["status"] in ("success", "pruned") and r["metric"] is not None]
    finished.sort(key=lambda r: r["rec_id"])
    n = max((r["rec_id"] for r in finished), default=1)
    right = _Panel(draw, 20 + PANEL_W + 40, "best val_acc so far", (-0.5, n + 0.5), ylim)
    right.axes("trial", "val_acc")
    best_curve, best = [], None
    for r in finished:
        if r["status"] == "success":
            best = r["metric"] if best is None else max(best, r["metric"])
        if best is not None:
            best_curve.append((r["rec_id"], best))
        color = (0, 0, 0) if r["baseline"] else (150, 150, 150)
        px, py = right.xy(r["rec_id"], r["metric"])
        draw.ellipse([px - 3, py - 3, px + 3, py + 3], outline=color)
    if best_curve:
        steps = []
        for (x, y), nxt in zip(best_curve, [*best_curve[1:], None], strict=True):
            steps.append((x, y))
            if nxt is not None:
                steps.append((nxt[0], y))
        right.polyline(steps, (214, 39, 40), width=2)
    legend = "black: baseline · thick: best · dashed: pruned"
    draw.text((W - 20, H - 8), legend, fill=(90, 90, 90), font=_font(11), anchor="rb")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
