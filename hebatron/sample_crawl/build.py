"""Render the planned pages and stream them into ``crawl.warc.gz`` and ``labels.jsonl``."""

from __future__ import annotations

import hashlib
import io
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import sources
from common.files import atomic_write
from common.progress import progress_bar
from hebatron.sample_crawl import compose, variants
from hebatron.sample_crawl.compose import Body
from hebatron.sample_crawl.pages import Page, encode, render
from hebatron.sample_crawl.plan import EXPECTED, N_NEWS_RANGE, NEWS_SITE_LIST, PageSpec, Planner

CRAWL_START = datetime(2024, 5, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SampleCrawl:
    """What ``build_sample_crawl`` wrote."""

    warc_path: Path
    labels_path: Path
    counts: dict[str, int]  # pages per kind

    @property
    def n_pages(self) -> int:
        return sum(self.counts.values())


class _Renderer:
    """Turns specs into HTML; keeps only small pools and registers in memory."""

    def __init__(self, planner: Planner) -> None:
        self.p = planner
        self.seed = planner.seed
        self.vocabulary = tuple(sorted({w for s in planner.sentences for w in s.split() if w.isalpha()}))
        self.pools = {
            "yiddish": sources.hand_written("yiddish"),
            "arabic": sources.hand_written("arabic"),
            "english": sources.english_paragraphs(),
        }
        self.registers = {k: compose.PairRegister(len(v)) for k, v in self.pools.items()}
        self.passages = planner.passages
        self.words = sources.hebrew_words()

    def body(self, spec: PageSpec, rng: random.Random) -> Body:
        kind = spec.kind
        if kind == "news":
            return self.p.body(spec)
        if kind == "exact_duplicate":
            return self.p.body(spec)
        if kind == "near_duplicate":
            body = self.p.body(spec)
            fn = variants.TEXT_VARIANTS.get(spec.variant)
            if fn is variants.word_edits:
                return fn(body, rng, self.vocabulary)
            return fn(body, rng) if fn else body
        if kind in self.pools:
            english = kind == "english"
            n = (3, 6) if english else (5, 10)
            return compose.pool_body(self.pools[kind], self.registers[kind], rng, n, paragraphs=english)
        if kind in self.passages:
            passages = self.passages[kind]
            passage = passages[spec.item % len(passages)]
            return compose.passage_body(passage.title, passage.units, rng)
        if kind == "spam_keywords":
            return compose.spam_keywords_body(rng)
        if kind == "spam_word_salad":
            return compose.word_salad_body(self.words, rng)
        if kind == "spam_repeated_lines":
            return compose.repeated_lines_body(rng)
        return compose.near_empty_body(rng)

    def links(self, spec: PageSpec, rng: random.Random) -> list[tuple[str, str]]:
        """Titles for "most read"/"related" lists: other articles of the same site family."""
        out = []
        for _ in range(rng.randint(6, 10)):
            if (
                spec.kind in ("news", "near_duplicate", "exact_duplicate", "spam_near_empty")
                and spec.site in NEWS_SITE_LIST
            ):
                j = rng.randrange(len(self.p.articles))
                title = compose.headline_from(self.p.sentences[self.p.articles[j][0]])
            elif spec.kind in self.pools:
                title = compose.headline_from(rng.choice(self.pools[spec.kind]), 6)
            elif spec.kind in self.passages:
                title = rng.choice(self.passages[spec.kind]).title
            else:
                title = " ".join(rng.sample(compose.SPAM_KEYWORDS, 2))
            out.append((title, f"/{rng.choice(spec.site.sections)}/article-{rng.randrange(100_000, 999_999)}"))
        return out

    def html(self, spec: PageSpec) -> str:
        rng = random.Random(f"{self.seed}:page:{spec.key}")
        body = self.body(spec, rng)
        path = spec.extra.get("canonical") or "/" + spec.url.split("/", 3)[3]
        page = Page(
            spec.site,
            path,
            body.headline,
            body.paragraphs,
            spec.published,
            spec.extra.get("updated"),
            self.links(spec, rng),
            spec.kind == "spam_near_empty",
        )
        return render(page, spec.charset, rng)


def _record_id(seed: int, what: str) -> str:
    digest = hashlib.sha256(f"hebatron-sample-crawl:{seed}:{what}".encode()).digest()
    return f"<urn:uuid:{uuid.UUID(bytes=digest[:16], version=4)}>"


def _http_headers(body: bytes, charset: str, when: datetime, rng: random.Random):
    from warcio.statusandheaders import StatusAndHeaders

    return StatusAndHeaders(
        "200 OK",
        [
            ("Date", when.strftime("%a, %d %b %Y %H:%M:%S GMT")),
            ("Server", rng.choice(("nginx", "Apache", "cloudflare", "Microsoft-IIS/8.5"))),
            ("Content-Type", f"text/html; charset={charset}"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "max-age=60"),
        ],
        protocol="HTTP/1.1",
    )


def build_sample_crawl(out_dir: Path, *, n_news: int = 300, seed: int = 0, progress: bool = False) -> SampleCrawl:
    """Write ``out_dir/crawl.warc.gz`` and ``out_dir/labels.jsonl``; byte-identical for a given seed.

    ``n_news`` sets the number of news pages; every other kind scales with it (see ``RATIOS``).
    """
    if n_news not in N_NEWS_RANGE:
        raise ValueError(
            f"n_news={n_news}: the sample crawl supports {N_NEWS_RANGE.start}..{N_NEWS_RANGE.stop - 1} "
            "news pages (the crawl half of HTB's train split cannot make more unrelated articles)"
        )
    from warcio.warcwriter import WARCWriter

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    planner = Planner(n_news, seed)
    specs = planner.plan()
    renderer = _Renderer(planner)
    warc_path, labels_path = out_dir / "crawl.warc.gz", out_dir / "labels.jsonl"
    # written under temporary names and renamed at the end: a reader never sees half a crawl
    with progress_bar(progress) as start, atomic_write(warc_path, "wb") as wf, atomic_write(labels_path) as lf:
        advance = start("sample crawl", len(specs))
        writer = WARCWriter(wf, gzip=True, warc_version="1.1")
        _write_warcinfo(writer, seed, n_news)
        for i, spec in enumerate(specs):
            record_id = _record_id(seed, f"page:{i}")
            when = CRAWL_START + timedelta(seconds=7 * i)
            payload = encode(renderer.html(spec), spec.charset)
            rng = random.Random(f"{seed}:http:{i}")
            record = writer.create_warc_record(
                spec.url,
                "response",
                payload=io.BytesIO(payload),
                length=len(payload),
                http_headers=_http_headers(payload, spec.charset, when, rng),
                warc_headers_dict={
                    "WARC-Record-ID": record_id,
                    "WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "WARC-IP-Address": f"192.0.2.{sum(spec.site.domain.encode()) % 250 + 1}",
                },
            )
            writer.write_record(record)
            lf.write(
                json.dumps(
                    {
                        "record_id": record_id,
                        "url": spec.url,
                        "kind": spec.kind,
                        "expected": EXPECTED[spec.kind],
                        "charset": spec.charset,
                        "dup_group": spec.dup_group,
                        "variant": spec.variant,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
            advance(1)
    return SampleCrawl(warc_path, labels_path, dict(planner.counts))


def _write_warcinfo(writer, seed: int, n_news: int) -> None:
    info = {
        "software": "hebatron.sample_crawl",
        "format": "WARC File Format 1.1",
        "description": f"synthetic labelled Hebrew crawl, seed={seed}, n_news={n_news}",
    }
    info |= {f"source-{k}": v for k, v in sources.provenance().items()}
    record = writer.create_warcinfo_record("crawl.warc.gz", info)
    record.rec_headers.replace_header("WARC-Record-ID", _record_id(seed, "warcinfo"))
    record.rec_headers.replace_header("WARC-Date", CRAWL_START.strftime("%Y-%m-%dT%H:%M:%SZ"))
    writer.write_record(record)
