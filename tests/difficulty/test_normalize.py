"""CCNet-style normalization: what changes, what must survive, and that the fast paths agree."""

from __future__ import annotations

import random
import re
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
        # CCNet turns every decimal digit into 0 before it maps punctuation, so its entry for the fullwidth
        # digit one (U+FF11 → '"') never fires: the digit becomes 0
        expected = "0" if unicodedata.category(ch) == "Nd" else UNICODE_PUNCT[ch]
        assert normalize_line(f"א{ch}ב") == f"א{expected}ב"


def test_every_bidi_mark_is_removed() -> None:
    assert len(BIDI_MARKS) == 12  # U+061C, the Arabic letter mark, included
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


# --- against CCNet's algorithm ---------------------------------------------------------------------------
# A plain, step-by-step implementation of cc_net's text_normalizer.normalize (accent, case, numbers, punct=1),
# plus our documented differences (bidi marks removed first, tab -> space). Written from the algorithm's
# description, independently of difficulty.normalize.

CCNET_PUNCT = dict(
    zip(
        "，。、„”“«»１」「《》´∶：？！（）；–—．～’…━〈〉【】％►",
        [
            ",",
            ".",
            ",",
            '"',
            '"',
            '"',
            '"',
            '"',
            '"',
            '"',
            '"',
            '"',
            '"',
            "'",
            ":",
            ":",
            "?",
            "!",
            "(",
            ")",
            ";",
            "-",
            " - ",
            ". ",
            "~",
            "'",
            "...",
            "-",
            "<",
            ">",
            "[",
            "]",
            "%",
            "-",
        ],
        strict=True,
    )
)
REF_BIDI = {"\u200e", "\u200f", "\u061c", *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}


def reference_normalize(line: str) -> str:
    line = "".join(c for c in line if c not in REF_BIDI)  # ours: bidi marks go first
    line = line.strip()
    if not line:
        return line
    line = line.lower()
    line = "".join(c for c in unicodedata.normalize("NFD", line) if unicodedata.category(c) != "Mn")
    line = re.sub(r"\d", "0", line)
    line = "".join(CCNET_PUNCT.get(c, c) for c in line)
    line = line.replace("\t", " ")  # ours: a tab is a space
    return "".join(c for c in line if not (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0))


def reference_lines(text: str) -> list[str]:
    return [n for n in map(reference_normalize, text.split("\n")) if n and not n.isspace()]


def test_every_bmp_code_point_as_ccnet() -> None:
    diffs = []
    for cp in range(0x10000):
        if 0xD800 <= cp < 0xE000:
            continue  # surrogates are not text
        ch = chr(cp)
        for line in (ch, f"x{ch}y", f"{ch} "):
            if normalize_line(line) != reference_normalize(line):
                diffs.append((hex(cp), line, normalize_line(line), reference_normalize(line)))
    assert not diffs, diffs[:20]


HEBREW_EDGE_CASES = [
    "בְּרֵאשִׁ֖ית בָּרָ֣א אֱלֹהִ֑ים",  # niqqud and cantillation
    "וַיֹּ֥אמֶר אֱלֹהִ֖ים יְהִ֣י א֑וֹר׃",  # sof pasuq
    "בית־המקדש ו־בית־הספר",  # maqaf
    "צה״ל, ז׳, רמב\"ם, ג'ירפה",  # gershayim and geresh, ASCII stand-ins
    "\u200fשלום\u200e \u202bעולם\u202c \u2067x\u2069 \u061cعربي",  # bidi marks, ALM included
    "\u200f  רווח אחרי סימן  \u200e",  # bidi marks around whitespace
    "בשנת １９４８ ו-٣٤ ו-۱۲",  # fullwidth, Arabic-Indic and Persian digits
    "כותרת —",  # em dash at the end: CCNet's " - " keeps its space
    "— פתיחה",
    "שורה\r",  # the \r of a \r\n line ending
    "א\tב\t",  # tab inside and at the end
    "\ufb2aבת \ufb4f",  # presentation forms
    "“ציטוט” – «עוד» … ．",
    "\x00\x85\xa0 \u2028ל\u2029",
    "ΑΣ\u200fb ΣΑΣ İstanbul ǅemal",  # final sigma, dotted I, titlecase
    "\x00 \x00",  # blank after normalization
]


@pytest.mark.parametrize("line", HEBREW_EDGE_CASES)
def test_hebrew_edge_cases_as_ccnet(line: str) -> None:
    assert normalize_line(line) == reference_normalize(line)


def test_edge_cases_as_whole_documents() -> None:
    text = "\r\n".join(HEBREW_EDGE_CASES) + "\n\n \u200f\n"
    assert normalize_lines(text) == reference_lines(text)
    assert "כותרת  - " in normalize_lines(text)  # "כותרת " + " - "
    assert normalize_lines("\x00 \x00\nא") == ["א"]  # a blank result is no line


def test_htb_train_lines_as_ccnet() -> None:
    from common.sources import htb_sentences

    lines = [s.text for s in htb_sentences("train")]
    assert len(lines) > 4000
    assert [normalize_line(s) for s in lines] == [reference_normalize(s) for s in lines]
    docs = ["\n".join(lines[i : i + 9]) for i in range(0, len(lines), 9)]
    assert all(normalize_lines(d) == reference_lines(d) for d in docs)


def test_random_mixtures_as_ccnet() -> None:
    rng = random.Random(3)
    alphabet = "".join(HEBREW_EDGE_CASES) + "".join(CCNET_PUNCT) + "".join(REF_BIDI) + " \t\r\n\x0b\x1c"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert normalize_lines(text) == reference_lines(text)
        assert normalize_line(text) == reference_normalize(text)
