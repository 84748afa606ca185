"""Fixtures for the shard tests: the sample crawl curated and scored with the real default reference LM,
the standard library's English anchor set, and that run sharded and tokenized once for the session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shards.anchors import write_sample_anchors
from shards.config import ShardConfig

SHARD_ROWS = 60  # small, so every phase has several shards
RECIPE = {"name": "test-recipe", "shards": {"anchor_ratio": [0.3, 0.2, 0.1]}}


@pytest.fixture(scope="session")
def reference_lm() -> Path:
    from difficulty.lm import default_reference_lm, find_kenlm_tool

    try:
        find_kenlm_tool("lmplz")
        find_kenlm_tool("build_binary")
    except FileNotFoundError as err:
        pytest.skip(f"KenLM's lmplz is not installed — run `make setup` ({err})")
    return default_reference_lm()


@pytest.fixture(scope="session")
def scored_run(curated_run, reference_lm, tmp_path_factory) -> Path:
    """The sample crawl (300 news pages), curated and scored. Read-only: copy it with `fresh_run`."""
    from difficulty.run import score_run

    run = tmp_path_factory.mktemp("scored") / "run"
    shutil.copytree(curated_run[0], run)
    score_run(run, lm_dir=reference_lm, progress=False)
    return run


@pytest.fixture()
def fresh_run(scored_run, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(scored_run, run)
    return run


@pytest.fixture(scope="session")
def anchors(tmp_path_factory) -> Path:
    return write_sample_anchors(tmp_path_factory.mktemp("anchors") / "pydoc-topics.jsonl")


@pytest.fixture(scope="session")
def config() -> ShardConfig:
    return ShardConfig(shard_rows=SHARD_ROWS, seed=0)


@pytest.fixture(scope="session")
def sharded(scored_run, anchors, config, tmp_path_factory) -> tuple[Path, dict]:
    """(RUN, manifest): the scored run sharded with the default ratios. Read-only."""
    from shards.run import shard_run

    run = tmp_path_factory.mktemp("sharded") / "run"
    shutil.copytree(scored_run, run)
    return run, shard_run(run, [anchors], config, recipe=RECIPE, progress=False)


@pytest.fixture(scope="session")
def tokenized(sharded) -> tuple[Path, dict, dict]:
    """(RUN, manifest, tokens.json): the sharded run tokenized to Megatron files. Read-only."""
    from shards.tokenize import tokenize_run

    run, manifest = sharded
    return run, manifest, tokenize_run(run, progress=False)
