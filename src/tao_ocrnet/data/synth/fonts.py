# SPDX-License-Identifier: Apache-2.0
"""Finding usable TrueType / OpenType fonts on the machine for the synthetic generator.

Fonts are never downloaded: they come from the system font folders (Debian font packages; the
project's list is `.ci/apt-packages.txt`) or a folder the user names. A font is usable only if it
has a distinct, visible glyph for every character to render (symbol and dingbat fonts are not).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from PIL import ImageFont

from tao_ocrnet.errors import DataError

__all__ = [
    "EXTERNAL_EVAL_DESIGNS",
    "EXTERNAL_EVAL_FAMILIES",
    "FONT_DIRS",
    "FONT_PACKAGE_HINT",
    "design_group",
    "design_of_family",
    "discover_fonts",
    "font_family",
    "load_font",
]

log = logging.getLogger(__name__)

FONT_DIRS: tuple[str, ...] = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
)
FONT_EXTENSIONS = frozenset({".ttf", ".otf", ".ttc"})
FONT_PACKAGE_HINT = (
    "install fonts, e.g. `apt-get install -y fonts-dejavu-core fonts-liberation fonts-freefont-ttf` "
    "(the project's set is in .ci/apt-packages.txt), or pass a folder of .ttf/.otf files"
)
# Symbol fonts put pictures at the ASCII code points, so glyph coverage cannot tell them apart
# from text fonts: their family names can (lower-case, spaces removed).
_SYMBOL_FAMILY_HINTS = ("symbol", "dingbat", "d050000l", "wingding", "webding", "awesome", "emoji", "icon")
# A codepoint no font maps (plane-16 private use): what the font draws for a missing glyph.
_PROBE_MISSING = "\U0010fffd"


@functools.lru_cache(maxsize=4096)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A cached FreeType font object (creation costs far more than drawing one word)."""
    return ImageFont.truetype(path, size)


def font_family(path: str) -> str:
    """The family name stored in the font (so Regular / Bold / Italic group together)."""
    try:
        return load_font(path, 16).getname()[0] or Path(path).stem
    except OSError:
        return Path(path).stem


# Metric clones of another design on the same machine: kept in that design's group so a font split
# never puts a look-alike on the other side.
_CLONE_OF = {
    "arimo": "liberation",
    "tinos": "liberation",
    "cousine": "liberation",
    "freesans": "nimbus",
    "freeserif": "nimbus",
    "freemono": "nimbus",
    "betecknagscondensed": "betecknags",
    "oxygen-sans": "oxygen",
}


def design_of_family(family: str) -> str:
    """A coarse design family (first word of the family name, clones merged): the unit of a train/test font split."""
    words = family.lower().split()
    first = words[0] if words else family.lower()
    return _CLONE_OF.get(first, first)


def design_group(path: str) -> str:
    """The design of a font file (`design_of_family` of the family stored in it)."""
    return design_of_family(font_family(path))


# The font families of the third-party generator whose crops are the external evaluation set (trdg's Latin fonts,
# as Pillow names them; recipes/external_sets.py records them in each set's manifest). Their designs are never
# trained on, even when a font package on this machine provides them (Lato, Open Sans, Roboto, Raleway, ...).
EXTERNAL_EVAL_FAMILIES = (
    "Aller", "Aller Display", "Aller Light", "Amatic", "Amatic SC", "Bebas", "Capture it", "Capture it 2",
    "Caviar Dreams", "Droid Sans", "FFF Tusj", "Lato", "Open Sans", "Pacifico", "Raleway", "Roboto",
    "Roboto Condensed", "Sansation", "Sansation Light", "SeasideResortNF", "Walkway Black", "Walkway Bold",
    "Walkway Oblique", "Walkway SemiBold", "Walkway UltraBold",
)  # fmt: skip
EXTERNAL_EVAL_DESIGNS = frozenset(design_of_family(f) for f in EXTERNAL_EVAL_FAMILIES)


def _glyph_signature(font: ImageFont.FreeTypeFont, ch: str) -> tuple[tuple[int, int], bytes] | None:
    mask = font.getmask(ch)
    if mask.getbbox() is None:
        return None
    return mask.size, bytes(mask)


@functools.lru_cache(maxsize=1024)
def _covers(path: str, chars: str) -> bool:
    try:
        font = load_font(path, 24)
    except OSError:
        return False
    family = (font.getname()[0] or "").lower().replace(" ", "")
    if any(hint in family for hint in _SYMBOL_FAMILY_HINTS):
        return False
    missing = _glyph_signature(font, _PROBE_MISSING)
    signatures = set()
    for ch in chars:
        sig = _glyph_signature(font, ch)
        if sig is None or sig == missing:
            return False
        signatures.add(sig)
    # A font drawing (nearly) everything with one shape is a symbol font; allow l/I/1-style twins.
    return len(signatures) >= 0.8 * len(set(chars))


def _candidate_files(dirs: Iterable[str | Path]) -> list[str]:
    files: set[str] = set()
    for d in dirs:
        root = Path(os.path.expanduser(str(d)))
        if root.is_file() and root.suffix.lower() in FONT_EXTENSIONS:
            files.add(str(root))
            continue
        if not root.is_dir():
            continue
        for dirpath, _, names in os.walk(root, followlinks=True):
            files.update(os.path.join(dirpath, n) for n in names if os.path.splitext(n)[1].lower() in FONT_EXTENSIONS)
    return sorted(files)


def discover_fonts(chars: str, font_dirs: Iterable[str | Path] | None = None) -> list[str]:
    """Sorted paths of fonts that can draw every character of `chars`.

    `font_dirs` (folders or font files) replaces the system folders when given; from the system folders,
    the designs of the external evaluation set (EXTERNAL_EVAL_DESIGNS) are left out. Raises DataError
    with an install hint when nothing usable is found.
    """
    dirs = list(font_dirs) if font_dirs is not None else list(FONT_DIRS)
    unique = "".join(sorted(set(chars)))
    candidates = _candidate_files(dirs)
    usable = [f for f in candidates if _covers(f, unique)]
    if font_dirs is None:  # fonts the user names are theirs to use; the system's never include the external set's
        usable = [f for f in usable if design_group(f) not in EXTERNAL_EVAL_DESIGNS]
    log.info("fonts: %d usable of %d found in %s", len(usable), len(candidates), ", ".join(map(str, dirs)))
    if not usable:
        where = ", ".join(str(d) for d in dirs)
        raise DataError(f"no usable TrueType/OpenType font (covering {unique!r}) found in {where}: {FONT_PACKAGE_HINT}")
    return usable
