"""The sample crawl: deterministic, labels aligned with the WARC, honest charsets, no HTB dev/test text."""

from __future__ import annotations

import collections
import difflib
import hashlib
import html
import json
import random
import re
import unicodedata
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from common.sources import htb_train_sentences, unreverse_numbers
from hebatron.sample_crawl import EXPECTED, KINDS, build_sample_crawl
from hebatron.sample_crawl.compose import NEAR_EMPTY_LINES, Body, PairRegister
from hebatron.sample_crawl.variants import TEXT_VARIANTS, word_edits
from tests.htb_split import held_out_htb

LABEL_KEYS = ["record_id", "url", "kind", "expected", "charset", "dup_group", "variant"]
HEBREW = re.compile("[\u05d0-\u05ea]{3,}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    return build_sample_crawl(tmp_path_factory.mktemp("crawl"))


@pytest.fixture(scope="module")
def pages(crawl):
    """(label, warc record headers, http Content-Type, payload bytes) for every response record."""
    labels = [json.loads(line) for line in crawl.labels_path.read_text(encoding="utf-8").splitlines()]
    records = []
    with crawl.warc_path.open("rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type == "response":
                records.append(
                    (
                        rec.rec_headers,
                        rec.http_headers.get_header("Content-Type"),
                        rec.content_stream().read(),
                    )
                )
    assert len(labels) == len(records)
    return [(label, *rec) for label, rec in zip(labels, records, strict=False)]


def _text(page_bytes: bytes, charset: str) -> str:
    """Visible text of a page, folded the way dedup would fold it (NFKC, no marks, no bidi controls)."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", page_bytes.decode(charset)))
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if unicodedata.category(c) not in ("Mn", "Cf"))


def test_build_is_byte_identical_for_a_seed(crawl, tmp_path):
    again = build_sample_crawl(tmp_path / "again")
    assert _sha256(again.warc_path) == _sha256(crawl.warc_path)
    assert _sha256(again.labels_path) == _sha256(crawl.labels_path)
    other = build_sample_crawl(tmp_path / "other", n_news=50, seed=1)
    assert _sha256(other.labels_path) != _sha256(crawl.labels_path)


def test_labels_match_warc_records_one_to_one(crawl, pages):
    ids, urls = set(), set()
    for label, rec_headers, content_type, payload in pages:
        assert list(label) == LABEL_KEYS
        assert label["record_id"] == rec_headers.get_header("WARC-Record-ID")
        assert label["url"] == rec_headers.get_header("WARC-Target-URI")
        assert re.fullmatch(r"<urn:uuid:[0-9a-f-]{36}>", label["record_id"])
        assert label["expected"] == EXPECTED[label["kind"]]
        assert content_type == f"text/html; charset={label['charset']}"
        assert payload.startswith(b"<!DOCTYPE html>")
        ids.add(label["record_id"])
        urls.add(label["url"])
    assert len(ids) == len(urls) == len(pages) == crawl.n_pages


def test_every_kind_present_at_default_size(crawl, pages):
    counts = collections.Counter(label["kind"] for label, *_ in pages)
    assert set(counts) == set(KINDS)
    assert dict(counts) == crawl.counts
    assert counts["news"] == 300


def test_windows_1255_pages_are_really_encoded_so(pages):
    legacy = [(label, payload) for label, _, _, payload in pages if label["charset"] == "windows-1255"]
    news = [label for label, *_ in pages if label["kind"] == "news"]
    assert 0.08 <= sum(label["kind"] == "news" for label, _ in legacy) / len(news) <= 0.25
    for label, payload in legacy:
        with pytest.raises(UnicodeDecodeError):
            payload.decode("utf-8")
        text = payload.decode("windows-1255")
        assert 'charset=windows-1255">' in text
        if label["kind"] == "spam_near_empty":  # a menu, a footer and one line by design: that line, in Hebrew
            assert any(html.escape(line, quote=False) in text for line in NEAR_EMPTY_LINES), label["url"]
        else:
            assert len(HEBREW.findall(text)) > 20, label["url"]


def test_duplicate_groups_have_one_kept_original(pages):
    groups = collections.defaultdict(list)
    for label, _, _, payload in pages:
        if label["dup_group"] is not None:
            groups[label["dup_group"]].append((label, payload))
    assert groups
    variants = collections.Counter()
    for members in groups.values():
        kept = [label for label, _ in members if label["expected"] == "keep"]
        assert len(kept) == 1 and kept[0]["kind"] == "news" and kept[0]["variant"] is None
        original = next(p for label, p in members if label["expected"] == "keep")
        for label, payload in members:
            if label["expected"] == "drop":
                assert label["kind"] in ("near_duplicate", "exact_duplicate")
                variants[label["variant"]] += 1
                if label["variant"] in TEXT_VARIANTS:
                    assert payload != original
    assert set(variants) >= {
        "exact",
        "gershayim",
        "bidi_marks",
        "presentation_forms",
        "word_edits",
        "boilerplate",
    }


def _held_out_htb() -> list[str]:
    """Dev and test sentences, the split read independently from the `set` column of uddf_fixed.csv.gz."""
    texts, split = held_out_htb()
    assert all(split[s.sent_id] == "train" for s in htb_train_sentences())
    assert {v for k, v in split.items() if 501 <= k <= 5500} == {"train"}
    return texts


def _grams(text: str, n: int = 8) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def test_no_htb_dev_or_test_text_in_crawl(pages):
    held_out = _held_out_htb()
    assert len(held_out) > 1000
    crawl_grams: set[tuple[str, ...]] = set()
    for label, _, _, payload in pages:
        crawl_grams |= _grams(_text(payload, label["charset"]))
    leaked = [t for t in held_out if _grams(t) & crawl_grams or _grams(unreverse_numbers(t)) & crawl_grams]
    assert not leaked, leaked[:3]


def test_news_pages_are_hebrew_pages_with_boilerplate(pages):
    label, _, _, payload = next(p for p in pages if p[0]["kind"] == "news" and p[0]["charset"] == "utf-8")
    page = payload.decode("utf-8")
    assert '<html dir="rtl" lang="he">' in page
    assert "כל הזכויות שמורות" in page and ("<nav" in page or 'id="menu"' in page)


def test_small_crawl_has_every_kind(tmp_path):
    small = build_sample_crawl(tmp_path, n_news=50, seed=3)
    assert set(small.counts) == set(KINDS) and all(small.counts.values())
    with small.warc_path.open("rb") as f:
        n = sum(rec.rec_type == "response" for rec in ArchiveIterator(f))
    assert n == small.n_pages


def test_rejects_unsupported_size(tmp_path):
    with pytest.raises(ValueError, match="n_news"):
        build_sample_crawl(tmp_path, n_news=2)


def test_pair_register_never_repeats_a_pair():
    register = PairRegister(60)
    rng = random.Random(0)
    seen = set()
    for _ in range(30):
        items = register.draw(4, rng)
        assert len(set(items)) == 4
        pairs = {frozenset((a, b)) for a in items for b in items if a != b}
        assert not pairs & seen
        seen |= pairs


def test_unreverse_numbers_fixes_only_certain_cases():
    assert unreverse_numbers("ב0891 נקלעה") == "ב1980 נקלעה"
    assert unreverse_numbers("שנות ה05, קיבל 002 אלף") == "שנות ה50, קיבל 200 אלף"
    assert unreverse_numbers("בשנת 1991 ב-08:30, 52 אלף") == "בשנת 1991 ב-08:30, 52 אלף"


def test_word_edits_stay_within_five_percent():
    body = Body("כותרת", tuple(" ".join(f"מילה{i}" for i in range(j, j + 40)) for j in range(0, 200, 40)))
    edited = word_edits(body, random.Random(0), ("חדשה",))
    before = [w for p in body.paragraphs for w in p.split()]
    after = [w for p in edited.paragraphs for w in p.split()]
    ops = difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes()
    changed = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")
    assert 0 < changed <= 2 * 0.05 * len(before)  # a swap changes two words
