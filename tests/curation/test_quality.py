"""Each Hebrew fix is shown against the stock filter it replaces, on real HTB news text."""

from datatrove.data import Document
from datatrove.pipeline.filters import GopherQualityFilter
from nemo_curator.stages.text.filters.heuristic.string import NonAlphaNumericFilter

from curation.config import FineWebQualityConfig, GopherQualityConfig, QualityConfig
from curation.nemo import HebrewNonAlphaNumericFilter, NemoFilter
from curation.quality import (
    HEBREW_STOP_WORDS,
    HebrewFineWebQuality,
    HebrewGopherQuality,
    HebrewGopherRepetition,
    HebrewLetterShare,
    alpha_word_ratio,
    hebrew_letter_share,
)


def doc(text):
    return Document(text=text, id="t")


def test_stock_gopher_alpha_ratio_drops_news_ours_keeps_it(news_docs):
    stock = GopherQualityFilter(
        min_avg_word_length=3,
        max_avg_word_length=9,
        max_non_alpha_words_ratio=0.799,
        stop_words=list(HEBREW_STOP_WORDS),
        language="heb",
    )
    stock_drops = [d for d in news_docs if stock.filter(doc(d)) == (False, "gopher_below_alpha_threshold")]
    assert len(stock_drops) >= 0.05 * len(news_docs)  # the problem is real on news prose
    ours = HebrewGopherQuality(GopherQualityConfig(min_avg_word_length=3, max_avg_word_length=9))
    assert all(ours.filter(doc(d)) is True for d in stock_drops)


def test_our_alpha_rule_still_drops_number_tables():
    table = "\n".join(" ".join(str(1000 + i * j) for j in range(12)) + " של את הדירוג" for i in range(20))
    assert alpha_word_ratio(table) < 0.3
    ours = HebrewGopherQuality(GopherQualityConfig(min_doc_words=10))
    assert ours.filter(doc(table)) == (False, "gopher_quality:below_alpha_threshold")


def test_gopher_quality_reasons_are_prefixed():
    ours = HebrewGopherQuality()
    assert ours.filter(doc("מילה אחת")) == (False, "gopher_quality:short_doc")
    no_stop = " ".join(["בית ספר גדול ויפה מאוד"] * 20)
    assert ours.filter(doc(no_stop)) == (False, "gopher_quality:enough_stop_words")


def test_repetition_and_fineweb_drop_spam_keep_news(news_docs):
    rep, fw = HebrewGopherRepetition(), HebrewFineWebQuality()
    spam = "\n".join(["הלוואות מהירות בלי בדיקות הלוואות מהירות עכשיו"] * 30)
    assert rep.filter(doc(spam))[1].startswith("gopher_repetition:")
    assert sum(rep.filter(doc(d)) is True and fw.filter(doc(d)) is True for d in news_docs) >= 0.95 * len(news_docs)


def test_stock_nemo_non_alphanumeric_drops_all_hebrew_ours_keeps_it(news_docs):
    stock = NonAlphaNumericFilter()
    assert not any(stock.keep_document(stock.score_document(d)) for d in news_docs[:50])
    ours = HebrewNonAlphaNumericFilter()
    assert all(ours.keep_document(ours.score_document(d)) for d in news_docs[:50])
    assert not ours.keep_document(ours.score_document("$$$ ### %%% *** ((( ))) !!! " * 20 + "שלום"))


def test_nemo_adapter_runs_nemo_filters_as_datatrove_steps():
    step = NemoFilter("urls", {"max_url_to_text_ratio": 0.2})
    assert step.filter(doc("ראו http://example.com/" + "a" * 200)) == (False, "nemo:urls_ratio")
    assert step.filter(doc("טקסט רגיל בלי קישורים בכלל")) is True


def test_hebrew_letter_share():
    assert hebrew_letter_share("שלום world") == 4 / 9
    f = HebrewLetterShare(QualityConfig(min_hebrew_letter_share=0.6))
    assert f.filter(doc("Breaking news: the market rose today in Tel Aviv. מבזק")) == (False, "hebrew:letter_share")
    assert f.filter(doc("הבורסה עלתה היום ב-3% (TASE)")) is True


def test_pointed_and_traditional_text_judged_on_content_not_form():
    from datatrove.pipeline.filters import FineWebQualityFilter

    from common.sources import aramaic_passages, classical_hebrew_passages
    from curation.normalize import normalize_hebrew

    passages = [p for p in classical_hebrew_passages()[:300] + aramaic_passages()[:300] if len(p.units) >= 3]
    docs = [doc(normalize_hebrew("\n".join(p.units))) for p in passages]
    stock_gq = GopherQualityFilter(
        min_avg_word_length=3,
        max_avg_word_length=9,
        max_non_alpha_words_ratio=0.799,
        stop_words=list(HEBREW_STOP_WORDS),
        language="heb",
    )
    stock_fw = FineWebQualityFilter(line_punct_thr=0.3, new_line_ratio=0.158, language="heb")
    ours_gq, ours_fw = (
        HebrewGopherQuality(GopherQualityConfig(min_doc_words=10)),
        HebrewFineWebQuality(FineWebQualityConfig(line_punct_thr=0.3, new_line_ratio=0.158)),
    )
    stock_kept = sum(stock_gq.filter(d) is True and stock_fw.filter(d) is True for d in docs)
    ours_kept = sum(ours_gq.filter(d) is True and ours_fw.filter(d) is True for d in docs)
    assert stock_kept < 0.3 * len(docs)
    assert ours_kept > 0.7 * len(docs)


def test_sof_pasuq_and_mishnaic_colon_end_lines():
    verses = "\n".join(["וַיֹּאמֶר אֱלֹהִים יְהִי אוֹר וַיְהִי אוֹר׃", "רבי אליעזר אומר הקנאה והתאוה והכבוד:"] * 2)
    fw = HebrewFineWebQuality(FineWebQualityConfig(line_punct_thr=0.3, char_duplicates_ratio=1.0))
    assert fw.filter(doc(verses)) is True


def test_symbol_lines_from_table_layouts_removed_before_filters():
    from datatrove.pipeline.formatters import SymbolLinesFormatter

    text = "06.10.2023 |\nהממשלה החליטה היום על תקציב חדש.\nהשר אמר כי יש צורך בשינוי. | הכי נקראות\n|"
    fw = HebrewFineWebQuality(FineWebQualityConfig(line_punct_thr=0.3, char_duplicates_ratio=1.0, new_line_ratio=1.0))
    assert fw.filter(doc(text)) == (False, "fineweb_quality:line_punct_ratio")
    assert fw.filter(doc(SymbolLinesFormatter().format(text))) is True
