"""Text constants shared by the stages: Hebrew letters and marks, bidi and zero-width characters."""

from __future__ import annotations

#: Bidi formatting characters: LRM, RLM, ALM (U+061C, the Arabic letter mark), embeddings and overrides
#: (U+202A–202E) and isolates (U+2066–2069). They carry no text and break word matching.
BIDI_MARKS: frozenset[str] = frozenset(
    ["\u200e", "\u200f", "\u061c", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))]
)
#: Zero-width space, non-joiner, joiner, word joiner and the byte-order mark.
ZERO_WIDTH: frozenset[str] = frozenset("\u200b\u200c\u200d\u2060\ufeff")

HEBREW_LETTERS = "\u05d0-\u05ea"
"""The Hebrew letters א–ת (final forms included) as a character-class range."""
GERESH, GERSHAYIM, MAQAF, SOF_PASUQ = "\u05f3", "\u05f4", "\u05be", "\u05c3"
CANTILLATION = range(0x0591, 0x05B0)
"""Cantillation marks (te'amim)."""
#: Vowel points, dagesh, shin/sin dots, rafe, qamats qatan, upper and lower dot.
NIQQUD_CODEPOINTS: tuple[int, ...] = (*range(0x05B0, 0x05BE), 0x05BF, 0x05C1, 0x05C2, 0x05C4, 0x05C5, 0x05C7)


def is_hebrew_letter(ch: str) -> bool:
    return "\u05d0" <= ch <= "\u05ea"
