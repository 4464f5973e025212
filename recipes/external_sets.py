# SPDX-License-Identifier: Apache-2.0
"""Evaluation-only word-crop sets made by a third-party generator, trdg (TextRecognitionDataGenerator, MIT).

    python recipes/external_sets.py OUT [--num 1000] [--seed 20261207] [--sets trdg_clean trdg_hard]

Writes, per set, OUT/<set>/images/*.png, OUT/<set>/gt_new.txt (``images/NNNNNN.png<TAB>label``, the layout
`ocrnet evaluate` reads with evaluate.test_dataset_dir=OUT/<set>) and OUT/<set>/manifest.json (generator and
version, every setting, the seed, the fonts by file and by Pillow's family name, and each crop's own draws).
Nothing of these sets, nor trdg's fonts, background photos or dictionary, may ever be trained on: they measure
how the model reads a rendering style that no generator of ours made (recipes/evaluate_external.py).

trdg runs in its own virtual environment (default .cache/trdg-venv in the repository, git-ignored), created on
first use with `python -m venv` and `pip install trdg==1.8.0 pillow==9.5.0` from PyPI: the only moment this
needs the network. Pillow stays below 10 there because trdg 1.8.0 calls ImageFont.getsize, which Pillow 10
removed. The project's own environment never gets trdg. recipes/trdg_render.py is the half that runs inside it.

Every random choice (word, font, background, colours, skew, blur, distortion) is drawn here from the seed, per
crop; trdg's internal draws are seeded per crop as well, so the same seed gives the same images.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tao_ocrnet.data.synth.fonts import EXTERNAL_EVAL_DESIGNS, design_of_family

HERE = Path(__file__).resolve().parent
VENV = HERE.parent / ".cache" / "trdg-venv"
RENDER = HERE / "trdg_render.py"
PIP = ("trdg==1.8.0", "pillow==9.5.0")  # trdg 1.8.0 calls ImageFont.getsize (gone since Pillow 10)
SEED = 20261207
MAX_LABEL_LENGTH = 25  # the shipped model's max_label_length
WORD = re.compile(r"[0-9a-z]+")  # the shipped model's alnum36 charset
GT_NAME = "gt_new.txt"
PURPOSE = "evaluation only: never train on this set, nor on trdg's fonts, background images or dictionaries"

#: trdg's background_type values.
NOISE, WHITE, QUASICRYSTAL, PHOTO = 0, 1, 2, 3
#: trdg's distorsion_type values used here (3, per-pixel random offsets, is left out).
NO_DISTORTION, SINE, COSINE = 0, 1, 2


@dataclass(frozen=True)
class Style:
    """How one set's crops vary. Each (value, weight) list is one weighted draw per crop."""

    description: str
    backgrounds: tuple[tuple[int, float], ...]
    text_colors: tuple[tuple[str, float], ...]  # trdg ranges "#from,#to": the colour is drawn inside per channel
    distortions: tuple[tuple[int, float], ...]
    stroke_widths: tuple[tuple[int, float], ...] = ((0, 1.0),)
    character_spacings: tuple[tuple[int, float], ...] = ((0, 1.0),)
    skewing_angle: int = 0  # trdg draws the angle in [-a, a] degrees
    blur: float = 0.0  # trdg draws the gaussian blur radius in [0, b) pixels
    stroke_fill: str = "#000000,#ffffff"
    size: int = 32  # crop height in pixels; trdg scales the text to it, less the margins
    margins: tuple[int, int, int, int] = (5, 5, 5, 5)
    digit_share: float = 0.1  # the rest are words of trdg's English dictionary
    digit_lengths: tuple[int, int] = (1, 10)
    #: Refuse crops whose text's mean gray level is nearer than this to the rest of the crop's (0-255): it lets
    #: faint text through but not text that vanishes into a dark photograph (trdg's own check does).
    min_contrast: float = 15.0


STYLES = {
    "trdg_clean": Style(
        description="trdg's plain white and gaussian-noise (paper) backgrounds, its default text colour, "
        "no skew, blur or distortion",
        backgrounds=((NOISE, 0.5), (WHITE, 0.5)),
        text_colors=(("#282828", 1.0),),
        distortions=((NO_DISTORTION, 1.0),),
    ),
    "trdg_hard": Style(
        description="trdg's background photographs and quasicrystal patterns, random text colours, outlines "
        "and letter spacing, skew up to 5 degrees, gaussian blur, sine and cosine distortion",
        backgrounds=((PHOTO, 0.75), (QUASICRYSTAL, 0.25)),
        text_colors=(("#000000,#505050", 0.5), ("#c8c8c8,#ffffff", 0.2), ("#000000,#ffffff", 0.3)),
        distortions=((NO_DISTORTION, 0.34), (SINE, 0.33), (COSINE, 0.33)),
        stroke_widths=((0, 0.8), (1, 0.2)),
        character_spacings=((0, 0.7), (1, 0.1), (2, 0.1), (3, 0.1)),
        skewing_angle=5,
        blur=1.0,
    ),
}


def keep_word(word: str, max_length: int = MAX_LABEL_LENGTH) -> str | None:
    """The word lower-cased if the model can write it (0-9a-z only, at most `max_length`), else None."""
    word = word.strip().lower()
    return word if len(word) <= max_length and WORD.fullmatch(word) else None


def filter_words(lines: Iterable[str], max_length: int = MAX_LABEL_LENGTH) -> list[str]:
    """The distinct kept words, sorted (the draw depends on the seed only, not on the dictionary's order)."""
    return sorted({w for line in lines if (w := keep_word(line, max_length))})


def _weighted(rng: random.Random, choices: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([v for v, _ in choices], weights=[w for _, w in choices])[0]


def plan_crop(
    name: str, style: Style, seed: int, index: int, words: Sequence[str], fonts: dict[str, str], images: Sequence[str]
) -> dict[str, Any]:
    """Crop `index` of set `name`: every draw, from its own random stream (crop i is the same whatever the count).

    `fonts` maps a font file to the characters it lacks; a text is only given fonts that can draw all of it.
    Keys after "label" are trdg's GeneratorFromStrings parameters (its spelling: "distorsion").
    """
    rng = random.Random(f"{seed}/{name}/{index}")
    if rng.random() < style.digit_share:
        text = "".join(rng.choices("0123456789", k=rng.randint(*style.digit_lengths)))
    else:
        text = rng.choice(words)
    usable = [f for f in sorted(fonts) if not set(fonts[f]) & set(text)]
    if not usable:
        raise ValueError(f"no trdg font can draw {text!r}")
    background = _weighted(rng, style.backgrounds)
    distortion = _weighted(rng, style.distortions)
    return {
        "index": index,
        "file": f"images/{index:06d}.png",
        "label": text,
        "font": rng.choice(usable),
        "background_image": rng.choice(sorted(images)) if background == PHOTO else None,
        "seed": rng.getrandbits(31),  # seeds trdg's own draws for this crop
        "size": style.size,
        "margins": list(style.margins),
        "background_type": background,
        "distorsion_type": distortion,
        "distorsion_orientation": rng.randrange(3) if distortion else 0,  # vertical, horizontal, both
        "text_color": _weighted(rng, style.text_colors),
        "stroke_width": _weighted(rng, style.stroke_widths),
        "stroke_fill": style.stroke_fill,
        "character_spacing": _weighted(rng, style.character_spacings),
        "skewing_angle": style.skewing_angle,
        "random_skew": True,
        "blur": style.blur,
        "random_blur": True,
    }


def gt_text(crops: Sequence[dict[str, Any]]) -> str:
    """gt_new.txt: one ``relpath<TAB>label`` line per crop."""
    for crop in crops:
        if "\t" in crop["file"] or not keep_word(crop["label"]) or crop["label"] != crop["label"].lower():
            raise ValueError(f"crop {crop['index']}: {crop['file']!r} / {crop['label']!r} cannot be a gt line")
    return "".join(f"{c['file']}\t{c['label']}\n" for c in crops)


def build_manifest(
    name: str,
    style: Style,
    seed: int,
    info: dict[str, Any],
    num_words: int,
    crops: Sequence[dict[str, Any]],
    refused: dict[str, int],
) -> dict[str, Any]:
    """manifest.json: what made the set, so it can be made again and its fonts kept out of training."""
    by_file = {f["file"]: f for f in info["fonts"]}
    used = Counter(c["font"] for c in crops)
    return {
        "name": name,
        "purpose": PURPOSE,
        "generator": {
            "name": "trdg (TextRecognitionDataGenerator)",
            "version": info["trdg_version"],
            "license": "MIT",
            "api": "trdg.generators.GeneratorFromStrings, one crop per call, count=1",
            "pip": list(PIP),
            "pillow": info["pillow_version"],
            "opencv": info["opencv_version"],
        },
        "seed": seed,
        "count": len(crops),
        "refused": refused,  # by trdg (mean colours too near) or by the gray contrast floor; later crops stand in
        "settings": asdict(style),
        "text": {
            "dictionary": "trdg/dicts/en.txt",
            "rule": f"lower-cased, kept if only 0-9a-z and at most {MAX_LABEL_LENGTH} characters; "
            "drawn uniformly from the distinct kept words",
            "dictionary_words_kept": num_words,
            "digit_strings": f"{style.digit_share:.0%} of crops: uniform random digits, "
            f"{style.digit_lengths[0]}-{style.digit_lengths[1]} long",
            "label": "the text trdg rendered, lower-cased (capitals-only fonts draw it in capitals)",
        },
        "fonts": [
            {"file": f, "family": by_file[f]["family"], "style": by_file[f]["style"], "crops": used[f]}
            for f in sorted(used)
        ],
        "font_families": sorted({by_file[f]["family"] for f in used}),
        "background_images": dict(
            sorted(Counter(c["background_image"] for c in crops if c["background_image"]).items())
        ),
        "crops": list(crops),
    }


def trained_on(families: Iterable[str]) -> list[str]:
    """The font families the generator would train on: any here makes the external set no longer external."""
    return sorted({f for f in families if design_of_family(f) not in EXTERNAL_EVAL_DESIGNS})


def ensure_trdg(venv: Path) -> Path:
    """The Python of trdg's virtual environment, created and filled on first use (network to PyPI then)."""
    python = venv / "bin" / "python"
    pins = dict(pin.split("==") for pin in PIP)
    check = f"import importlib.metadata as m; assert all(m.version(n) == v for n, v in {pins}.items())"
    probe = [str(python), "-c", check]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating trdg's virtual environment {venv} (pip install {' '.join(PIP)} from PyPI)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PIP], check=True)
    subprocess.run(probe, check=True)
    return python


def run_helper(python: Path, *args: str) -> Any:
    """Run recipes/trdg_render.py in trdg's environment; it answers in a JSON file (trdg prints to stdout)."""
    with tempfile.TemporaryDirectory() as tmp:
        answer = Path(tmp, "answer.json")
        subprocess.run([str(python), str(RENDER), *args, str(answer)], check=True, stdout=subprocess.DEVNULL)
        return json.loads(answer.read_text(encoding="utf-8"))


def make_set(
    python: Path, info: dict[str, Any], words: list[str], folder: Path, name: str, num: int, seed: int
) -> dict:
    style = STYLES[name]
    (folder / "images").mkdir(parents=True)
    fonts = {f["file"]: f["missing"] for f in info["fonts"]}
    where = {"trdg_dir": info["trdg_dir"], "out_dir": str(folder)}
    kept: list[dict[str, Any]] = []
    refused: Counter[str] = Counter()
    index = 0
    while len(kept) < num:  # some crops are refused; later indices stand in, in order
        if index > 3 * num:
            raise RuntimeError(f"{name}: more than two crops in three refused; check the style's colours")
        batch = [
            plan_crop(name, style, seed, i, words, fonts, info["images"]) for i in range(index, index + num - len(kept))
        ]
        index += len(batch)
        with tempfile.TemporaryDirectory() as tmp:
            plan = Path(tmp, "plan.json")
            plan.write_text(json.dumps({**where, "min_contrast": style.min_contrast, "crops": batch}))
            results = run_helper(python, "render", str(plan))
        refused.update(r["refused_by"] for r in results if not r["ok"])
        contrast = {r["index"]: r["contrast"] for r in results if r["ok"]}
        kept += [{**c, "contrast": contrast[c["index"]]} for c in batch if c["index"] in contrast]
    (folder / GT_NAME).write_text(gt_text(kept), encoding="utf-8")
    manifest = build_manifest(name, style, seed, info, len(words), kept, dict(sorted(refused.items())))
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="folder for the sets (one sub-folder each)")
    p.add_argument("--num", type=int, default=1000, help="crops per set (default 1000)")
    p.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    p.add_argument("--sets", nargs="+", choices=sorted(STYLES), default=sorted(STYLES), help="which sets to make")
    p.add_argument("--venv", type=Path, default=VENV, help=f"trdg's virtual environment (default {VENV})")
    args = p.parse_args(argv)
    if args.num < 1:
        p.error("--num must be at least 1")
    taken = [args.out / n for n in args.sets if (args.out / n).exists()]
    if taken:
        p.error(f"{', '.join(map(str, taken))} already exist: remove them or choose another OUT")
    python = ensure_trdg(args.venv.resolve())
    info = run_helper(python, "info")
    leaked = trained_on(f["family"] for f in info["fonts"])
    if leaked:
        raise SystemExit(
            f"trdg draws with {', '.join(leaked)}, whose designs `ocrnet synth` may train on: add them to "
            "EXTERNAL_EVAL_FAMILIES in src/tao_ocrnet/data/synth/fonts.py first"
        )
    words = filter_words(Path(info["dictionary"]).read_text(encoding="utf-8", errors="ignore").splitlines())
    for name in args.sets:
        manifest = make_set(python, info, words, args.out / name, name, args.num, args.seed)
        print(f"{name}: {manifest['count']} crops (refused: {manifest['refused']}) -> {args.out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
