"""Resiliparse extraction keeps the article and drops link lists and labels, on table and modern layouts."""

from __future__ import annotations

import pytest

from curation.config import ExtractConfig
from curation.extract import HtmlExtractor, resiliparse_text

ARTICLE = [
    "ראש הממשלה הודיע אתמול כי הממשלה תדון בשבוע הבא בתוכנית החדשה לחיזוק מערכת הבריאות בצפון.",
    "לדבריו, התוכנית תכלול הקמת שני בתי חולים חדשים ותגבור של מאות רופאים ואחיות בשנים הקרובות.",
]
LINKS = ["שר האוצר הציג את התקציב החדש לשנה הבאה", "מזג האוויר: גשם צפוי בסוף השבוע בצפון הארץ"]


def table_page() -> str:
    side = "".join(f'<tr><td><a href="/a/{i}">{t}</a></td></tr>' for i, t in enumerate(LINKS))
    return (
        '<html dir="rtl"><body><table id="top"><tr><td><a href="/">עיתונט</a></td><td>25.06.2023</td></tr></table>'
        '<div id="menu"><a href="/">ראשי</a> | <a href="/news/">חדשות</a> | <a href="/sport/">ספורט</a></div>'
        '<table><tr><td id="main"><h2>הממשלה תדון בתוכנית הבריאות</h2><div class="txt">'
        + "<br><br>\n".join(ARTICLE)
        + f'</div></td><td id="side"><b>הכי נקראות</b><table>{side}</table></td></tr></table></body></html>'
    )


def portal_page() -> str:
    items = "".join(f'<li><a href="/a/{i}">{t}</a></li>' for i, t in enumerate(LINKS))
    paras = "".join(f"<p>{p}</p>" for p in ARTICLE)
    return (
        '<html dir="rtl"><body><header><nav><ul><li><a href="/">ראשי</a></li><li><a href="/x/">כלכלה</a></li>'
        f"</ul></nav></header><main><article><h1>הממשלה תדון בתוכנית הבריאות</h1>{paras}"
        f'<div class="ad">פרסומת</div></article><aside><h3>עוד כתבות</h3><ul>{items}</ul></aside></main>'
        "<footer>כל הזכויות שמורות</footer></body></html>"
    )


@pytest.mark.parametrize("page", [table_page, portal_page])
def test_article_kept_links_and_labels_dropped(page):
    lines = resiliparse_text(page()).split("\n")
    assert "הממשלה תדון בתוכנית הבריאות" in lines
    assert all(p in lines for p in ARTICLE)
    text = "\n".join(lines)
    assert not any(link in text for link in LINKS)
    assert "פרסומת" not in text and "הכי נקראות" not in text and "חדשות" not in text


def test_extractor_choice_comes_from_the_config():
    assert HtmlExtractor().extractor == "resiliparse"
    assert HtmlExtractor(ExtractConfig(extractor="trafilatura")).extractor == "trafilatura"
    with pytest.raises(ValueError, match="extract.extractor"):
        ExtractConfig(extractor="jusText")
