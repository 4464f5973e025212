# SPDX-License-Identifier: Apache-2.0
"""Label sources for the synthetic generator: English words (a small embedded list of sign and street
vocabulary, plus the system dictionary of Debian's `wamerican` when installed; nothing is downloaded),
pronounceable pseudo-words built from syllables, random strings and numbers."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

__all__ = ["ENGLISH_WORDS", "SYSTEM_DICTIONARY", "default_words", "pseudo_word", "random_number", "random_string"]

# Common English words, shop-sign and street vocabulary included (scene text is mostly that).
_WORDS_TEXT = """
    the and for you that with this from have are not but all they was his her one our out can
    day get has him how man new now old see two way who boy did its let put say she too use
    about after again along also always another around because before being below between both
    came come could different does down each even every find first found give good great hand
    help here high home house just know large last left life light line little live long look
    made make many more most mother move much must name near need never next night number only
    open other over own page paper part people picture place play point right road said same
    school seem sentence should show side small sound spell still story study such take tell
    than their them then there these thing think three through time together took tree under
    until very walk want water well went were what when where which while white why will word
    work world would write year young
    street avenue road lane drive park plaza square station airport hotel motel restaurant cafe
    coffee bakery pizza burger kitchen grill bar pub market store shop mall outlet pharmacy
    bank post office police fire hospital clinic dental school college university library museum
    theatre cinema gallery garden church temple center centre city town village north south east
    west exit entrance enter push pull open closed sale discount free price offer special today
    new best quality fresh hot cold ice cream tea juice milk bread meat fish fruit salad soup rice
    noodle chicken beef pork deal value cash card credit only stop slow yield parking taxi bus
    train metro subway ticket tickets platform gate terminal arrivals departures welcome hello
    thank thanks please sorry danger warning caution notice private public toilet toilets men
    women kids baby family fashion shoes clothing jeans beauty salon hair nails spa fitness gym
    sport sports club golf tennis pool beach river lake hill mountain valley bridge tower castle
    palace harbour harbor port marina boat ferry cruise travel tours agency insurance estate
    rental rent lease sales service services repair auto motor garage tyres tires wash laundry
    cleaning market supermarket grocery deli wine beer liquor bottle shop books music video games
    phone mobile computer digital electronics camera photo print printing design studio art
    craft gifts toys jewelry watch watches optical glasses eyewear flowers florist pets vet
    animal zoo farm organic natural health care medical doctor dentist lawyer legal finance
    capital group company limited global national international royal grand central union
    united first second third main high old new little great big super mega star sun moon sky
    blue red green black white gold silver orange yellow purple pink brown grey gray dark light
    king queen prince lion eagle tiger bear wolf fox horse dragon phoenix ocean river forest
    stone rock steel iron wood glass paper plastic cotton silk leather energy power electric
    solar water air fire earth spring summer autumn winter monday friday sunday weekend daily
    open hours menu order delivery takeaway express fast quick easy smart happy lucky golden
    """
ENGLISH_WORDS: tuple[str, ...] = tuple(dict.fromkeys(_WORDS_TEXT.split()))
SYSTEM_DICTIONARY = Path("/usr/share/dict/words")
_PLAIN_WORD = re.compile(r"[a-z]+")


@functools.cache
def default_words(dictionary: Path = SYSTEM_DICTIONARY) -> tuple[str, ...]:
    """The embedded list, then every plain lower-case word of the system dictionary (~64,000 in `wamerican`;
    proper nouns and possessives left out). The 495 embedded words alone taught a model a vocabulary instead of
    reading: labels of 11 or more characters were rare, and it read 41% of such words of a third-party set."""
    try:
        lines = dictionary.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ENGLISH_WORDS
    return tuple(dict.fromkeys([*ENGLISH_WORDS, *(w for w in lines if _PLAIN_WORD.fullmatch(w))]))


_ONSETS_TEXT = (
    "b c d f g h j k l m n p r s t v w z br ch cl cr dr fl fr gl gr pl pr sc sh sk sl sm sn sp st str th tr wh"
)
_VOWELS_TEXT = "a e i o u a e i o ai ea ee oo ou ie y"
_ONSETS = [*_ONSETS_TEXT.split(), "tr", "wh"]
_VOWELS = _VOWELS_TEXT.split()
_CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck", "rt", "x", "sh", "nt"]


def pseudo_word(rng: np.random.Generator) -> str:
    """A pronounceable non-word of 1-6 syllables (e.g. 'bralton')."""
    syllables = int(rng.choice([1, 2, 2, 3, 3, 4, 5, 6]))
    parts = []
    for _ in range(syllables):
        onset = _ONSETS[int(rng.integers(len(_ONSETS)))] if rng.random() < 0.85 else ""
        parts.append(onset + _VOWELS[int(rng.integers(len(_VOWELS)))] + _CODAS[int(rng.integers(len(_CODAS)))])
    return "".join(parts)


def random_string(rng: np.random.Generator, alphabet: str, min_len: int = 1, max_len: int = 10) -> str:
    n = int(rng.integers(min_len, max_len + 1))
    return "".join(alphabet[int(i)] for i in rng.integers(len(alphabet), size=n))


def random_number(rng: np.random.Generator, max_len: int = 8) -> str:
    """Digits the way they appear on signs: short numbers are far more common than long ones."""
    n = int(min(max_len, 1 + rng.geometric(0.35)))
    return "".join(str(int(d)) for d in rng.integers(10, size=n))
