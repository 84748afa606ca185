"""FineWeb-2's rehydration: the weights per cluster size, the run's own removal rates, repeats in the shards."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from curation.rehydration import (
    FINEWEB2_HEB_WEIGHTS,
    compact_weights,
    compute_rehydration,
    load_cluster_sizes,
    preset_weights,
    upsampling_weights,
    weight_of,
)
from shards.config import ShardConfig
from tests.curation.helpers import near_copy

# FineWeb-2's published heb_Hebr removal rates per cluster size (huggingface/fineweb-2,
# misc/rehydration/distributions/heb_Hebr.json, Apache-2.0)
DISTRIBUTION = Path(__file__).parent / "data" / "fineweb2_heb_Hebr_distribution.json"


# --- the weights -------------------------------------------------------------------------------------------


def test_sizes_at_or_above_the_global_rate_get_one_and_the_lowest_rate_the_maximum():
    rates = [0.9, 0.75, 0.7, 0.5, 0.6, 0.8]
    w = upsampling_weights(rates, 0.75, 5, window=1)
    assert w.tolist() == [1, 1, 2, 5, 3, 1]
    assert w[np.argmin(rates)] == 5
    assert (w[np.asarray(rates) >= 0.75] == 1).all()


def test_weights_are_monotone_in_the_removal_rate():
    rng = np.random.default_rng(7)
    rates = rng.uniform(0.3, 0.9, 40)
    w = upsampling_weights(rates, 0.6, 8, window=1)
    order = np.argsort(rates)
    assert (np.diff(w[order]) <= 0).all()  # a lower removal rate never gets fewer repetitions
    assert w.max() == 8 and w.min() == 1


def test_no_size_below_the_global_rate_means_no_repetition():
    assert upsampling_weights([0.8, 0.9, 0.8], 0.8, 10).tolist() == [1, 1, 1]


def test_smoothing_averages_five_neighbours_and_keeps_the_ends():
    rates = [0.9, 0.9, 0.9, 0.1, 0.9, 0.9, 0.9]  # one size far below: raw weights 1 1 1 6 1 1 1
    w = upsampling_weights(rates, 0.9, 6)
    assert w.tolist() == [1, 1, 2, 2, 2, 1, 1]  # (1+1+1+6+1)/5 = 2 around it
    assert upsampling_weights(rates[:3], 0.9, 6).tolist() == [1, 1, 1]  # too few sizes to smooth


def test_smoothed_maximum_stays_at_the_lowest_removal_size_of_a_u_shaped_table():
    sizes = np.arange(1, 41)
    rates = 0.55 + 0.0008 * (sizes - 15) ** 2  # lowest removal at 15, higher for small and large clusters
    w = upsampling_weights(rates, 0.7, 5)
    assert w[sizes == 15][0] == 5 and w.max() == 5
    assert w[0] == 1 and w[-1] == 1


def test_the_published_fineweb2_hebrew_weights_come_out_of_its_published_rates():
    d = json.loads(DISTRIBUTION.read_text())
    sizes = [*d["cluster_sizes"], d["tail_threshold"]]
    rates = [*d["cluster_removal_rates"], d["tail_removal_rate"]]
    for max_reps, published in FINEWEB2_HEB_WEIGHTS.items():
        ours = compact_weights(sizes, upsampling_weights(rates, d["global_removal_rate"], max_reps))
        assert ours == published, max_reps


def test_lookup_takes_the_largest_key_at_or_below_the_size():
    weights = preset_weights("fineweb2-heb")  # {1: 1, 3: 2, 4: 3, 7: 4, 13: 5, 27: 4, 35: 3, 52: 2, 97: 1}
    assert weight_of(weights, np.array([1, 2, 3, 6, 7, 20, 96, 97, 5000])).tolist() == [1, 1, 2, 3, 4, 5, 2, 1, 1]


def test_unknown_preset_and_bad_values_are_refused():
    with pytest.raises(ValueError, match="rehydrate must be"):
        ShardConfig(rehydrate="fineweb2-xyz")
    with pytest.raises(ValueError, match="rehydrate_max_repetitions"):
        ShardConfig(rehydrate=True, rehydrate_max_repetitions=0)
    assert ShardConfig(rehydrate="run").rehydrate is True
    assert ShardConfig().rehydrate is False


# --- the run's own removal rates ---------------------------------------------------------------------------


def _ellipsis_copy(text: str) -> str:
    """The same words, one sentence a line, each line ending in an ellipsis: MinHash (which drops punctuation)
    sees the text itself, Gopher's end-ellipsis rule drops it."""
    return "\n".join(s.strip(" .") + "..." for s in text.replace("\n", " ").split(". ") if s.strip())


@pytest.fixture(scope="module")
def rated_run(news_docs, tmp_path_factory):
    """12 news singletons; 6 clusters of 3 (the news, a near-copy, an ellipsis copy that the filters drop);
    4 ellipsis-only singletons (dropped)."""
    from curation.run import curate
    from tests.curation.helpers import write_jsonl

    docs = news_docs[:22]
    records = [{"id": f"s{i}", "text": t} for i, t in enumerate(docs[:12])]
    for i, t in enumerate(docs[12:18]):
        records += [
            {"id": f"c{i}", "text": t},
            {"id": f"c{i}-near", "text": near_copy(t, 0)},
            {"id": f"c{i}-dots", "text": _ellipsis_copy(t)},
        ]
    records += [{"id": f"x{i}", "text": _ellipsis_copy(t)} for i, t in enumerate(docs[18:22])]
    tmp = tmp_path_factory.mktemp("rated")
    run = tmp / "run"
    curate([write_jsonl(tmp / "in.jsonl", records)], run)
    return run


def test_removal_rates_count_the_documents_the_filters_dropped_by_their_cluster_before_filtering(rated_run):
    con = duckdb.connect()
    dropped = con.sql(
        f"SELECT id, filter_reason FROM read_parquet('{rated_run}/excluded/*.parquet') WHERE id LIKE '%dots' "
        "OR id LIKE 'x%'"
    ).fetchall()
    assert len(dropped) == 10 and all(r[1].split(":")[0] in ("gopher_quality", "fineweb_quality") for r in dropped)

    table = compute_rehydration(rated_run, max_repetitions=4, min_clusters=1)
    by_size = {r["size"]: r for r in table["sizes"]}
    assert set(by_size) == {1, 3}
    assert (by_size[1]["documents"], by_size[1]["removed"]) == (16, 4)
    assert (by_size[3]["documents"], by_size[3]["removed"], by_size[3]["clusters"]) == (18, 6, 6)
    assert by_size[1]["removal_rate"] == pytest.approx(0.25)
    assert by_size[3]["removal_rate"] == pytest.approx(1 / 3)
    # one document per cluster, as FineWeb-2 counts: (16 * 0.25 + 6 * 1/3) / 22
    assert table["global_removal_rate"] == pytest.approx((4 + 2) / 22)
    assert table["weights"] == {"1": 4, "3": 1}  # size 1 is removed least: the maximum; size 3 above global
    sizes = load_cluster_sizes(rated_run)
    assert {sizes.get(f"c{i}") or sizes.get(f"c{i}-near") for i in range(6)} == {3}
    assert not any(k.startswith("s") for k in sizes)

    stamp = (rated_run / "rehydration" / "rehydration.json").stat().st_mtime_ns
    assert compute_rehydration(rated_run, max_repetitions=4, min_clusters=1) == table  # reused, not recomputed
    assert (rated_run / "rehydration" / "rehydration.json").stat().st_mtime_ns == stamp
    again = compute_rehydration(rated_run, max_repetitions=2, min_clusters=1)
    assert again["weights"] == {"1": 2, "3": 1}


# --- repeats in the shards -----------------------------------------------------------------------------------


def _rows(run: Path) -> list[tuple[str, str, int]]:
    return (
        duckdb.connect()
        .sql(f"SELECT id, role, phase FROM read_parquet('{run}/shards/phase-*/part-*.parquet')")
        .fetchall()
    )


def test_off_by_default(sharded):
    run, manifest = sharded
    assert "rehydration" not in manifest
    assert not (run / "rehydration").exists()
    assert all("rehydration" not in p and p["hebrew"]["repeated"] == 0 for p in manifest["phases"].values())
    assert not any("#r" in i for i, role, _ in _rows(run) if role == "hebrew")


@pytest.fixture(scope="module")
def rehydrated(scored_run, anchors, tmp_path_factory):
    from shards.run import shard_run

    run = tmp_path_factory.mktemp("rehydrated") / "run"
    shutil.copytree(scored_run, run)
    config = ShardConfig(shard_rows=60, seed=0, rehydrate="fineweb2-heb-6", allow_repeat=True)
    return run, config, shard_run(run, [anchors], config, progress=False)


def test_each_curated_document_appears_weight_times_in_its_one_phase(rehydrated):
    run, _, manifest = rehydrated
    weights = preset_weights("fineweb2-heb-6")
    sizes = load_cluster_sizes(run)
    curated = pq.read_table(run / "curated", columns=["id", "phase"]).to_pylist()
    rows = [(i, phase) for i, role, phase in _rows(run) if role == "hebrew"]
    copies = Counter(i.split("#r")[0] for i, _ in rows)
    phases = {}
    for i, phase in rows:
        phases.setdefault(i.split("#r")[0], set()).add(phase)
    want = {d["id"]: int(weight_of(weights, np.array([sizes.get(d["id"], 1)]))[0]) for d in curated}
    assert copies == Counter(want)
    assert max(want.values()) > 1, "the sample crawl has clusters, so something must be repeated"
    assert all(phases[d["id"]] == {d["phase"]} for d in curated)  # every document in exactly one phase
    assert len({i for i, _ in rows}) == len(rows)  # copies have ids of their own

    for k, p in manifest["phases"].items():
        r = p["rehydration"]
        in_phase = [d["id"] for d in curated if str(d["phase"]) == k]
        assert r["documents_before"] == len(in_phase)
        assert r["documents_after"] == p["hebrew"]["documents"] == sum(want[i] for i in in_phase)
        assert r["documents_after"] == sum(1 for _, ph in rows if str(ph) == k)
        assert r["repeated_documents"] == sum(want[i] > 1 for i in in_phase)
        assert r["tokens_after"] == p["hebrew"]["tokens"] == r["tokens_before"] + r["repeated_tokens"]
        assert p["hebrew"]["repeated"] == r["documents_after"] - r["documents_before"]
    assert manifest["rehydration"]["weights_from"] == "fineweb2-heb-6"
    assert manifest["rehydration"]["weights"] == {str(k): v for k, v in weights.items()}


def test_tokens_of_the_copies_reach_the_token_files(rehydrated):
    from shards.tokenize import tokenize_run

    run, _, manifest = rehydrated
    summary = tokenize_run(run, progress=False)  # refuses totals that differ from the manifest
    for k, p in manifest["phases"].items():
        assert summary["phases"][k]["hebrew"]["tokens"] == p["hebrew"]["tokens"]


def test_re_running_does_not_repeat_twice(rehydrated, anchors):
    from shards.run import shard_run

    run, config, manifest = rehydrated
    before = sorted(_rows(run))
    assert shard_run(run, [anchors], config, progress=False) == manifest
    assert sorted(_rows(run)) == before
    off = shard_run(run, [anchors], ShardConfig(shard_rows=60, seed=0, allow_repeat=True), progress=False)
    assert "rehydration" not in off
    n_curated = pq.ParquetDataset(run / "curated").read(columns=["id"]).num_rows
    assert sum(p["hebrew"]["documents"] for p in off["phases"].values()) == n_curated


def test_bare_rehydrate_option_means_the_runs_own_weights():
    from hebatron.cli import _bare_rehydrate

    assert _bare_rehydrate(["shard", "R", "--rehydrate"]) == ["shard", "R", "--rehydrate", "run"]
    assert _bare_rehydrate(["shard", "R", "--rehydrate", "--seed", "1"])[3] == "run"
    assert _bare_rehydrate(["shard", "R", "--rehydrate", "fineweb2-heb"]) == [
        "shard",
        "R",
        "--rehydrate",
        "fineweb2-heb",
    ]
