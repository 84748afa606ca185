"""SIGKILL at a seeded random moment, then the same command again: the result equals an uninterrupted run's,
and no half-written file is ever visible where outputs are published."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.reliability.helpers import (
    SHARD_ROWS,
    TRAIN_ARGS,
    eval_records,
    hebatron,
    holds_lock,
    kill_midway,
    manifest_files,
    partial_files,
    rows,
    shard_hashes,
)

CURATED_COLUMNS = ("id", "text", "minhash_cluster_size")
EXCLUDED_COLUMNS = ("id", "text", "filter_reason")
SCORED_COLUMNS = ("id", "text", "perplexity", "phase")


def _fresh(snapshot: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(snapshot, run, symlinks=True)
    (run / ".lock").unlink(missing_ok=True)  # a stale lock file (no holder) is what a crash leaves anyway
    return run


def _assert_published_complete(run: Path, golden: Path, columns=CURATED_COLUMNS) -> None:
    """curated/ and excluded/ are either absent or exactly the uninterrupted run's."""
    assert not partial_files(run / "curated", run / "excluded", run / "shards")
    for folder, cols in (("curated", columns), ("excluded", EXCLUDED_COLUMNS)):
        if (run / folder).exists():
            assert rows(run / folder, cols) == rows(golden / folder, cols), f"{folder}/ visible but incomplete"


@pytest.mark.parametrize("seed", [0])
def test_curate_killed_then_rerun_equals_uninterrupted(small_input, golden, tmp_path, seed):
    run = tmp_path / "run"
    kill_midway(["curate", small_input, "-o", run], ready=holds_lock(run), seed=seed, max_delay=1.0)
    _assert_published_complete(run, golden["curated"])

    hebatron("curate", small_input, "-o", run)

    for folder, cols in (("curated", CURATED_COLUMNS), ("excluded", EXCLUDED_COLUMNS)):
        assert rows(run / folder, cols) == rows(golden["curated"] / folder, cols)
    assert not partial_files(run / "curated", run / "excluded")


def test_score_killed_then_rerun_equals_uninterrupted(golden, tmp_path):
    run = _fresh(golden["curated"], tmp_path)
    kill_midway(["score", run], ready=holds_lock(run), seed=1, max_delay=1.5)
    assert not partial_files(run / "curated", run / "excluded")
    assert set(rows(run / "curated")) == set(rows(golden["curated"] / "curated")), "curated ids changed by a kill"

    hebatron("score", run)

    assert rows(run / "curated", SCORED_COLUMNS) == rows(golden["scored"] / "curated", SCORED_COLUMNS)
    assert rows(run / "excluded", EXCLUDED_COLUMNS) == rows(golden["scored"] / "excluded", EXCLUDED_COLUMNS)
    assert not partial_files(run / "curated", run / "excluded")


def test_shard_killed_then_rerun_equals_uninterrupted(golden, anchors, tmp_path):
    run = _fresh(golden["scored"], tmp_path)
    args = ["shard", run, "--anchor", anchors, *SHARD_ROWS]
    kill_midway(args, ready=holds_lock(run), seed=2, max_delay=0.5)
    assert not partial_files(run / "shards")
    if (run / "shards").exists():  # visible only when complete
        assert shard_hashes(run) == shard_hashes(golden["sharded"])

    hebatron(*args)

    assert manifest_files(run) == manifest_files(golden["sharded"])
    assert shard_hashes(run) == shard_hashes(golden["sharded"])
    assert not partial_files(run / "shards")


def test_train_killed_then_rerun_equals_uninterrupted(golden, golden_train, tmp_path):
    out = tmp_path / "train"
    args = ["train", golden["tokenized"], "-o", out, *TRAIN_ARGS]
    kill_midway(args, ready=lambda _proc: (out / "checkpoints" / "phase-1").exists(), seed=3, max_delay=4.0)

    hebatron(*args)

    resumed = eval_records(out)
    assert [e["after_phase"] for e in resumed] == [1, 2, 3], "an eval record is missing or repeated"
    for got, want in zip(resumed, golden_train, strict=False):
        assert got["he_loss"] == pytest.approx(want["he_loss"], rel=1e-6, abs=1e-6)
        assert got["en_loss"] == pytest.approx(want["en_loss"], rel=1e-6, abs=1e-6)
