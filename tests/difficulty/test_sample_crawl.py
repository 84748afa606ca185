"""Scoring the curated sample crawl: difficulty tracks the kind of text, phases are balanced."""

from __future__ import annotations

import json
import random
import shutil

import duckdb
import pytest

from difficulty.run import score_run
from difficulty.scorer import KenLMScorer
from hebatron.sample_crawl.evaluate import read_labels


@pytest.fixture(scope="module")
def scored(curated_run, htb_lm, tmp_path_factory):
    run = tmp_path_factory.mktemp("scored") / "run"
    shutil.copytree(curated_run[0], run)
    return run, score_run(run, lm_dir=htb_lm, progress=False)


def kinds(crawl) -> dict[str, str]:
    return {lab["record_id"]: lab["kind"] for lab in read_labels(crawl.labels_path)}


def test_classical_and_aramaic_land_in_later_phases_than_news(crawl, scored):
    run, _ = scored
    kind = kinds(crawl)
    rows = duckdb.sql(f"SELECT id, phase FROM read_parquet('{run}/curated/*.parquet')").fetchall()
    by_kind: dict[str, list[int]] = {}
    for id_, phase in rows:
        by_kind.setdefault(kind[id_], []).append(phase)
    mean = {k: sum(v) / len(v) for k, v in by_kind.items()}
    assert mean["classical_hebrew"] > mean["news"] and mean["aramaic"] > mean["news"]


def test_each_phase_holds_a_fair_share_of_characters(scored):
    _, summary = scored
    shares = [summary["phases"][k]["character_share"] for k in ("1", "2", "3")]
    assert all(0.20 <= s <= 0.47 for s in shares), shares
    assert json.loads((scored[0] / "cutoffs.json").read_text())["cutoffs"]["method"] == "percentiles"


def test_every_curated_document_has_perplexity_and_phase(scored):
    run, _ = scored
    nulls = duckdb.sql(
        f"SELECT count(*) FILTER (WHERE perplexity IS NULL OR phase NOT IN (1, 2, 3)), count(*) "
        f"FROM read_parquet('{run}/curated/*.parquet')"
    ).fetchall()[0]
    assert nulls[0] == 0 and nulls[1] > 0


def test_shuffled_news_scores_higher_and_scores_repeat(crawl, scored, htb_lm):
    run, _ = scored
    kind = kinds(crawl)
    texts = [
        t
        for i, t in duckdb.sql(f"SELECT id, text FROM read_parquet('{run}/curated/*.parquet')").fetchall()
        if kind[i] == "news"
    ]
    scorer, rng = KenLMScorer(htb_lm), random.Random(0)
    higher = 0
    for text in texts:
        words = text.split()
        rng.shuffle(words)
        higher += scorer.perplexity(" ".join(words)) > scorer.perplexity(text)
    assert higher >= 0.9 * len(texts)
    assert scorer.perplexity(texts[0]) == KenLMScorer(htb_lm).perplexity(texts[0])
