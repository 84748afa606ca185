from __future__ import annotations

import pytest

from common.errors import HebatronError, StaleInputError
from common.freshness import check_fresh, record_inputs, recorded_inputs


def _run(tmp_path):
    run = tmp_path / "run"
    (run / "curated").mkdir(parents=True)
    (run / "curated" / "0.parquet").write_bytes(b"scored v1")
    (run / "cutoffs.json").write_text('{"low": 1}')
    (run / "shards").mkdir()
    (run / "shards" / "manifest.json").write_text("{}")
    return run


def test_fresh_run_passes_and_a_changed_input_names_the_stage_to_rerun(tmp_path) -> None:
    run = _run(tmp_path)
    record_inputs(run, "score", [run / "curated" / "0.parquet"])
    record_inputs(run, "shard", [run / "curated" / "0.parquet", run / "cutoffs.json"])
    record_inputs(run, "tokenize", [run / "shards" / "manifest.json"])
    check_fresh(run, "train")  # nothing changed
    # re-scoring rewrites the curated file and the cutoffs, and records itself again
    (run / "curated" / "0.parquet").write_bytes(b"scored v2")
    (run / "cutoffs.json").write_text('{"low": 2}')
    record_inputs(run, "score", [run / "curated" / "0.parquet"])
    check_fresh(run, "shard")  # shard may run: what it reads is current
    with pytest.raises(StaleInputError, match=r"re-run `hebatron shard .*` \(then tokenize\) before `hebatron train`"):
        check_fresh(run, "train")
    with pytest.raises(HebatronError, match="curated/0.parquet, cutoffs.json changed after `hebatron shard`"):
        check_fresh(run, "tokenize")


def test_a_deleted_input_is_stale_and_a_stage_without_record_is_not_checked(tmp_path) -> None:
    run = _run(tmp_path)
    record_inputs(run, "tokenize", [run / "shards" / "manifest.json"])
    assert list(recorded_inputs(run, "tokenize")) == ["shards/manifest.json"]
    (run / "shards" / "manifest.json").unlink()
    with pytest.raises(StaleInputError, match="hebatron tokenize"):
        check_fresh(run, "train", command="report")
    (run / ".stages" / "tokenize.json").unlink()
    assert recorded_inputs(run, "tokenize") is None
    check_fresh(run, "train")


def test_records_need_existing_files_and_known_stages(tmp_path) -> None:
    run = _run(tmp_path)
    with pytest.raises(FileNotFoundError):
        record_inputs(run, "shard", [run / "missing.parquet"])
    with pytest.raises(ValueError, match="unknown stage"):
        record_inputs(run, "sharding", [])
