"""Two independent curate → score → shard runs of the same input give the same documents and the same bytes."""

from __future__ import annotations

from tests.reliability.helpers import SHARD_ROWS, hebatron, manifest_files, rows, shard_hashes


def test_curate_score_shard_twice_gives_identical_runs(small_input, anchors, golden, tmp_path):
    run = tmp_path / "run"
    hebatron("curate", small_input, "-o", run)
    hebatron("score", run)
    hebatron("shard", run, "--anchor", anchors, *SHARD_ROWS)

    first = golden["sharded"]
    assert rows(run / "curated", ("id", "text", "phase")) == rows(first / "curated", ("id", "text", "phase"))
    assert rows(run / "excluded", ("id", "filter_reason")) == rows(first / "excluded", ("id", "filter_reason"))
    assert manifest_files(run) == manifest_files(first)
    assert shard_hashes(run) == shard_hashes(first)
