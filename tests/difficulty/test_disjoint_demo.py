"""The default reference LM and the sample crawl's news are made of disjoint halves of HTB's train split, and
neither holds dev or test text: the demo's news perplexities are those of news the LM never saw."""

from __future__ import annotations

import html
import json
import random
import re
import statistics
import unicodedata

import pytest
from warcio.archiveiterator import ArchiveIterator

from common.sources import HTB_SPLIT_RANGES, HTB_TRAIN_HALVES, htb_sentences, unreverse_numbers
from difficulty import lm as lm_module
from difficulty.scorer import KenLMScorer
from hebatron.sample_crawl import compose
from hebatron.sample_crawl.plan import Planner
from tests.htb_split import held_out_htb


def _grams(text: str, n: int) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text)
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _all_grams(texts, n: int = 8) -> set[tuple[str, ...]]:
    return set().union(*(_grams(t, n) for t in texts))


def _norm(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def halves() -> dict[str, list]:
    return {half: htb_sentences("train", half=half) for half in HTB_TRAIN_HALVES}


@pytest.fixture(scope="module")
def held_out() -> list[str]:
    """Dev and test sentences, the split read independently from the `set` column of uddf_fixed.csv.gz."""
    texts, _ = held_out_htb()
    assert len(texts) > 1000
    return texts


def test_the_halves_split_the_train_split_by_sentence(halves) -> None:
    lm, crawl = halves["lm"], halves["crawl"]
    assert len(lm) > 2000 and len(crawl) > 2000
    assert max(s.sent_id for s in lm) < min(s.sent_id for s in crawl)
    assert {s.sent_id for s in lm} | {s.sent_id for s in crawl} == {s.sent_id for s in htb_sentences("train")}
    assert not {_norm(s.text) for s in lm} & {_norm(s.text) for s in crawl}
    assert all(s.sent_id in HTB_TRAIN_HALVES[h] for h, sents in halves.items() for s in sents)


def test_no_article_is_in_both_halves(halves) -> None:
    lm, crawl = ([s.text for s in halves[h]] for h in ("lm", "crawl"))
    assert not _all_grams(lm) & _all_grams(crawl)  # not one 8-word run in common
    lm_4 = [_grams(t, 4) for t in lm]
    index: dict[tuple[str, ...], set[int]] = {}
    for i, grams in enumerate(lm_4):
        for g in grams:
            index.setdefault(g, set()).add(i)
    for text in crawl:  # no crawl sentence shares 30% of its 4-grams with an LM sentence: no rewritten copies
        grams = _grams(text, 4)
        hits: dict[int, int] = {}
        for g in grams:
            for i in index.get(g, ()):
                hits[i] = hits.get(i, 0) + 1
        assert all(n < 0.3 * min(len(grams), len(lm_4[i])) for i, n in hits.items()), text
    # the two articles either side of the cut stay whole: a consumer column and an interview with Vargas Llosa
    assert any("ביגז" in t for t in lm) and not any("ביגז" in t for t in crawl)
    assert any("ורגאס יוסה" in t for t in crawl) and not any("ורגאס" in t for t in lm)


def test_neither_half_holds_dev_or_test_text(halves, held_out) -> None:
    ids = set(HTB_SPLIT_RANGES["dev"]) | set(HTB_SPLIT_RANGES["test"])
    texts = {_norm(t) for t in held_out} | {_norm(unreverse_numbers(t)) for t in held_out}
    held_grams = _all_grams(held_out) | _all_grams(unreverse_numbers(t) for t in held_out)
    for sents in halves.values():
        assert not {s.sent_id for s in sents} & ids
        assert not {_norm(s.text) for s in sents} & texts
        assert not _all_grams(s.text for s in sents) & held_grams


def test_halves_only_of_the_train_split() -> None:
    with pytest.raises(ValueError, match="only the train split"):
        htb_sentences("dev", half="lm")
    with pytest.raises(ValueError, match="only the train split"):
        htb_sentences("train", half="test")  # type: ignore[arg-type]


def _page_text(payload: bytes, charset: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", payload.decode(charset)))
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if unicodedata.category(c) not in ("Mn", "Cf"))


def test_sample_crawl_news_comes_from_the_crawl_half(crawl, halves) -> None:
    planner = Planner(300, 0)  # the `crawl` fixture's size and seed
    crawl_texts = {s.text for s in halves["crawl"]}
    assert set(planner.sentences) <= crawl_texts
    bodies = [planner.body(spec) for spec in planner.plan() if spec.kind == "news"]
    assert len(bodies) == 300
    for body in bodies:
        assert set(" ".join(body.paragraphs).split()) <= {w for t in crawl_texts for w in t.split()}

    # and in the bytes written: every news page is crawl-half text, no page holds an 8-word run of the LM half
    labels = [json.loads(line) for line in crawl.labels_path.read_text(encoding="utf-8").splitlines()]
    with crawl.warc_path.open("rb") as f:
        payloads = [r.content_stream().read() for r in ArchiveIterator(f) if r.rec_type == "response"]
    lm_grams, crawl_grams = _all_grams(s.text for s in halves["lm"]), _all_grams(crawl_texts)
    for label, payload in zip(labels, payloads, strict=True):
        grams = _grams(_page_text(payload, label["charset"]), 8)
        assert not grams & lm_grams, label["url"]
        if label["kind"] == "news":
            assert len(grams & crawl_grams) >= 50, label["url"]


def test_default_lm_trains_on_the_lm_half_only(tmp_path, monkeypatch, halves, held_out, lmplz) -> None:
    seen: list[str] = []
    train = lm_module.train_reference_lm

    def recording(corpus, *args, **kwargs):
        seen.extend(corpus)
        return train(seen, *args, **kwargs)

    monkeypatch.setattr(lm_module, "train_reference_lm", recording)
    lm_module.default_reference_lm(tmp_path)
    assert sorted(seen) == sorted(s.text for s in halves["lm"])
    assert not {_norm(t) for t in seen} & ({_norm(s.text) for s in halves["crawl"]} | {_norm(t) for t in held_out})


def _paragraph_docs(texts: list[str], rng: random.Random) -> list[str]:
    """10 consecutive sentences a document, in 2-5-sentence paragraphs as the crawl lays out its news."""
    return ["\n".join(compose.split_paragraphs(texts[i : i + 10], rng)) for i in range(0, len(texts) - 9, 10)]


def test_demo_news_scores_as_unseen_news(htb_lm, halves, held_out) -> None:
    scorer = KenLMScorer(htb_lm)

    def median(docs: list[str]) -> float:
        return statistics.median(scorer.perplexity(d) for d in docs)

    planner = Planner(300, 0)
    news = median(["\n".join(planner.body(s).paragraphs) for s in planner.plan() if s.kind == "news"])
    unseen = median(_paragraph_docs(held_out, random.Random(0)))
    seen = median(_paragraph_docs([s.text for s in halves["lm"]], random.Random(0)))
    assert 0.75 * unseen <= news <= 1.5 * unseen, (news, unseen)  # measured: 513 vs 502 (the old LM: 13 vs 464)
    assert seen < 0.1 * unseen, (seen, unseen)  # what memorized text scores (measured: 12)
