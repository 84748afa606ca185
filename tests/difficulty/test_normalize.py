"""CCNet-style normalization: what changes, what must survive, and that the fast paths agree."""

from __future__ import annotations

import unicodedata

import pytest

from difficulty.normalize import BIDI_MARKS, UNICODE_PUNCT, normalize_line, normalize_lines


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # niqqud, dagesh, shin dot and cantillation are Mn: all go, the letters stay
        ("בְּרֵאשִׁ֖ית בָּרָ֣א אֱלֹהִ֑ים", "בראשית ברא אלהים"),
        ("שָׁלוֹם", "שלום"),
        # precomposed presentation form (U+FB2A SHIN WITH SHIN DOT) decomposes, its dot is dropped
        ("\ufb2aבת", "שבת"),
        # lowercasing and accents (Latin inside Hebrew text)
        ("Tel Aviv ו-CAFÉ", "tel aviv ו-cafe"),
        # every decimal digit, in any script, becomes 0
        ("בשנת 1948 ו-٣٤", "בשנת 0000 ו-00"),
        # typographic punctuation → ASCII, as in CCNet's table
        ("“ציטוט” – «עוד» …", '"ציטוט" - "עוד" ...'),
        # control characters are dropped (CCNet); tab becomes a space (our deviation)
        ("א\x00ב\x07ג\tד", "אבג ד"),
        # bidi marks and isolates are dropped (our addition)
        ("\u200fשלום\u200e \u202bעולם\u202c \u2067x\u2069", "שלום עולם x"),
        # Hebrew punctuation is not in CCNet's table: maqaf, geresh, gershayim, sof pasuq survive
        ("צה״ל ז׳ בית־המקדש׃", "צה״ל ז׳ בית־המקדש׃"),
        # surrounding whitespace goes
        ("   שלום   ", "שלום"),
        ("", ""),
        ("\u200f\u200e\x00", ""),
    ],
)
def test_normalize_line(raw: str, expected: str) -> None:
    assert normalize_line(raw) == expected


def test_punctuation_table_targets_are_ascii() -> None:
    assert all(dst.isascii() for dst in UNICODE_PUNCT.values())
    for ch in UNICODE_PUNCT:
        assert normalize_line(f"א{ch}ב") == f"א{UNICODE_PUNCT[ch]}ב".strip()


def test_every_bidi_mark_is_removed() -> None:
    assert len(BIDI_MARKS) == 11
    assert normalize_line("".join(sorted(BIDI_MARKS)) + "שלום") == "שלום"


def test_astral_marks_are_removed_too() -> None:
    # U+1D167 MUSICAL SYMBOL COMBINING TREMOLO-1 is Mn outside the BMP: the slow path must catch it
    assert unicodedata.category("\U0001d167") == "Mn"
    assert normalize_line("a\U0001d167b 😀") == "ab 😀"


def test_idempotent(held_out_sentences) -> None:
    for s in held_out_sentences[:300]:
        once = normalize_line(s)
        assert normalize_line(once) == once


def test_normalize_lines_equals_line_by_line(held_out_sentences) -> None:
    tricky = ["  ", "\r", "a\tb\r", "\u200f", "שָׁלוֹם 12", "İstanbul", "x\U0001d167y", "“q”"]
    text = "\n".join(held_out_sentences[:200] + tricky)
    expected = [n for n in (normalize_line(line) for line in text.split("\n")) if n]
    assert normalize_lines(text) == expected
    assert normalize_lines("\n\n \n") == []
