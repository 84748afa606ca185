"""Each curation default lives in its config dataclass: steps built without a config use it."""

from __future__ import annotations

import pytest
from datatrove.pipeline.extractors.trafilatura import Trafilatura

from curation.config import (
    NEMO_FILTERS,
    ExtractConfig,
    FineWebQualityConfig,
    GopherQualityConfig,
    GopherRepetitionConfig,
    LanguageConfig,
    NormalizeConfig,
    QualityConfig,
    check_nemo_arguments,
)
from curation.extract import HtmlExtractor
from curation.language import LanguageID
from curation.nemo import build_nemo_filter
from curation.normalize import HebrewNormalizer
from curation.quality import HebrewFineWebQuality, HebrewGopherQuality, HebrewGopherRepetition, HebrewLetterShare


def test_fineweb2_heb_hebr_thresholds_are_the_defaults():
    rep, fw, gq = GopherRepetitionConfig(), FineWebQualityConfig(), GopherQualityConfig()
    assert rep.dup_line_frac == 0.386 and rep.top_n_grams == {2: 0.1, 3: 0.119, 4: 0.14}
    assert rep.dup_n_grams == {5: 0.192, 6: 0.174, 7: 0.156, 8: 0.143, 9: 0.13, 10: 0.12}
    assert (fw.line_punct_thr, fw.new_line_ratio) == (0.3, 0.158)
    assert (gq.min_avg_word_length, gq.max_avg_word_length, gq.min_alpha_words_ratio, gq.min_stop_words) == (
        3,
        9,
        0.799,
        2,
    )
    assert LanguageConfig().threshold == 0.8 and QualityConfig().min_hebrew_letter_share == 0.6


def test_steps_without_a_config_use_the_dataclass_defaults():
    rep = HebrewGopherRepetition()
    assert rep.dup_line_frac == 0.386 and rep.top_n_grams == ((2, 0.1), (3, 0.119), (4, 0.14))
    assert rep.dup_n_grams[0] == (5, 0.192) and rep.dup_n_grams[-1] == (10, 0.12)
    fw = HebrewFineWebQuality()
    assert (fw.line_punct_thr, fw.short_line_threshold, fw.char_duplicates_ratio, fw.new_line_ratio) == (
        0.3,
        0.67,
        0.01,
        0.158,
    )
    gq = HebrewGopherQuality()
    assert (gq.min_doc_words, gq.max_doc_words, gq.min_avg_word_length, gq.max_avg_word_length) == (50, 100_000, 3, 9)
    assert gq.min_alpha_words_ratio == 0.799 and gq.min_stop_words == 2 and gq.max_non_alpha_words_ratio is None
    assert HebrewLetterShare().min_share == 0.6
    assert HebrewNormalizer().niqqud == "keep"
    extractor = HtmlExtractor()
    assert (extractor.timeout, extractor.favour_precision) == (5.0, True)


def test_steps_take_their_config():
    rep = HebrewGopherRepetition(GopherRepetitionConfig(dup_line_frac=0.5, top_n_grams={4: 0.2, 2: 0.3}))
    assert rep.dup_line_frac == 0.5 and rep.top_n_grams == ((2, 0.3), (4, 0.2))
    assert HebrewGopherQuality(GopherQualityConfig(min_alpha_words_ratio=None)).min_alpha_words_ratio is None
    assert HebrewLetterShare(QualityConfig(min_hebrew_letter_share=0.9)).min_share == 0.9
    assert HebrewNormalizer(NormalizeConfig(niqqud="strip")).format("בְּרֵאשִׁית") == "בראשית"
    extractor = HtmlExtractor(ExtractConfig(timeout_s=2.0, favour_precision=False))
    assert isinstance(extractor, Trafilatura) and (extractor.timeout, extractor.favour_precision) == (2.0, False)


def test_language_id_takes_its_config():
    lid = LanguageID(LanguageConfig(keep=["he", "yi"], threshold=0.5))
    assert lid.keep == ("he", "yi") and lid.threshold == 0.5
    default = LanguageID()
    assert default.keep == ("he",) and default.threshold == LanguageConfig().threshold


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (LanguageConfig, {"threshold": 1.5}, "language.threshold must be within"),
        (NormalizeConfig, {"niqqud": "drop"}, "normalize.niqqud"),
        (GopherRepetitionConfig, {"top_n_grams": {2: 1.5}}, "gopher_repetition.top_n_grams.2"),
        (GopherQualityConfig, {"min_avg_word_length": 10}, "exceeds max_avg_word_length"),
        (ExtractConfig, {"timeout_s": 0}, "extract.timeout_s must be positive"),
        (QualityConfig, {"nemo": {"urls": {"max_url_ratio": 0.1}}}, "UrlsFilter has no argument 'max_url_ratio'"),
        (QualityConfig, {"nemo": {"url": {}}}, "unknown filter"),
    ],
)
def test_configs_reject(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_default_nemo_arguments_are_the_filters_own():
    for name, params in QualityConfig().nemo.items():
        check_nemo_arguments(name, params)
        assert build_nemo_filter(name, params) is not None
    for name in NEMO_FILTERS:
        build_nemo_filter(name)
