"""Fixtures for the fault-injection tests: one small JSONL input (40 news documents, a duplicate, an English
document) taken uninterrupted through curate → score → shard → tokenize → train by the CLI, each stage kept
as a read-only snapshot that the tests copy and compare against."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.reliability.helpers import SHARD_ROWS, hebatron


@pytest.fixture(scope="session")
def small_input(news_docs, tmp_path_factory) -> Path:
    from tests.curation.helpers import write_jsonl

    docs = news_docs[:40]
    records = [{"id": f"news-{i}", "text": t} for i, t in enumerate(docs)]
    records.append({"id": "copy-0", "text": docs[0]})
    records.append({"id": "english-0", "text": "This is an English paragraph about the weather in spring. " * 20})
    folder = tmp_path_factory.mktemp("input")
    return write_jsonl(folder / "news.jsonl", records)


@pytest.fixture(scope="session")
def anchors(tmp_path_factory) -> Path:
    from shards.anchors import write_sample_anchors

    return write_sample_anchors(tmp_path_factory.mktemp("anchors") / "anchors.jsonl")


def _snapshot(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


@pytest.fixture(scope="session")
def golden(small_input, anchors, tmp_path_factory) -> dict[str, Path]:
    """Uninterrupted CLI runs: {'curated', 'scored', 'sharded', 'tokenized'} run snapshots (read-only)."""
    base = tmp_path_factory.mktemp("golden")
    run = base / "run"
    hebatron("curate", small_input, "-o", run)
    out = {"curated": _snapshot(run, base / "curated")}
    hebatron("score", run)
    out["scored"] = _snapshot(run, base / "scored")
    hebatron("shard", run, "--anchor", anchors, *SHARD_ROWS)
    out["sharded"] = _snapshot(run, base / "sharded")
    hebatron("tokenize", run)
    out["tokenized"] = run
    return out


@pytest.fixture(scope="session")
def golden_train(golden, tmp_path_factory) -> list[dict]:
    """The eval records of an uninterrupted `train --recipe tiny-moe --steps-per-phase 3`."""
    from tests.reliability.helpers import TRAIN_ARGS, eval_records

    out = tmp_path_factory.mktemp("golden-train") / "train"
    hebatron("train", golden["tokenized"], "-o", out, *TRAIN_ARGS)
    evals = eval_records(out)
    assert [e["after_phase"] for e in evals] == [1, 2, 3], json.dumps(evals)
    return evals
