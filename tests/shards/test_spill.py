"""The external shuffle: output bytes do not depend on when (or whether) the buffer spilled to disk."""

from __future__ import annotations

import functools

import numpy as np
import pyarrow.parquet as pq
import pytest

import shards.run
from shards.run import shard_run
from shards.spill import ShuffleWriter
from tests.shards.conftest import RECIPE


def _write(tmp_path, name: str, buffer_bytes: int) -> list[dict]:
    staging = tmp_path / name
    staging.mkdir()
    writer = ShuffleWriter(staging, shard_rows=7, buffer_bytes=buffer_bytes)
    positions = np.random.default_rng(0).permutation(50)
    for start in range(0, 50, 6):  # rows arrive in input order, in batches
        rows = range(start, min(start + 6, 50))
        writer.add(
            2,
            positions[list(rows)],
            {
                "id": [f"d{i}" for i in rows],
                "text": [f"text {i} " * i for i in rows],
                "lang": ["he"] * len(rows),
                "role": ["hebrew"] * len(rows),
                "phase": [2] * len(rows),
                "perplexity": [float(i) for i in rows],
            },
        )
    files = writer.finish(staging / "out", 2, 50)
    spill = staging / "spill"
    assert not spill.exists() or not any(spill.iterdir()), "spilled pieces are deleted once written"
    return files


def test_spilling_does_not_change_the_output(tmp_path) -> None:
    in_memory = _write(tmp_path, "a", buffer_bytes=1 << 30)
    spilled = _write(tmp_path, "b", buffer_bytes=64)  # spills after every batch
    assert not (tmp_path / "a" / "spill").exists() and (tmp_path / "b" / "spill").exists()
    assert in_memory == spilled
    assert [f["rows"] for f in in_memory] == [7] * 7 + [1]
    table = pq.read_table(tmp_path / "a" / "out" / "phase-2" / "part-00000.parquet")
    order = np.argsort(np.random.default_rng(0).permutation(50))[:7]
    assert table.column("id").to_pylist() == [f"d{i}" for i in order]


@pytest.mark.slow
def test_shard_run_with_a_tiny_buffer_gives_the_same_shards(sharded, fresh_run, anchors, config, monkeypatch) -> None:
    monkeypatch.setattr(shards.run, "ShuffleWriter", functools.partial(ShuffleWriter, buffer_bytes=50_000))
    assert shard_run(fresh_run, [anchors], config, recipe=RECIPE, progress=False) == sharded[1]
