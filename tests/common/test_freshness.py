from __future__ import annotations

import json

import pytest

from common.errors import HebatronError, StaleInputError
from common.freshness import (
    check_fresh,
    record_stage,
    recorded_files,
    recorded_inputs,
    recorded_outputs,
)
from common.layout import MissingStageOutput


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
    record_stage(run, "score", writes=[run / "curated" / "0.parquet", run / "cutoffs.json"])
    record_stage(run, "shard", reads=[run / "curated" / "0.parquet", run / "cutoffs.json"])
    record_stage(run, "tokenize", reads=[run / "shards" / "manifest.json"])
    check_fresh(run, "train")  # nothing changed
    # re-scoring rewrites the curated file and the cutoffs, and records itself again
    (run / "curated" / "0.parquet").write_bytes(b"scored v2")
    (run / "cutoffs.json").write_text('{"low": 2}')
    record_stage(run, "score", writes=[run / "curated" / "0.parquet", run / "cutoffs.json"])
    check_fresh(run, "shard")  # shard may run: what it reads is current
    with pytest.raises(StaleInputError, match=r"re-run `hebatron shard .*` \(then tokenize\) before `hebatron train`"):
        check_fresh(run, "train")
    with pytest.raises(HebatronError, match="curated/0.parquet, cutoffs.json changed after `hebatron shard`"):
        check_fresh(run, "tokenize")


def test_a_deleted_input_is_stale_and_a_stage_without_record_is_not_checked(tmp_path) -> None:
    run = _run(tmp_path)
    record_stage(run, "tokenize", reads=[run / "shards" / "manifest.json"])
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
        record_stage(run, "shard", reads=[run / "missing.parquet"])
    with pytest.raises(FileNotFoundError):
        record_stage(run, "curate", writes=[run / "missing.parquet"])
    with pytest.raises(ValueError, match="unknown stage"):
        record_stage(run, "sharding")


def test_a_stage_reads_exactly_what_was_written_and_the_in_place_stage_has_the_last_word(tmp_path) -> None:
    run = _run(tmp_path)
    (run / "curated" / "1.parquet").write_bytes(b"curated 1")
    record_stage(run, "curate", writes=[run / "curated" / "0.parquet", run / "curated" / "1.parquet"])
    (run / "curated" / "stray.parquet").write_bytes(b"not written by a stage")
    assert recorded_files(run, "curated", reader="score") == [
        run / "curated" / "0.parquet",
        run / "curated" / "1.parquet",
    ]
    # score rewrites 0 in place: from then on its sha256 is the one to match, for later stages and for score itself
    (run / "curated" / "0.parquet").write_bytes(b"scored v2")
    with pytest.raises(StaleInputError, match="0.parquet changed after `hebatron curate` wrote it"):
        recorded_files(run, "curated", reader="score")
    record_stage(run, "score", writes=[run / "curated" / "0.parquet", run / "curated" / "1.parquet"])
    assert len(recorded_files(run, "curated", reader="shard")) == 2
    assert len(recorded_files(run, "curated", reader="score")) == 2
    # a change behind score's back: shard is told to re-run score; score itself cannot mend what curate wrote
    (run / "curated" / "1.parquet").write_bytes(b"edited")
    with pytest.raises(
        StaleInputError, match=r"1.parquet changed after `hebatron score` wrote it; re-run `hebatron score"
    ):
        recorded_files(run, "curated", reader="shard")
    with pytest.raises(StaleInputError, match="curate again into a new run directory"):
        recorded_files(run, "curated", reader="score")
    assert len(recorded_files(run, "curated", reader=None, hashes=False)) == 2  # existence only
    # a deleted file names the stage that first wrote it
    (run / "curated" / "1.parquet").unlink()
    with pytest.raises(
        MissingStageOutput, match=r"1.parquet is missing \(`hebatron curate` wrote it\).*\(then score\)"
    ):
        recorded_files(run, "curated", reader="shard")


def test_a_run_without_records_lists_nothing_and_old_in_place_records_count_as_writes(tmp_path) -> None:
    run = _run(tmp_path)
    assert recorded_files(run, "curated", reader="score") is None  # the caller lists the folder
    record_stage(run, "shard", writes=[run / "shards" / "manifest.json"])
    assert recorded_files(run, "curated", reader="score") is None  # records elsewhere say nothing of curated/
    assert recorded_files(run, "shards/manifest.json", reader="tokenize") == [run / "shards" / "manifest.json"]
    # a score record from before outputs were recorded: what it "read" is the curated files as it left them
    (run / ".stages" / "score.json").write_text(
        json.dumps({"stage": "score", "reads": {"curated/0.parquet": "0" * 64}})
    )
    assert recorded_outputs(run, "score") == {"curated/0.parquet": "0" * 64}
    assert recorded_outputs(run, "curate") is None
    with pytest.raises(StaleInputError, match="hebatron score"):
        recorded_files(run, "curated", reader="shard")
