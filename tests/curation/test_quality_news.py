"""Short real news passes the quality filters; spam, boilerplate, word lists and foreign text are still dropped.

News: 3-6 consecutive HTB train sentences with a dateline, dates, quotes, numbers, Latin acronyms and
geresh/gershayim. The stop-word rule used to drop ~2% of them (`שלא`, `והוא` did not count as `לא`, `הוא`, and
FineWeb-2's 15-word list misses most closed-class words).
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from datatrove.data import Document

from common.sources import english_paragraphs, hebrew_words, htb_sentences
from curation.quality import (
    HEBREW_STOP_WORDS,
    HebrewFineWebQuality,
    HebrewGopherQuality,
    HebrewGopherRepetition,
    HebrewLetterShare,
    stop_word_forms,
)

SEED = 11  # not the seed the rule was debugged on
DATELINES = ("באר שבע, {d} –", "{d} | 09:15", "נתניה ({d}):", "פורסם ב-{d}")
EXTRAS = (
    'לדברי דובר צה"ל, "האירוע נבדק".',
    'לפי דו"ח ה-IMF, הצמיחה הגיעה ל-{p}%.',
    "ג'ורג' לוי, יו\"ר הוועד, אמר כי הישיבה תתקיים ב-{d}.",
    'העלות נאמדת ב-{n} ש"ח.',
    'ראש העירייה אמר: "נמשיך לפעול".',
)


def news(rng: random.Random, sents: list[str]) -> str:
    k = rng.randint(3, 6)
    i = rng.randrange(len(sents) - k)
    body = sents[i : i + k]
    d = f"{rng.randint(1, 28)}.{rng.randint(1, 12)}.{rng.randint(1995, 2024)}"
    for _ in range(rng.randint(0, 2)):
        extra = rng.choice(EXTRAS).format(d=d, p=rng.randint(1, 40), n=f"{rng.randint(2, 900)},000")
        body.insert(rng.randint(0, len(body)), extra)
    return (
        rng.choice(DATELINES).format(d=d) + " " + "\n".join(" ".join(body[j : j + 2]) for j in range(0, len(body), 2))
    )


def negatives(rng: random.Random, n: int) -> list[tuple[str, str]]:
    words = list(hebrew_words(5000))
    english = list(english_paragraphs())
    menu = ["ראשי", "חדשות", "ספורט", "כלכלה", "צור קשר", "תנאי שימוש", "התחברות", "הרשמה", "מדיניות פרטיות"]
    ads = ["הלוואות", "מהירות", "זולות", "ביטוח", "רכב", "מבצע", "הנחה", "עכשיו", "חינם", "משלוח"]
    out = []
    for j in range(n):
        kind = ("spam", "boilerplate", "word_list", "foreign")[j % 4]
        if kind == "spam":
            text = "\n".join(" ".join(rng.choices(ads, k=8)) for _ in range(rng.randint(8, 20)))
        elif kind == "boilerplate":
            lines = [" | ".join(rng.sample(menu, 5)) for _ in range(rng.randint(6, 14))]
            text = "\n".join(lines + [f"כל הזכויות שמורות © {rng.randint(2000, 2024)}"])
        elif kind == "word_list":
            sep = rng.choice([" ", "\n", ", "])
            text = sep.join(rng.sample(words, rng.randint(60, 200)))
        else:
            text = "כותרת בעברית\n" + "\n".join(rng.sample(english, 3))
        out.append((kind, text))
    return out


def verdict(text: str, steps) -> str:
    for step in steps:
        result = step.filter(Document(text=text, id="x"))
        if result is not True:
            return result[1] if isinstance(result, tuple) else "dropped"
    return "kept"


@pytest.fixture(scope="module")
def steps():
    return [HebrewGopherRepetition(), HebrewFineWebQuality(), HebrewGopherQuality(), HebrewLetterShare()]


def test_prefixed_stop_words_count_as_stop_words():
    forms = stop_word_forms(HEBREW_STOP_WORDS)
    assert {"שלא", "והוא", "וכשהיא", "ועל"} <= forms
    assert not {"ובית", "שלום", "הלא", "בעל"} & forms  # not a clitic + a stop word
    gq = HebrewGopherQuality()
    assert {"שלא", "והוא"} <= gq.stop_words and gq.min_stop_words == 2


def test_short_real_news_passes_and_junk_is_still_dropped(steps):
    rng = random.Random(SEED)
    sents = [s.text for s in htb_sentences("train")]
    docs = [news(rng, sents) for _ in range(200)]
    long_enough = [d for d in docs if len(d.split()) >= 60]  # shorter ones may fall under Gopher's 50 words
    reasons = Counter(verdict(d, steps) for d in long_enough)
    stop_or_alpha = reasons["gopher_quality:enough_stop_words"] + reasons["gopher_quality:below_alpha_threshold"]
    assert stop_or_alpha == 0, reasons
    assert reasons["kept"] / len(long_enough) >= 0.97, reasons

    junk = negatives(random.Random(SEED), 200)
    kept = Counter(kind for kind, text in junk if verdict(text, steps) == "kept")
    assert sum(kept.values()) == 0, kept  # as before the change: every one of them dropped
