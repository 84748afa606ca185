"""Anchor files: discovery, reading, errors that name the file, and the standard-library sample set."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shards.anchors import AnchorError, discover_anchors, iter_anchor_batches, write_sample_anchors


def _jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _texts(paths: list[Path]) -> list[tuple[str, int, str]]:
    return [
        (a.source, r, t)
        for a in discover_anchors(paths)
        for rs, ts in iter_anchor_batches(a, 2)
        for r, t in zip(rs, ts, strict=True)
    ]


def test_sample_anchors(tmp_path) -> None:
    path = write_sample_anchors(tmp_path / "en.jsonl")
    docs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    words = sum(len(d["text"].split()) for d in docs)
    assert 60_000 <= words <= 70_000
    assert len(docs) > 300
    assert all(d["text"].strip() for d in docs)
    assert len({d["id"] for d in docs}) == len(docs)
    assert sum(len(d["text"].split()) >= 80 for d in docs) / len(docs) > 0.7
    assert "assignment statement" in " ".join(d["text"] for d in docs).lower()
    # deterministic, also gzipped
    assert write_sample_anchors(tmp_path / "again.jsonl").read_bytes() == path.read_bytes()
    gz = write_sample_anchors(tmp_path / "en.jsonl.gz")
    assert gzip.decompress(gz.read_bytes()) == path.read_bytes()
    assert write_sample_anchors(tmp_path / "en2.jsonl.gz").read_bytes() == gz.read_bytes()


def test_formats_folders_and_record_numbers(tmp_path) -> None:
    _jsonl(tmp_path / "a.jsonl", [{"text": "one"}, {"text": "  "}, {"text": None}, {"text": "four", "x": 1}])
    sub = tmp_path / "more"
    sub.mkdir()
    with gzip.open(sub / "b.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(json.dumps({"text": "gz"}) + "\n\n")
    pq.write_table(pa.table({"text": ["p0", None, "p2"], "id": ["x", "y", "z"]}), sub / "c.parquet")
    (sub / "notes.txt").write_text("ignored in folders")
    got = _texts([tmp_path / "a.jsonl", sub])
    assert got == [("a", 0, "one"), ("a", 3, "four"), ("b", 0, "gz"), ("c", 0, "p0"), ("c", 2, "p2")]


def test_same_file_names_get_unique_sources(tmp_path) -> None:
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
        _jsonl(tmp_path / d / "en.jsonl", [{"text": d}])
    assert [a.source for a in discover_anchors([tmp_path / "x", tmp_path / "y"])] == ["en", "en-2"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.jsonl", "anchor file not found: .*missing.jsonl"),
        (lambda d: (d / "empty.jsonl").touch() or d / "empty.jsonl", "empty.jsonl: anchor file is empty"),
        (lambda d: _write(d / "blank.jsonl", b"\n \n"), "blank.jsonl: anchor file is empty"),
        (
            lambda d: _jsonl(d / "notext.jsonl", [{"text": "ok"}, {"body": "x"}]),
            "notext.jsonl:2: record has no 'text' field \\(fields: body\\)",
        ),
        (lambda d: _jsonl(d / "nulls.jsonl", [{"text": None}, {"text": ""}]), "nulls.jsonl: anchor file holds no text"),
        (lambda d: _write(d / "bad.jsonl", b'{"text": "a"}\n{oops\n'), "bad.jsonl:2: not a JSON object"),
        (lambda d: _jsonl(d / "num.jsonl", [{"text": 5}]), "num.jsonl:1: 'text' must be a string"),
        (
            lambda d: _write(d / "trunc.jsonl.gz", gzip.compress(b'{"text": "a"}\n' * 100)[:40]),
            "trunc.jsonl.gz: cannot read anchor file",
        ),
        (
            lambda d: pq.write_table(pa.table({"body": ["x"]}), d / "nocol.parquet") or d / "nocol.parquet",
            "nocol.parquet: anchor file has no 'text' column \\(columns: body\\)",
        ),
        (
            lambda d: pq.write_table(pa.table({"text": pa.array([], pa.string())}), d / "none.parquet")
            or d / "none.parquet",
            "none.parquet: anchor file is empty",
        ),
        (lambda d: _write(d / "fake.parquet", b"not parquet"), "fake.parquet: not a readable Parquet file"),
        (lambda d: _write(d / "en.txt", b"x"), "en.txt: unsupported anchor file"),
        (lambda d: (d / "dir").mkdir() or d / "dir", "dir: anchor folder holds no"),
    ],
)
def test_errors_name_the_file(tmp_path, make, message) -> None:
    path = make(tmp_path)
    with pytest.raises(AnchorError, match=message):
        _texts([path])


def test_no_anchors() -> None:
    with pytest.raises(AnchorError, match="no anchor files given"):
        discover_anchors([])


@pytest.mark.parametrize("kind", ["missing", "empty", "notext"])
def test_shard_run_reports_bad_anchor_before_writing(fresh_run, tmp_path, anchors, kind) -> None:
    from shards.config import ShardConfig
    from shards.run import shard_run

    bad = {
        "missing": tmp_path / "nope.jsonl",
        "empty": tmp_path / "empty.jsonl",
        "notext": _jsonl(tmp_path / "notext.jsonl", [{"content": "x"}]),
    }[kind]
    if kind == "empty":
        bad.touch()
    with pytest.raises(AnchorError, match=bad.name):
        shard_run(fresh_run, [anchors, bad], ShardConfig(), progress=False)
    assert not (fresh_run / "shards").exists()
    assert not (fresh_run / "tokenizer").exists()
    assert not list(fresh_run.glob(".shards.tmp-*"))
