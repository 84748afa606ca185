from datatrove.data import Document

from curation.config import LanguageConfig
from curation.language import LanguageID

YIDDISH = "דער ייִדישער שרײַבער האָט געשריבן אַ נײַעם ראָמאַן וועגן דעם לעבן אין דער אַלטער היים."
ARABIC = "قال رئيس الوزراء اليوم إن الحكومة ستناقش الاقتراح في الأسبوع المقبل."


def test_hebrew_kept_others_dropped_with_their_label(news_docs):
    lid = LanguageID()
    for text in news_docs[:20]:
        d = Document(text=text, id="x")
        assert lid.filter(d) is True
        assert d.metadata["lang"] == "he" and d.metadata["lang_score"] > 0.9
    assert lid.filter(Document(text=YIDDISH, id="y")) == (False, "language:yi")
    assert lid.filter(Document(text=ARABIC, id="a")) == (False, "language:ar")
    assert lid.filter(Document(text="The government will discuss the proposal.", id="e")) == (False, "language:en")


def test_low_hebrew_score_is_its_own_reason():
    lid = LanguageID(LanguageConfig(threshold=0.99))
    mixed = "שלום hello world this is mostly english with a little עברית"
    keep, reason = lid.filter(Document(text=mixed, id="m"))
    assert not keep and reason in ("language:en", "language:he_low_score")


def test_model_path_error_is_clear(tmp_path, monkeypatch):
    import pytest

    monkeypatch.setenv("HEBATRON_LID_MODEL", str(tmp_path / "missing.ftz"))
    with pytest.raises(FileNotFoundError, match="make setup"):
        LanguageID()
