"""Which pages the sample crawl holds: kinds, sites, URLs, duplicate groups and variants.

A plan is a list of small ``PageSpec``s (no text); ``build`` renders each one while writing, so a
crawl of 20k+ pages never sits in memory.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from common import sources
from hebatron.sample_crawl import compose, variants
from hebatron.sample_crawl.compose import Body
from hebatron.sample_crawl.pages import (
    ARABIC_SITE,
    ENGLISH_SITE,
    NEWS_SITES,
    SPAM_SITES,
    TORAH_SITES,
    YIDDISH_SITE,
    Charset,
    Site,
)

KINDS = (
    "news",
    "near_duplicate",
    "exact_duplicate",
    "yiddish",
    "arabic",
    "english",
    "aramaic",
    "classical_hebrew",
    "spam_keywords",
    "spam_word_salad",
    "spam_repeated_lines",
    "spam_near_empty",
)
# Pages of each kind per news page (news itself is n_news): ~67% news, ~10% copies, 3% per language
# confounder, 8% spam.
RATIOS = {
    "near_duplicate": 0.10,
    "exact_duplicate": 0.05,
    "yiddish": 0.045,
    "arabic": 0.045,
    "english": 0.045,
    "aramaic": 0.045,
    "classical_hebrew": 0.045,
    "spam_keywords": 0.03,
    "spam_word_salad": 0.03,
    "spam_repeated_lines": 0.03,
    "spam_near_empty": 0.03,
}
EXPECTED = {k: "keep" if k in ("news", "aramaic", "classical_hebrew") else "drop" for k in KINDS}
NEAR_VARIANTS = ("gershayim", "bidi_marks", "presentation_forms", "word_edits", "boilerplate", "windows-1255")
N_NEWS_RANGE = range(10, 30_001)
NEWS_SITE_LIST = [s for s, _ in NEWS_SITES]
_NEWS_WEIGHTS = [w for _, w in NEWS_SITES]


@dataclass(slots=True)
class PageSpec:
    kind: str
    site: Site
    url: str
    key: int  # seeds the page's rendering; copies rendered "identically" reuse their original's key
    item: int = 0  # article / pool index
    charset: Charset = "utf-8"
    dup_group: str | None = None
    variant: str | None = None
    published: str = ""
    extra: dict = field(default_factory=dict)


def _counts(n_news: int) -> dict[str, int]:
    return {"news": n_news} | {k: max(1, round(r * n_news)) for k, r in RATIOS.items()}


def _date(rng: random.Random) -> datetime:
    return datetime(2023, 1, 1) + timedelta(minutes=rng.randrange(60 * 24 * 480))


def _fmt(d: datetime) -> str:
    return d.strftime("%d.%m.%Y %H:%M")


class Planner:
    def __init__(self, n_news: int, seed: int) -> None:
        self.rng = random.Random(f"hebatron-sample-crawl:{seed}")
        self.seed = seed
        self.counts = _counts(n_news)
        self.sentences = [s.text for s in sources.htb_sentences("train", half="crawl")]
        self.articles = compose.plan_news_articles(self.sentences, n_news, self.rng)
        self.passages: dict[str, list[sources.Passage]] = {}
        for kind, loader in (
            ("aramaic", sources.aramaic_passages),
            ("classical_hebrew", sources.classical_hebrew_passages),
        ):
            pool = loader()
            picks = self.rng.sample(range(len(pool)), min(len(pool), self.counts[kind]))
            self.passages[kind] = [pool[i] for i in picks]
        n_pages = sum(self.counts.values())
        self._numbers = iter(self.rng.sample(range(100_000, 100_000 + 40 * n_pages), n_pages))
        self.specs: list[PageSpec] = []

    def _url(self, site: Site, section: str | None) -> tuple[str, int]:
        number = next(self._numbers)
        section = section or site.sections[number % len(site.sections)]
        return f"https://{site.domain}/{section}/article-{number}", number

    def _section(self, kind: str, item: int) -> str | None:
        if kind == "aramaic":
            return "zohar"
        if kind == "classical_hebrew":
            return (
                "mishnah" if self.passages[kind][item % len(self.passages[kind])].title.startswith("משנה") else "tanakh"
            )
        return None

    def add(self, kind: str, site: Site, item: int = 0, **kw) -> PageSpec:
        url, number = self._url(site, self._section(kind, item))
        spec = PageSpec(kind, site, url, number, item, site.charset, **kw)
        self.specs.append(spec)
        return spec

    def plan(self) -> list[PageSpec]:
        rng = self.rng
        news = [
            self.add("news", rng.choices(NEWS_SITE_LIST, _NEWS_WEIGHTS)[0], i, published=_fmt(_date(rng)))
            for i in range(self.counts["news"])
        ]
        for j, i in enumerate(rng.sample(range(len(news)), self.counts["near_duplicate"])):
            self._near_copy(news[i], NEAR_VARIANTS[j % len(NEAR_VARIANTS)])
        for i in rng.sample(range(len(news)), self.counts["exact_duplicate"]):
            self._exact_copy(news[i])
        for kind, sites in (
            ("yiddish", [YIDDISH_SITE]),
            ("arabic", [ARABIC_SITE]),
            ("english", [ENGLISH_SITE]),
            ("aramaic", TORAH_SITES),
            ("classical_hebrew", TORAH_SITES),
            ("spam_keywords", SPAM_SITES),
            ("spam_word_salad", SPAM_SITES),
            ("spam_repeated_lines", SPAM_SITES),
            ("spam_near_empty", NEWS_SITE_LIST + list(SPAM_SITES)),
        ):
            for i in range(self.counts[kind]):
                self.add(kind, rng.choice(sites), i, published=_fmt(_date(rng)))
        rng.shuffle(self.specs)
        urls = {s.url for s in self.specs}
        if len(urls) != len(self.specs):
            raise AssertionError("sample crawl planned two pages with the same URL")
        return self.specs

    def _group(self, original: PageSpec) -> str:
        original.dup_group = original.dup_group or f"dup-{original.key}"
        return original.dup_group

    def _near_copy(self, original: PageSpec, variant: str) -> None:
        body = self.body(original)
        if variant == "windows-1255" and original.charset == "windows-1255":
            variant = "boilerplate"
        if variant in variants.TEXT_VARIANTS and not variants.applicable(variant, body):
            variant = "word_edits"
        if variant == "boilerplate":
            site = self.rng.choice(
                [s for s in NEWS_SITE_LIST if s.layout != original.site.layout and s.charset == original.charset]
            )
        elif variant == "windows-1255":
            site = self.rng.choice([s for s in NEWS_SITE_LIST if s.charset == "windows-1255"])
        else:
            site = original.site
        spec = self.add(
            "near_duplicate",
            site,
            original.item,
            dup_group=self._group(original),
            variant=variant,
            published=original.published,
        )
        if site == original.site:  # a re-publication on the same CMS: AMP, print or mobile address
            path = original.url.split("/", 3)[3]
            spec.extra["canonical"] = "/" + path
            spec.url = self.rng.choice(
                (
                    f"https://{site.domain}/amp/{path}",
                    f"https://{site.domain}/{path}?page=all",
                    f"https://{site.domain}/print/{path}",
                )
            )
        if variant == "boilerplate":
            published = datetime.strptime(original.published, "%d.%m.%Y %H:%M")
            spec.extra["updated"] = _fmt(published + timedelta(minutes=self.rng.randrange(20, 600)))

    def _exact_copy(self, original: PageSpec) -> None:
        same_template = self.rng.random() < 0.5
        site = original.site if same_template else self.rng.choice([s for s in NEWS_SITE_LIST if s != original.site])
        spec = self.add(
            "exact_duplicate",
            site,
            original.item,
            dup_group=self._group(original),
            variant="exact",
            published=original.published,
        )
        if same_template:  # the same bytes under another address
            spec.key = original.key
            path = original.url.split("/", 3)[3]
            spec.extra["canonical"] = "/" + path
            spec.url = self.rng.choice(
                (
                    f"http://{site.domain}/{path}",
                    f"https://{site.domain}/{path}?utm_source=facebook",
                    f"https://{site.domain.removeprefix('www.')}/{path}?ref=rss",
                )
            )

    def body(self, spec: PageSpec) -> Body:
        """The original body of a news article (paragraphing seeded by the article, so copies agree)."""
        rng = random.Random(f"{self.seed}:article:{spec.item}")
        return compose.news_body(self.sentences, self.articles[spec.item], rng)
