"""The canonical word sequence that decontamination n-grams are made of, Hebrew-aware.

datatrove's ``simplify_text`` (lowercase, digits → 0, punctuation → space, niqqud and other combining marks
removed) is applied after three Hebrew steps, and each word is then put in a canonical form:

1. NFKC (Hebrew presentation forms → plain letters), bidi marks and zero-width characters removed.
2. Geresh and gershayim in any spelling (׳ ״, ASCII ' ", ’ ‘ “ ” ` ´) right after a Hebrew letter are deleted, so
   צה״ל, צה"ל and צה’’ל are the one word צהל, and ג׳ירפה / ג'ירפה are גירפה (``simplify_text`` would turn the
   ASCII forms into a space and keep the Hebrew ones, splitting one spelling into two words).
3. Maqaf (U+05BE) is a space, as the hyphen already is.
4. Proclitics: while a Hebrew word is longer than two letters and starts with one of
   ו ה ב כ ל מ ש, that letter is dropped; before a number or a foreign word all of them are
   (ב-2020, ב2020 and 2020 are one form), and a lone proclitic letter left by a hyphen is no word.
   The form is the same for a word with one (or several) proclitics added or removed:
   canonical(pX) = canonical(X) for every X of two letters or more, so וּבבית, בבית, הבית
   and בית all become ית. Stripping one letter only from words of 3+ letters is not sound
   (בבית → בית but בית → ית).

Many Hebrew words collapse to one form (מלך, הלך, לך); a match needs ``n`` (12) consecutive words to agree,
which unrelated text does not do: tests/curation/test_decont.py measures it on news it was not tuned on.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from datatrove.utils.text import NUMBERS_PATTERN, PUNCTUATION, simplify_text

from common.text import BIDI_MARKS, ZERO_WIDTH

PROCLITICS = frozenset("והבכלמש")
_HEBREW_LETTER = "\u05d0-\u05ea"
_QUOTES = "'\"\u05f3\u05f4\u2018\u2019\u201c\u201d`\u00b4"
# regular expressions, not str.translate tables: translate looks every character up in a dict (slow on Hebrew)
_DELETE = re.compile("[" + "".join(sorted(BIDI_MARKS | ZERO_WIDTH)) + "]")
_PUNCTUATION = re.compile("[\u05be" + re.escape(PUNCTUATION) + "]")  # maqaf is a space, as the hyphen is
_GERESH_AFTER_LETTER = re.compile(f"(?<=[{_HEBREW_LETTER}])[{_QUOTES}]+")
_HEBREW_WORD = re.compile(f"[{_HEBREW_LETTER}]")


@lru_cache(maxsize=1 << 17)
def canonical_word(word: str) -> str:
    """WORD without its leading proclitic letters: down to two letters when the rest is Hebrew, all of them
    when a number or a foreign word follows (ב2020, וCNN); a lone proclitic letter is the empty string."""
    if not word or word[0] not in PROCLITICS:
        return word
    i = 0
    while i < len(word) and word[i] in PROCLITICS:
        i += 1
    if i == len(word):  # only proclitic letters: של, מה, כל … keep their last two; ו, ב … vanish
        return word[-2:] if len(word) >= 2 else ""
    if not _HEBREW_WORD.match(word[i]):
        return word[i:]
    return word[min(i, len(word) - 2) :] if len(word) > 2 else word


_MARKS: re.Pattern | None = None


def _combining_marks() -> re.Pattern:
    """Every nonspacing mark (category Mn) as one character class: what ``simplify_text`` removes one character
    at a time."""
    global _MARKS
    if _MARKS is None:
        marks = [cp for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Mn"]
        ranges, start = [], marks[0]
        for prev, cp in zip(marks, marks[1:] + [-1], strict=True):
            if cp != prev + 1:
                ranges.append(
                    f"{re.escape(chr(start))}-{re.escape(chr(prev))}" if prev > start else re.escape(chr(start))
                )
                start = cp
        _MARKS = re.compile("[" + "".join(ranges) + "]")
    return _MARKS


def canonical_words(text: str) -> list[str]:
    """TEXT as the canonical words its decontamination n-grams are made of (see the module docstring).
    The ``simplify_text`` steps are inlined: the same result, several times faster."""
    text = _DELETE.sub("", unicodedata.normalize("NFKC", text))
    text = _GERESH_AFTER_LETTER.sub("", text).lower()
    text = _PUNCTUATION.sub(" ", NUMBERS_PATTERN.sub("0", text))
    text = _combining_marks().sub("", unicodedata.normalize("NFD", text))
    return [c for w in text.split() if (c := canonical_word(w))]


def plain_words(text: str) -> list[str]:
    """datatrove's own normalization (``simplify_text``) split on spaces: the baseline the canonical form is
    measured against."""
    return simplify_text(text).split()


class CanonicalTokenizer:
    """The word tokenizer datatrove's decontamination steps call (``word_tokenize``), giving canonical words."""

    def word_tokenize(self, text: str) -> list[str]:
        return canonical_words(text)
