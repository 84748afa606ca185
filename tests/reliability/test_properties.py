"""Any Unicode text: normalization is idempotent and never raises; every filter answers True or (False, reason)."""

from __future__ import annotations

import pytest
from datatrove.data import Document
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curation import quality
from curation.nemo import NEMO_FILTERS, NemoFilter
from curation.normalize import normalize_hebrew
from curation.words import HEBREW_WORDS

# any code point (surrogates and controls included), biased towards Hebrew, bidi marks and punctuation
HEBREW_BLOCK = st.characters(min_codepoint=0x0590, max_codepoint=0x05FF)
SPECIALS = st.sampled_from(
    list("\u200e\u200f\u202a\u202b\u202c\u2066\u2069\ufb1d\ufb2a\ufb4f״׳־׃ \n\t\r.,:;!?\"'|»«()")
)
TEXT = st.text(st.one_of(st.characters(), HEBREW_BLOCK, SPECIALS), max_size=300)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(TEXT)
def test_normalize_never_raises_and_is_idempotent(text):
    once = normalize_hebrew(text)
    assert isinstance(once, str)
    assert normalize_hebrew(once) == once


@SETTINGS
@given(TEXT)
def test_word_tokenize_never_raises(text):
    words = HEBREW_WORDS.word_tokenize(text)
    assert all(isinstance(w, str) for w in words)


def _check_answer(answer) -> None:
    if answer is True:
        return
    assert isinstance(answer, tuple) and len(answer) == 2, answer
    assert answer[0] is False and isinstance(answer[1], str) and answer[1], answer


QUALITY_FILTERS = {
    "HebrewGopherRepetition": quality.HebrewGopherRepetition,
    "HebrewFineWebQuality": quality.HebrewFineWebQuality,
    "HebrewGopherQuality": quality.HebrewGopherQuality,
    "HebrewLetterShare": quality.HebrewLetterShare,
}


@pytest.mark.parametrize("name", sorted(QUALITY_FILTERS))
def test_quality_filter_answers_any_text(name):
    step = QUALITY_FILTERS[name]()

    @SETTINGS
    @given(TEXT)
    def check(text):
        _check_answer(step.filter(Document(text=text, id="x")))

    check()


@pytest.mark.parametrize("name", sorted(NEMO_FILTERS))
def test_nemo_filter_answers_any_text(name):
    step = NemoFilter(name)

    @SETTINGS
    @given(TEXT)
    def check(text):
        _check_answer(step.filter(Document(text=text, id="x")))

    check()
