"""Run files deleted, changed or cut short between stages, and run directories with awkward names, through the
CLI: every stage reads exactly what the stage before it recorded writing, a damaged file is one error line
naming it, paths reach DuckDB and glob as themselves, and a view exists (empty) whenever its stage has run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.reliability.helpers import SHARD_ROWS, TRAIN_ARGS, eval_records, hebatron


def _copy(snapshot: Path, dest: Path) -> Path:
    shutil.copytree(snapshot, dest, symlinks=True)
    (dest / ".lock").unlink(missing_ok=True)
    return dest


def _refused(*args) -> str:
    """Runs the command, which must refuse with exit code 2 and one error line (no traceback); returns it."""
    proc = hebatron(*args, check=False)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert proc.returncode == 2, f"hebatron {' '.join(map(str, args))}: exit {proc.returncode}\n{proc.stderr}"
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return errors[0]


def _sql(run: Path, query: str) -> list[dict]:
    return json.loads(hebatron("sql", run, query, "--format", "json").stdout)


def _cut(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# 1. every stage reads the files the previous stage recorded writing, checked by sha256


def test_a_curated_file_deleted_after_curate_stops_score_and_after_score_stops_shard(golden, anchors, tmp_path):
    run = _copy(golden["curated"], tmp_path / "curated")
    victim = sorted((run / "curated").glob("*.parquet"))[0]
    victim.unlink()
    line = _refused("score", run)
    assert str(victim) in line and "hebatron curate" in line and "new run directory" in line

    run = _copy(golden["scored"], tmp_path / "scored")
    victim = sorted((run / "curated").glob("*.parquet"))[-1]
    victim.unlink()
    line = _refused("shard", run, "--anchor", anchors, *SHARD_ROWS)
    assert str(victim) in line and "is missing" in line and "before `hebatron shard`" in line
    assert not (run / "shards").exists()


def test_a_changed_output_names_the_stage_that_wrote_it(golden, anchors, tmp_path):
    run = _copy(golden["scored"], tmp_path / "scored")
    path = sorted((run / "curated").glob("*.parquet"))[0]
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows - 1), path)  # a document dropped behind score's back
    line = _refused("shard", run, "--anchor", anchors, *SHARD_ROWS)
    assert f"{path} changed after `hebatron score` wrote it; re-run `hebatron score {run}`" in line

    run = _copy(golden["sharded"], tmp_path / "sharded")
    part = sorted((run / "shards").glob("phase-*/part-*.parquet"))[0]
    part.write_bytes(part.read_bytes()[:-16])
    assert f"{part} does not match the manifest" in _refused("tokenize", run)
    hebatron("shard", run, "--anchor", anchors, *SHARD_ROWS)  # it finds the damaged shard and writes it again
    assert part.read_bytes() == (golden["sharded"] / part.relative_to(run)).read_bytes()

    run = _copy(golden["tokenized"], tmp_path / "tokenized")
    idx = run / "tokens" / "phase-1" / "hebrew.idx"
    idx.write_bytes(idx.read_bytes()[:-8])
    line = _refused("train", run, "-o", tmp_path / "train", *TRAIN_ARGS)
    assert f"{idx} changed after `hebatron tokenize` wrote it; re-run `hebatron tokenize {run}`" in line
    assert not (tmp_path / "train").exists()
    hebatron("tokenize", run)  # what tokenize wrote is no longer intact: it tokenizes again
    assert idx.read_bytes() == (golden["tokenized"] / "tokens" / "phase-1" / "hebrew.idx").read_bytes()


def test_a_run_without_records_still_goes_on_from_its_folders(golden, anchors, tmp_path):
    run = _copy(golden["scored"], tmp_path / "old")
    shutil.rmtree(run / ".stages")  # as a run written before stages recorded their outputs
    hebatron("shard", run, "--anchor", anchors, *SHARD_ROWS)
    manifest = json.loads((run / "shards" / "manifest.json").read_text())
    assert manifest == json.loads((golden["sharded"] / "shards" / "manifest.json").read_text())


# 2. a damaged run file is one line naming it


@pytest.mark.parametrize(
    ("name", "commands"),
    [
        ("shards/manifest.json", [("tokenize",), ("stats",), ("sql", "SELECT count(*) FROM shards")]),
        ("cutoffs.json", [("stats",), ("shard", "--anchor", "ANCHORS")]),
        ("stats.json", [("stats",), ("sql", "SELECT 1"), ("report",)]),
    ],
)
def test_a_truncated_json_file_is_named(golden, anchors, tmp_path, name, commands):
    run = _copy(golden["tokenized"], tmp_path / "run")
    _cut(run / name)
    for command in commands:
        args = [anchors if a == "ANCHORS" else a for a in command[1:]]
        line = _refused(command[0], run, *args)
        assert str(run / name) in line, line
        assert "Traceback" not in line


def test_the_stage_named_for_a_damaged_file_mends_it(golden, anchors, tmp_path):
    run = _copy(golden["sharded"], tmp_path / "run")
    for name in ("cutoffs.json", "stats.json"):
        _cut(run / name)
    assert "re-run `hebatron score" in _refused("stats", run)
    hebatron("score", run)  # what score wrote is no longer intact: it scores again
    for name in ("cutoffs.json", "stats.json"):
        assert (run / name).read_bytes() == (golden["sharded"] / name).read_bytes()
    _cut(run / "shards" / "manifest.json")
    assert "re-run `hebatron shard" in _refused("tokenize", run)
    hebatron("shard", run, "--anchor", anchors, *SHARD_ROWS)
    hebatron("tokenize", run)


def test_a_checkpoint_whose_records_were_cut_off_is_not_done(tmp_path):
    from train.checkpoint import Completed
    from train.metrics import logged_checkpoints

    done = [Completed(tmp_path / f"phase-{k}", {"phase": k, "step": 3 * k}) for k in (1, 2, 3)]
    records = [{"kind": "train", "step": s, "phase": (s + 2) // 3} for s in range(1, 10)]
    records[2:2] = [{"kind": "eval", "after_phase": 1}]
    records[6:6] = [{"kind": "eval", "after_phase": 2}]
    lines = [json.dumps(r) for r in records] + [json.dumps({"kind": "eval", "after_phase": 3})]
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text("\n".join(lines) + "\n")
    assert logged_checkpoints(done, metrics) == done
    heard = []
    metrics.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])  # the eval after phase 3, cut short
    assert logged_checkpoints(done, metrics, heard.append) == done[:2]
    assert heard == [f"{metrics} lacks the records of phase 3 (a write cut short?); training again from after phase 2"]
    metrics.unlink()
    assert logged_checkpoints(done, metrics) == []


@pytest.mark.slow
def test_metrics_cut_mid_line_make_train_train_that_phase_again(golden, golden_train, tmp_path):
    train = tmp_path / "train"
    hebatron("train", golden["tokenized"], "-o", train, *TRAIN_ARGS)
    metrics = train / "metrics.jsonl"
    data = metrics.read_bytes()
    metrics.write_bytes(data[: data.rstrip(b"\n").rfind(b"\n") + 20])  # the last record (eval after 3) cut short

    proc = hebatron("train", golden["tokenized"], "-o", train, *TRAIN_ARGS)
    assert "already finished" not in proc.stdout
    assert f"{metrics} lacks the records of phase 3" in proc.stdout
    assert eval_records(train) == golden_train  # phase 3 trained again from its checkpoint, as uninterrupted


def test_a_cut_last_metrics_line_is_left_out_and_a_damaged_one_named(tmp_path):
    from common.layout import DamagedFileError
    from hebatron.report import training_section
    from train.metrics import read_metrics

    metrics = tmp_path / "metrics.jsonl"
    records = [{"kind": "train", "step": s, "phase": 1, "loss": 9.0 - s} for s in (1, 2, 3)]
    lines = [json.dumps(r) for r in records]
    metrics.write_text("\n".join(lines) + "\n" + lines[0][:20])  # a cut last line: an interrupted write
    assert read_metrics(metrics) == records
    assert "is cut short" in training_section(tmp_path)  # the report draws the rest and says so
    lines[1] = lines[1][:25]  # a damaged line in the middle is not an interrupted write
    metrics.write_text("\n".join(lines) + "\n")
    for read in (read_metrics, lambda path: training_section(path.parent)):
        with pytest.raises(DamagedFileError, match=f"{metrics}: line 2 is damaged"):
            read(metrics)


# 3. paths reach DuckDB and glob as themselves


@pytest.mark.parametrize("name", ["it's", "run[1]*", "a?b"])
def test_run_directories_with_quotes_and_glob_characters_are_read_as_themselves(golden, tmp_path, name):
    run = _copy(golden["tokenized"], tmp_path / name)
    # a sibling that the name, read as a glob, would also match
    _copy(golden["curated"], tmp_path / name.replace("'", "").replace("[1]*", "1x").replace("?", "x"))
    counted = _sql(
        run,
        "SELECT (SELECT count(*) FROM curated) c, (SELECT count(*) FROM excluded) e, (SELECT count(*) FROM shards) s",
    )[0]
    expected = {
        "c": sum(pq.ParquetFile(p).metadata.num_rows for p in (run / "curated").glob("*.parquet")),
        "e": sum(pq.ParquetFile(p).metadata.num_rows for p in (run / "excluded").glob("*.parquet")),
        "s": sum(pq.ParquetFile(p).metadata.num_rows for p in (run / "shards").glob("phase-*/*.parquet")),
    }
    assert counted == expected and expected["e"] > 0
    hebatron("stats", run)
    if name == "it's":
        hebatron("report", run)
        assert (run / "report.html").is_file()


def test_curate_into_a_glob_named_directory_deduplicates_as_any_other(small_input, golden, tmp_path):
    # datatrove lists dedup signatures by glob under the work folder: a run directory called run[1]* must not
    # be read as a pattern (it would find no signatures and keep every copy)
    run = tmp_path / "run[1]*"
    (tmp_path / "run1x").mkdir()  # a sibling the pattern would match
    hebatron("curate", small_input, "-o", run)
    got = json.loads((run / "stats.json").read_text())
    want = json.loads((golden["curated"] / "stats.json").read_text())
    assert got["drop_reasons"] == want["drop_reasons"] and got["curated_documents"] == want["curated_documents"]
    assert any(r["filter_reason"] == "exact_duplicate" for r in got["drop_reasons"])


def test_duckdb_reads_a_listed_file_as_itself(tmp_path):
    import duckdb

    from common.paths import sql_files

    pq.write_table(pa.table({"a": [1]}), tmp_path / "x*.parquet")
    pq.write_table(pa.table({"a": [2, 3]}), tmp_path / "xy.parquet")
    pq.write_table(pa.table({"a": [4]}), tmp_path / "q'[1].parquet")
    listed = sql_files([tmp_path / "x*.parquet", tmp_path / "q'[1].parquet"])
    assert duckdb.sql(f"SELECT list(a ORDER BY a) FROM read_parquet({listed})").fetchall() == [([1, 4],)]


# 4. a view exists, empty with its columns, whenever its stage has run


def test_with_nothing_excluded_the_readme_queries_work(news_docs, tmp_path):
    from curation.output import EXCLUDED_SCHEMA
    from hebatron.catalog import query
    from tests.curation.helpers import write_jsonl

    source = write_jsonl(tmp_path / "clean.jsonl", [{"id": f"n{i}", "text": t} for i, t in enumerate(news_docs[:8])])
    run = tmp_path / "run"
    hebatron("curate", source, "-o", run)
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in (run / "excluded").glob("*.parquet")) == 0
    readme = "SELECT filter_reason, count(*) n FROM excluded GROUP BY 1 ORDER BY n DESC"
    assert _sql(run, readme) == []
    assert "curated 8 of 8 input records" in hebatron("stats", run).stdout
    excluded, curated = query(run, "DESCRIBE excluded")[1], query(run, "DESCRIBE curated")[1]
    assert [c[0] for c in excluded] == EXCLUDED_SCHEMA.names
    assert excluded[:-2] == curated and [c[:2] for c in excluded[-2:]] == [
        ("filter_reason", "VARCHAR"),
        ("matched_ngram", "VARCHAR"),
    ]
    assert query(run, "SELECT * FROM drop_reasons") == (["filter_reason", "documents", "characters"], [])
