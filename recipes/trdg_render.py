# SPDX-License-Identifier: Apache-2.0
"""The half of recipes/external_sets.py that runs inside trdg's own virtual environment (never the project's).

    PYTHON trdg_render.py info OUT.json          trdg's version, fonts (Pillow's family names, missing glyphs),
                                                 background images and English dictionary
    PYTHON trdg_render.py render PLAN.json OUT.json
                                                 render each planned crop with trdg.generators.GeneratorFromStrings;
                                                 refuse crops whose text is fainter than the plan's min_contrast

Every random choice is made by the recipe; a crop's own `seed` seeds the random streams trdg draws from inside
(Python's `random`: skew angle, blur radius, colour within its range, background crop, distortion; OpenCV's:
the gaussian-noise background), so a plan renders to the same pixels every time. trdg prints to stdout, so the
answers go to OUT.json. Standard library, trdg and its dependencies only.
"""

from __future__ import annotations

import importlib.metadata
import json
import random
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import PIL
import trdg
from PIL import Image, ImageFont
from trdg.generators import GeneratorFromStrings

CHARSET = "0123456789abcdefghijklmnopqrstuvwxyz"
#: Plan keys passed to GeneratorFromStrings unchanged (trdg's own parameter names and spelling).
TRDG_KEYS = (
    "size",
    "skewing_angle",
    "random_skew",
    "blur",
    "random_blur",
    "background_type",
    "distorsion_type",
    "distorsion_orientation",
    "text_color",
    "character_spacing",
    "stroke_width",
    "stroke_fill",
    "margins",
)


def missing_glyphs(path: Path) -> str:
    """The characters of CHARSET the font draws as nothing or as its 'missing glyph' box."""
    font = ImageFont.truetype(str(path), 32)
    notdef = font.getmask("\ue000")  # a private-use code point: no Latin font maps it
    missing = ""
    for ch in CHARSET:
        mask = font.getmask(ch)
        if mask.getbbox() is None or (mask.size == notdef.size and bytes(mask) == bytes(notdef)):
            missing += ch
    return missing


def gray_contrast(image: Image.Image, mask: Image.Image) -> float:
    """Mean gray level of the text's pixels against the rest of the crop's (the model reads gray images).

    trdg's own check compares mean colours of the whole text image and background, so it lets through dark
    text on a dark part of a photograph; this one reads the text's mask (trdg colours each glyph's pixels).
    """
    gray = np.asarray(image.convert("L"), dtype=np.float64)
    text = np.asarray(mask.convert("RGB")).any(axis=2)
    if text.all() or not text.any():
        return 0.0
    return round(float(abs(gray[text].mean() - gray[~text].mean())), 1)


def info() -> dict:
    root = Path(trdg.__file__).parent
    fonts = []
    for path in sorted((root / "fonts" / "latin").glob("*.[to]tf")):
        family, style = ImageFont.truetype(str(path), 32).getname()
        fonts.append({"file": path.name, "family": family, "style": style, "missing": missing_glyphs(path)})
    return {
        "trdg_version": importlib.metadata.version("trdg"),
        "pillow_version": PIL.__version__,
        "opencv_version": cv2.__version__,
        "trdg_dir": str(root),
        "fonts": fonts,
        "images": sorted(p.name for p in (root / "images").iterdir() if p.is_file()),
        "dictionary": str(root / "dicts" / "en.txt"),
    }


def render(plan: dict) -> list[dict]:
    root = Path(plan["trdg_dir"])
    out = Path(plan["out_dir"])
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for crop in plan["crops"]:
            # trdg picks a background photo from a folder by its own random draw; a folder holding only the
            # planned photo makes the plan's choice the one used.
            image_dir = Path(tmp, crop["background_image"] or "none")
            if not image_dir.exists():
                image_dir.mkdir()
                if crop["background_image"]:
                    (image_dir / crop["background_image"]).symlink_to(root / "images" / crop["background_image"])
            random.seed(crop["seed"])
            cv2.setRNGSeed(crop["seed"])
            kwargs = {key: crop[key] for key in TRDG_KEYS}
            kwargs["margins"] = tuple(kwargs["margins"])
            generator = GeneratorFromStrings(
                [crop["label"]],
                count=1,
                fonts=[str(root / "fonts" / "latin" / crop["font"])],
                language="en",
                image_dir=str(image_dir),
                output_mask=True,
                **kwargs,
            )
            rendered, _ = next(generator)
            if rendered is None:  # trdg refuses a crop whose text and background are alike in mean colour
                results.append({"index": crop["index"], "ok": False, "refused_by": "trdg"})
                continue
            image, mask = rendered
            contrast = gray_contrast(image, mask)
            if contrast < plan["min_contrast"]:
                results.append({"index": crop["index"], "ok": False, "refused_by": "contrast", "contrast": contrast})
                continue
            image.save(out / crop["file"])
            results.append({"index": crop["index"], "ok": True, "contrast": contrast, "width": image.width})
    return results


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "info":
        answer: object = info()
    elif len(argv) == 3 and argv[0] == "render":
        answer = render(json.loads(Path(argv[1]).read_text(encoding="utf-8")))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    Path(argv[-1]).write_text(json.dumps(answer, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
