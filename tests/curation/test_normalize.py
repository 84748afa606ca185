import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from curation.normalize import normalize_hebrew


def test_gershayim_and_geresh_become_ascii():
    assert normalize_hebrew("צה״ל ו־ג׳ורג׳") == "צה\"ל ו־ג'ורג'"


def test_bidi_marks_and_zero_width_removed():
    assert normalize_hebrew("\u200fשלום\u200e \u202bעולם\u202c\u200b") == "שלום עולם"


def test_presentation_forms_fold_to_letters():
    # U+FB20 wide ayin, U+FB2E alef with patah, U+FB4B vav with holam
    out = normalize_hebrew("\ufb20\ufb2e\ufb4b")
    assert out[0] == "ע" and unicodedata.normalize("NFD", out).startswith("עא")
    assert all(not ("\ufb1d" <= c <= "\ufb4f") for c in out)


def test_niqqud_policy():
    pointed = "בְּרֵאשִׁית"
    assert normalize_hebrew(pointed) != "בראשית"  # kept by default
    assert normalize_hebrew(pointed, niqqud="strip") == "בראשית"


def test_cantillation_always_removed():
    assert normalize_hebrew("בְּרֵאשִׁ֖ית", niqqud="strip") == "בראשית"
    assert "\u0596" not in normalize_hebrew("בְּרֵאשִׁ֖ית")


def test_whitespace_collapsed_and_paragraphs_kept():
    assert normalize_hebrew("  א\u00a0\u00a0ב \n\n\n\nג  ") == "א ב\n\nג"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_any_string_is_normalized_idempotently(s):
    once = normalize_hebrew(s)
    assert normalize_hebrew(once) == once
    assert normalize_hebrew(once, niqqud="strip") == normalize_hebrew(
        normalize_hebrew(once, niqqud="strip"), niqqud="strip"
    )


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(
            list("אבגדהוזחטיכלמנסעפצקרשת ״׳\"'\u05b0\u05b4\u05bc\u05c1\u0591\u200f\ufb2a\ufb4b\n")
        ),
        max_size=80,
    )
)
def test_hebrew_heavy_strings_idempotent(s):
    once = normalize_hebrew(s, niqqud="strip")
    assert normalize_hebrew(once, niqqud="strip") == once
