# SPDX-License-Identifier: Apache-2.0
"""`ocrnet synth` arguments and entry point, kept apart from the renderer so the CLI starts fast."""

from __future__ import annotations

import argparse

from tao_ocrnet.data.charset import CHARSETS
from tao_ocrnet.data.gt import parse_gt_file


def add_synth_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Register `ocrnet synth` arguments on a (sub)parser."""
    parser.add_argument("out", help="output folder (train/, test/, character_list, *.tar.gz)")
    parser.add_argument("--num", type=int, required=True, help="number of training crops")
    parser.add_argument("--num-test", type=int, default=None, help="number of test crops (default: num/5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same output)")
    parser.add_argument(
        "--charset",
        default="alnum36",
        help=f"one of {', '.join(CHARSETS)}, or the characters themselves (default alnum36)",
    )
    parser.add_argument("--fonts", default=None, help="folder of .ttf/.otf fonts (default: the system fonts)")
    parser.add_argument(
        "--backgrounds",
        default=None,
        help="folder of background photographs (.jpg/.png/.webp; default: the system wallpapers)",
    )
    parser.add_argument(
        "--fonts-split", action="store_true", help="disjoint fonts, words and background photographs for test"
    )
    parser.add_argument(
        "--train-designs",
        default="",
        metavar="A,B,...",
        help="with --fonts-split: font designs (first word of the family, lower-case) kept out of the test "
        "split, e.g. those a model you fine-tune was trained on",
    )
    parser.add_argument("--height", type=int, default=32, help="crop height in pixels (default 32)")
    parser.add_argument("--max-label-length", type=int, default=25)
    parser.add_argument(
        "--keep-case", action="store_true", help="labels keep the rendered case (default: lower-case labels)"
    )
    parser.add_argument(
        "--first-index",
        type=int,
        default=1,
        help="number training crops from here: with an earlier run's seed and a value past its --num, "
        "fresh crops of the same font and word split (default 1)",
    )
    parser.add_argument(
        "--avoid-labels",
        action="append",
        default=[],
        metavar="GT_FILE",
        help="gt file whose labels no crop may use, e.g. the test split being extended (repeatable)",
    )
    parser.add_argument("--workers", type=int, default=1, help="rendering processes (default 1)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing dataset in OUT")
    return parser


def _held_out_labels(gt_files: list[str]) -> set[str]:
    return {e.label for gt in gt_files for e in parse_gt_file(gt, key="--avoid-labels").entries}


def main_synth(args: argparse.Namespace) -> dict[str, object]:
    """Run `ocrnet synth` from parsed arguments; returns the summary (the CLI prints it)."""
    num_test = args.num_test if args.num_test is not None else max(1, args.num // 5)
    # Here, not at the top: every `ocrnet` command builds its parser from this module, and the renderer
    # (numpy, Pillow) would slow them all.
    from tao_ocrnet.data.synth.generate import generate_dataset

    summary = generate_dataset(
        args.out,
        args.num,
        num_test,
        seed=args.seed,
        charset=args.charset,
        fonts=args.fonts,
        backgrounds=getattr(args, "backgrounds", None),
        train_designs=[d.strip() for d in getattr(args, "train_designs", "").split(",") if d.strip()],
        lowercase_labels=not getattr(args, "keep_case", False),
        height=getattr(args, "height", 32),
        fonts_split=getattr(args, "fonts_split", False),
        max_label_length=getattr(args, "max_label_length", 25),
        workers=getattr(args, "workers", 1),
        overwrite=getattr(args, "overwrite", False),
        first_index=getattr(args, "first_index", 1),
        avoid_labels=_held_out_labels(getattr(args, "avoid_labels", [])),
    )
    return summary.to_dict()
