"""Verified MinHash near-dedup: wide banding finds the copies 14 x 8 misses, the signature check keeps precision."""

from __future__ import annotations

import random
import struct

import duckdb
import numpy as np
import pytest
from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import MinhashDedupSignature

from curation.config import CurationConfig, DedupConfig
from curation.near_dup import SignatureWithFull, VerifiedBuckets, minhash_config
from curation.run import curate
from curation.words import HEBREW_WORDS
from tests.curation.helpers import write_jsonl

DEFAULT = DedupConfig()
FINEWEB2 = DedupConfig(num_buckets=14, hashes_per_bucket=8, verify_threshold=None)


def signer(d: DedupConfig) -> MinhashDedupSignature:
    return MinhashDedupSignature("/tmp/unused-sigs", minhash_config(d), language=HEBREW_WORDS)


def jaccard(a: str, b: str) -> float:
    s = signer(DEFAULT)
    x, y = (set(s.get_shingles(t).ravel().tolist()) for t in (a, b))
    return len(x & y) / len(x | y)


def shares_a_band(a: str, b: str, d: DedupConfig) -> bool:
    s = signer(d)
    x, y = (s.get_signature(s.get_shingles(t)) for t in (a, b))
    return any(p == q for p, q in zip(x, y, strict=True))


def edited(text: str, rate: float, seed: int, vocabulary: list[str]) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(vocabulary) if rng.random() < rate else w for w in text.split(" "))


@pytest.fixture(scope="module")
def articles(htb_train) -> list[str]:
    """Articles of 12 consecutive sentences, one sentence a line."""
    return ["\n".join(htb_train[i : i + 12]) for i in range(2000, 2000 + 12 * 40, 12)]


@pytest.fixture(scope="module")
def missed_copy(articles, htb_train):
    """(original, copy): a copy at Jaccard 0.70-0.78 that 14 x 8 banding never compares with its original."""
    vocabulary = " ".join(htb_train[:300]).split()
    for seed in range(200):
        original = articles[seed % len(articles)]
        copy = edited(original, 0.06, seed, vocabulary)
        if 0.70 <= jaccard(original, copy) <= 0.78 and not shares_a_band(original, copy, FINEWEB2):
            return original, copy
    raise AssertionError("no copy at J 0.70-0.78 missed by 14 x 8 among 200 seeds")


@pytest.fixture(scope="module")
def related(articles, htb_train):
    """(a, b): distinct articles sharing 7 of their 12 sentences (Jaccard ~0.4) that 32 x 4 bands compare."""
    for i in range(len(articles) - 1):
        a_lines, other = articles[i].split("\n"), articles[i + 1].split("\n")
        b = "\n".join(a_lines[:7] + other[:5])
        if shares_a_band(articles[i], b, DEFAULT):
            return articles[i], b
    raise AssertionError("no related pair that 32 x 4 banding compares")


def curate_docs(tmp_path, docs: list[str], dedup: DedupConfig, files: int = 1, **kwargs):
    inputs = tmp_path / "in"
    inputs.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        write_jsonl(inputs / f"{f}.jsonl", [{"id": f"d{i}", "text": t} for i, t in enumerate(docs) if i % files == f])
    run = tmp_path / "run"
    stats = curate([inputs], run, CurationConfig(dedup=dedup), **kwargs)
    kept = dict(duckdb.sql(f"SELECT id, minhash_cluster_size FROM read_parquet('{run}/curated/*.parquet')").fetchall())
    return run, stats, kept


def test_a_copy_14x8_misses_is_merged_by_the_default(tmp_path, articles, missed_copy):
    original, copy = missed_copy
    docs = [original, copy, *articles[20:26]]
    _, _, plain = curate_docs(tmp_path / "plain", docs, FINEWEB2)
    assert {"d0", "d1"} <= set(plain)  # both kept: 14 x 8 never compared them
    _, _, kept = curate_docs(tmp_path / "default", docs, DEFAULT)
    assert len({"d0", "d1"} & set(kept)) == 1
    survivor = next(d for d in ("d0", "d1") if d in kept)
    assert kept[survivor] == 2 and all(kept[f"d{i}"] == 1 for i in range(2, len(docs)))


def test_related_articles_are_not_merged(tmp_path, articles, related):
    a, b = related
    assert 0.3 <= jaccard(a, b) <= 0.5
    _, _, kept = curate_docs(tmp_path, [a, b, *articles[30:34]], DEFAULT)
    assert {"d0", "d1"} <= set(kept) and kept["d0"] == kept["d1"] == 1


def run_dedup_steps(tmp_path, rank_docs: list[list[str]], d: DedupConfig, workers_per_band: int = 1, tasks=None):
    """The signature step on each rank's documents, then the verified bucket step on every band; the pairs."""
    config, sigs, dups = minhash_config(d), tmp_path / "sigs", tmp_path / "dups"
    for rank, texts in enumerate(rank_docs):
        step = SignatureWithFull(str(sigs), config, language=HEBREW_WORDS)
        docs = [Document(text=t, id=f"{rank}-{i}") for i, t in enumerate(texts)]
        step.run(iter(docs), rank, len(rank_docs))
    world = d.num_buckets * workers_per_band if tasks is None else tasks
    steps = []
    for rank in range(world):
        step = VerifiedBuckets(str(sigs), str(dups), config=config, threshold=d.verify_threshold)
        step.run(None, rank, world)
        steps.append(step)
    pairs = set()
    for f in dups.glob("*.dups"):
        raw = f.read_bytes()
        pairs |= {(a, b, c, e) for a, b, c, e in struct.iter_unpack("<4I", raw)}
    return {frozenset(((a, b), (c, e))) for a, b, c, e in pairs}, steps


def test_verification_rejects_a_banding_false_positive(tmp_path, related):
    a, b = related
    pairs, steps = run_dedup_steps(tmp_path, [[a, b]], DEFAULT)
    assert pairs == set()
    assert sum(s.stats["rejected_pairs"].total for s in steps) >= 1
    assert sum(s.stats["verified_pairs"].total for s in steps) == 0


def test_full_signatures_hold_the_band_values_in_document_order(tmp_path, articles):
    texts = [articles[0], "", articles[1]]  # a document without shingles gets no signature, as in datatrove
    run_dedup_steps(tmp_path, [texts], DEFAULT)
    full = np.fromfile(tmp_path / "sigs" / "full" / "00000.minhash.full", dtype=np.uint8)
    k = DEFAULT.num_buckets * DEFAULT.hashes_per_bucket
    rec = np.dtype([("doc", "<u4"), ("sig", "<u8", (k,))])
    rows = full.view(rec)
    assert rows["doc"].tolist() == [0, 2]
    s = signer(DEFAULT)
    assert rows["sig"][1].tolist() == [v for band in s.get_signature(s.get_shingles(articles[1])) for v in band]


def test_pairs_across_tasks_and_band_workers(tmp_path, articles, missed_copy, related):
    original, copy = missed_copy
    a, b = related
    ranks = [[original, *articles[10:14]], [a, *articles[14:18]], [copy, b, *articles[18:20]]]
    one, _ = run_dedup_steps(tmp_path / "one", ranks, DEFAULT)
    two, _ = run_dedup_steps(tmp_path / "two", ranks, DEFAULT, workers_per_band=2)
    assert frozenset(((0, 0), (2, 0))) in one  # the copy, found across signature tasks
    assert not any((1, 0) in p and (2, 1) in p for p in one)  # the related pair, rejected
    assert {p for p in two} == one
    # fewer bucket tasks than bands (a small run): each task takes every 3rd or 5th band, the same pairs
    for tasks in (3, 5):
        fewer, _ = run_dedup_steps(tmp_path / f"fewer-{tasks}", ranks, DEFAULT, tasks=tasks)
        assert fewer == one
        assert len(list((tmp_path / f"fewer-{tasks}" / "dups").glob("*.dups"))) == DEFAULT.num_buckets


def test_several_files_and_workers_then_resume(tmp_path, articles, missed_copy, related):
    original, copy = missed_copy
    docs = [original, *related, *articles[20:29], copy]
    run, stats, kept = curate_docs(tmp_path, docs, DEFAULT, files=3, workers=2)
    assert len({"d0", f"d{len(docs) - 1}"} & set(kept)) == 1 and {"d1", "d2"} <= set(kept)
    assert stats["curated_documents"] == len(docs) - 1
    # forget half the verified bucket tasks and every later stage, as if the run had been killed among them
    for stage, share in (("minhash_buckets", 2), ("minhash_cluster", 1), ("minhash_filter", 1), ("publish", 1)):
        for marker in sorted((run / ".work" / "logs" / stage / "completions").glob("*"))[::share]:
            marker.unlink()
    (run / "stats.json").unlink()
    again = curate([tmp_path / "in"], run, CurationConfig(dedup=DEFAULT))
    assert again["curated_documents"] == stats["curated_documents"]
    assert sorted(duckdb.sql(f"SELECT id FROM read_parquet('{run}/curated/*.parquet')").fetchall()) == sorted(
        (k,) for k in kept
    )
    assert curate([tmp_path / "in"], run, CurationConfig(dedup=DEFAULT))["resumed"] == "already complete"
