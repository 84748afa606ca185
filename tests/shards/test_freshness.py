"""Stale inputs are refused: re-scoring after sharding makes the shards, the tokens, training and the report
name the stage to re-run, instead of carrying on with the old phases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from common.errors import StaleInputError
from difficulty.phases import DifficultyConfig
from difficulty.run import score_run
from shards.run import shard_run
from shards.tokenize import tokenize_run

REPO = Path(__file__).resolve().parents[2]


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hebatron", *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=300
    )


def test_rescoring_after_sharding_is_refused_downstream(fresh_run, anchors, config, reference_lm, tmp_path) -> None:
    score_run(fresh_run, lm_dir=reference_lm, config=DifficultyConfig(percentiles=(20, 50)), progress=False)
    shard_run(fresh_run, [anchors], config, progress=False)
    tokenize_run(fresh_run, progress=False)
    score_run(fresh_run, lm_dir=reference_lm, config=DifficultyConfig(percentiles=(40, 80)), progress=False)

    with pytest.raises(StaleInputError, match=r"cutoffs.json.* changed after `hebatron shard`.*re-run `hebatron shard"):
        tokenize_run(fresh_run, progress=False)
    for args in (("train", fresh_run, "-o", tmp_path / "train", "--steps-per-phase", "1"), ("report", fresh_run)):
        proc = _cli(*args)
        assert proc.returncode == 2, proc.stderr[-2000:]
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and "re-run `hebatron shard" in last and "Traceback" not in proc.stderr
    assert not (tmp_path / "train").exists()

    # re-running what the message names makes the run consistent again
    shard_run(fresh_run, [anchors], config, progress=False)
    tokenize_run(fresh_run, progress=False)
    assert _cli("report", fresh_run).returncode == 0


def test_resharding_without_tokenizing_is_refused_by_train(fresh_run, anchors, config, tmp_path) -> None:
    shard_run(fresh_run, [anchors], config, progress=False)
    tokenize_run(fresh_run, progress=False)
    shard_run(fresh_run, [anchors], type(config)(shard_rows=config.shard_rows, seed=7), progress=False)
    proc = _cli("train", fresh_run, "-o", tmp_path / "train", "--steps-per-phase", "1")
    assert proc.returncode == 2
    assert "manifest.json changed after `hebatron tokenize`" in proc.stderr
    assert "re-run `hebatron tokenize" in proc.stderr
