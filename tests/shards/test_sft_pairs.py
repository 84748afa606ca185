"""Pairs: gettext markup, the checks of a pair, bad JSONL records, and the installed catalogs."""

from __future__ import annotations

import json

import pytest

from shards.sft_pairs import builtin_pairs, check_pair, clean_markup, is_visual_order, read_pairs_file

HE = "הקובץ לא נמצא בתיקייה"
EN = "The file was not found in the folder"


def test_markup_is_removed_and_placeholders_kept() -> None:
    assert clean_markup("Save _As\u2026") == "Save As\u2026"
    assert clean_markup("&Open the file") == "Open the file"
    assert clean_markup("a && b") == "a & b"
    assert clean_markup("snake_case stays") == "snake_case stays"
    assert clean_markup("קובץ (_F)") == "קובץ"
    assert clean_markup("\u200fשלום  עולם\u200e") == "שלום עולם"
    assert check_pair("לא ניתן לפתוח את %s", "Cannot open %s") is None
    assert check_pair("לא ניתן לפתוח את הקובץ", "Cannot open %s") == "placeholder_mismatch"


@pytest.mark.parametrize(
    ("he", "en", "reason"),
    [
        ("", EN, "empty_side"),
        (HE, "  ", "empty_side"),
        (EN, EN, "same_text"),
        ("Cannot open the file now", EN, "wrong_script_he"),
        (HE, HE + " file", "wrong_script_en"),
        (HE[::-1], EN, "visual_order"),
        (HE, EN, None),
    ],
)
def test_check_pair_names_the_reason(he: str, en: str, reason: str | None) -> None:
    assert check_pair(he, en) == reason


def test_visual_order_without_final_letters_is_caught_by_word_frequency() -> None:
    text = "הוא היה בבית הספר"  # no final forms: only the reversed words' frequency tells
    assert not is_visual_order(text)
    assert is_visual_order(text[::-1])


def test_bad_records_are_counted_never_raised(tmp_path) -> None:
    path = tmp_path / "pairs.jsonl"
    good = json.dumps({"he": HE, "en": EN}, ensure_ascii=False).encode()
    chat = json.dumps(
        {"messages": [{"role": "user", "content": EN}, {"role": "assistant", "content": HE}]}, ensure_ascii=False
    ).encode()
    swapped = json.dumps({"he": EN, "en": HE}, ensure_ascii=False).encode()
    path.write_bytes(
        b"\n".join([good, chat, b'{"he": "x"}', b"\xff\xfe{}", b"not json", b"[1, 2]", swapped, b""]) + b"\n"
    )
    results = list(read_pairs_file(path))
    reasons = [r for _, r in results]
    assert reasons == [None, None, "missing_side", "not_utf8", "bad_json", "bad_json", "swapped_sides"]
    chat_pair = results[1][0]
    assert (chat_pair.he, chat_pair.en) == (HE, EN)
    assert results[0][0].source.endswith("pairs.jsonl:1")


def test_installed_catalogs_give_pairs_and_catch_visual_order() -> None:
    pairs, dropped, catalogs = builtin_pairs()
    if not catalogs:
        pytest.skip("no Hebrew gettext catalogs installed here")
    assert len(pairs) > 100
    assert all(check_pair(p.he, p.en) is None for p in pairs[:500])
    assert all(len(p.en.split()) >= 4 for p in pairs)
    if any("grep.mo" in c or "wget.mo" in c for c in catalogs):  # Debian's old catalogs store Hebrew reversed
        assert dropped["visual_order"] > 0
