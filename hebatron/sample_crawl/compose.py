"""Turn source text into page bodies: a headline plus paragraphs, for every kind of page.

News articles are consecutive runs of HTB train sentences (the crawl half of the train split, which the
default reference LM never saw; in treebank order, so they read as the original Haaretz pieces) and, once
those run out, new combinations of sentences. A pair register keeps any two generated bodies from sharing
more than one sentence, so unrelated pages never become accidental near-duplicates of each other: the one
sentence two articles may share has at most 30 words, and every article has at least 180, so it is well
under 30% of either article's 5-word shingles (measured: at most ~16%). The crawl half's ~2,400 sentences
hold enough pairs for about 3,500 news articles (measured: none shares two sentences at 3,500, a few hundred
pairs repeat at 4,000); larger crawls reuse pairs.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import numpy as np

MIN_SENTENCES, MAX_SENTENCES = 8, 25
MIN_ARTICLE_WORDS = 180
MAX_SHARED_WORDS = 30


@dataclass(frozen=True, slots=True)
class Body:
    headline: str
    paragraphs: tuple[str, ...]


class PairRegister:
    """Draws subsets of a pool so that no pair of items is ever drawn together twice.

    Two drawn subsets therefore share at most one item. When a pool is too small for that (our
    hand-written Yiddish and Arabic sentences), it falls back to avoiding repeats inside a subset.
    Items outside ``allowed`` (if given) are never drawn, though they may be registered.
    """

    def __init__(self, pool_size: int, allowed: np.ndarray | None = None) -> None:
        self.pool_size = pool_size
        self._used = np.zeros((pool_size, pool_size), dtype=bool)
        self._allowed = np.ones(pool_size, dtype=bool) if allowed is None else allowed

    def register(self, items: list[int] | tuple[int, ...]) -> None:
        idx = np.asarray(items)
        self._used[np.ix_(idx, idx)] = True

    def draw(self, k: int, rng: random.Random, lengths: list[int] | None = None, min_total: int = 0) -> list[int]:
        """``k`` distinct items (more while their ``lengths`` sum below ``min_total``), then registered."""
        taken = ~self._allowed
        available = int(self._allowed.sum())
        blocked = np.zeros(self.pool_size, dtype=bool)
        chosen: list[int] = []
        total = 0
        while len(chosen) < min(k, available) or (total < min_total and len(chosen) < min(2 * k, available)):
            free = np.flatnonzero(~(blocked | taken))
            if free.size == 0:
                free = np.flatnonzero(~taken)
            item = int(free[rng.randrange(free.size)])
            chosen.append(item)
            taken[item] = True
            blocked |= self._used[item]
            total += lengths[item] if lengths else 0
        self.register(chosen)
        return chosen


def plan_news_articles(sentences: list[str], n: int, rng: random.Random) -> list[tuple[int, ...]]:
    """``n`` articles as tuples of sentence indices: consecutive runs first, then new combinations.

    Every article has at least ``MIN_ARTICLE_WORDS`` words, and new combinations use only sentences of
    at most ``MAX_SHARED_WORDS`` words, so the one sentence two articles may share stays a small part of each.
    """
    lengths = [len(s.split()) for s in sentences]
    runs: list[tuple[int, ...]] = []
    i = 0
    while i < len(sentences):
        end = min(i + rng.randint(MIN_SENTENCES, MAX_SENTENCES), len(sentences))
        while end < len(sentences) and sum(lengths[i:end]) < MIN_ARTICLE_WORDS:
            end += 1
        if sum(lengths[i:end]) >= MIN_ARTICLE_WORDS and end - i >= MIN_SENTENCES:
            runs.append(tuple(range(i, end)))
        i = end
    register = PairRegister(len(sentences), np.array([n_words <= MAX_SHARED_WORDS for n_words in lengths]))
    articles = sorted(rng.sample(runs, n)) if n <= len(runs) else list(runs)
    for run in articles:
        register.register(run)
    while len(articles) < n:
        k = rng.randint(MIN_SENTENCES, MAX_SENTENCES)
        articles.append(tuple(register.draw(k, rng, lengths, MIN_ARTICLE_WORDS)))
    return articles


def split_paragraphs(units: list[str], rng: random.Random, lo: int = 2, hi: int = 5) -> tuple[str, ...]:
    paras, i = [], 0
    while i < len(units):
        size = rng.randint(lo, hi)
        paras.append(" ".join(units[i : i + size]))
        i += size
    return tuple(paras)


_TRAILING = re.compile(r"[\s.,:;!?\-–—]+$")
_QUOTE = re.compile('(?<![\u05d0-\u05ea])"|"(?![\u05d0-\u05ea])')  # a quotation mark, not gershayim


def headline_from(sentence: str, max_words: int = 9) -> str:
    """A headline cut from a sentence: at most ``max_words`` words, no final punctuation, balanced quotes."""
    words = sentence.split()[:max_words]
    text = _TRAILING.sub("", " ".join(words))
    if len(_QUOTE.findall(text)) % 2:
        text = text[1:] if text.startswith('"') else text + '"'
    return text


def news_body(sentences: list[str], article: tuple[int, ...], rng: random.Random) -> Body:
    units = [sentences[j] for j in article]
    return Body(headline_from(units[0]), split_paragraphs(units, rng))


def pool_body(
    pool: tuple[str, ...], register: PairRegister, rng: random.Random, n: tuple[int, int], *, paragraphs: bool
) -> Body:
    """A page of ``n`` sentences (Yiddish, Arabic) or whole ``paragraphs`` (English) drawn from a pool."""
    units = [pool[j] for j in register.draw(rng.randint(*n), rng)]
    if paragraphs:
        return Body(headline_from(units[0], 7), tuple(units))
    return Body(headline_from(units[0], 6), split_paragraphs(units, rng, 2, 4))


def passage_body(title: str, units: tuple[str, ...], rng: random.Random) -> Body:
    per = 1 if max(len(u.split()) for u in units) > 40 else 3
    return Body(title, split_paragraphs(list(units), rng, per, per + 1))


# ---- Hebrew spam -----------------------------------------------------------------------------

SPAM_KEYWORDS = (
    "הלוואות מהירות",
    "הלוואה ללא ערבים",
    "משכנתא בריבית נמוכה",
    "ביטוח רכב זול",
    "קזינו אונליין",
    "הימורי ספורט",
    "מנעולן 24 שעות",
    "דירות למכירה במרכז",
    "השתלות שיניים במבצע",
    "הובלות דירה זול",
    "ירידה מהירה במשקל",
    "טיסות זולות לאילת",
    "קידום אתרים בגוגל",
    "ניקוי ספות עד הבית",
)
_CITIES = ("תל אביב", "ירושלים", "חיפה", "באר שבע", "ראשון לציון", "פתח תקווה", "נתניה", "אשדוד")
_STUFFING = (
    "{kw} – {kw} במחיר הכי משתלם בישראל!",
    "מחפשים {kw}? אצלנו תמצאו {kw} מהיום להיום, {kw} בלי בירוקרטיה.",
    "{kw} | {kw2} | {kw} אונליין | {kw} ללא התחייבות | {kw2} עכשיו",
    "לפרטים על {kw} התקשרו עכשיו: 050-{phone}. {kw} בזמינות מיידית.",
    "{kw} {city}, {kw} {city2}, {kw} {city3} – {kw} בכל הארץ.",
    "הכי טוב ב{kw}? רק אצלנו! {kw2}, {kw}, {kw2} ועוד.",
)
PROMO_LINES = (
    "לחצו כאן לקבלת הצעת מחיר חינם!",
    "המבצע בתוקף עד גמר המלאי.",
    "הירשמו עכשיו וקבלו 50% הנחה על ההזמנה הראשונה.",
    "שירות מהיר, אמין ומקצועי – 24 שעות ביממה.",
    "הצטרפו לאלפי לקוחות מרוצים.",
    "משלוח חינם לכל הארץ.",
    "אל תחמיצו! מספר המקומות מוגבל.",
    "צרו קשר עוד היום ותקבלו מתנה.",
)
NEAR_EMPTY_LINES = (
    "הדף בבנייה, חזרו בקרוב.",
    "לא נמצאו תוצאות לחיפוש שלך.",
    "התוכן זמין למנויים בלבד. התחברו כדי להמשיך לקרוא.",
    "הכתבה הוסרה מהאתר.",
    "טוען…",
    "הדף שחיפשת אינו קיים.",
)


def spam_keywords_body(rng: random.Random) -> Body:
    kws = rng.sample(SPAM_KEYWORDS, 3)
    lines = []
    for _ in range(rng.randint(6, 14)):
        kw, kw2 = rng.sample(kws, 2)
        c1, c2, c3 = rng.sample(_CITIES, 3)
        lines.append(
            rng.choice(_STUFFING).format(
                kw=kw, kw2=kw2, city=c1, city2=c2, city3=c3, phone=f"{rng.randrange(10**7):07d}"
            )
        )
    lines.append(", ".join(f"{kw} {c}" for kw in kws for c in _CITIES))
    return Body(" | ".join(kws), tuple(lines))


def word_salad_body(words: tuple[str, ...], rng: random.Random) -> Body:
    paras = []
    for _ in range(rng.randint(4, 8)):
        chunk = [rng.choice(words) for _ in range(rng.randint(25, 60))]
        for _ in range(rng.randint(0, 3)):  # a few stray full stops, no sentence structure
            pos = rng.randrange(len(chunk))
            chunk[pos] += "."
        paras.append(" ".join(chunk))
    return Body(" ".join(rng.choice(words) for _ in range(rng.randint(3, 6))), tuple(paras))


def repeated_lines_body(rng: random.Random) -> Body:
    lines = rng.sample(PROMO_LINES, rng.randint(1, 3))
    return Body(lines[0].rstrip("!."), tuple(lines * rng.randint(15, 50)))


def near_empty_body(rng: random.Random) -> Body:
    return Body("", (rng.choice(NEAR_EMPTY_LINES),))
