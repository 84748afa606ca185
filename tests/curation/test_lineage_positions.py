"""Positions lead back to the record: a JSONL line or a Parquet row re-read by the stored position has the
row's input id, URL and text; a line rejected before it parses keeps its own id beside `file:line`."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from curation.readers import CrawlReader, salvage_id
from curation.run import curate
from hebatron.catalog import query
from tests.curation.helpers import write_jsonl


def test_jsonl_and_parquet_positions_re_read(news_docs, tmp_path) -> None:
    records = [{"id": f"j{i}", "url": f"https://news.example/{i}", "text": t} for i, t in enumerate(news_docs[:8])]
    lines = [*records[:3], b"\n", b'{"id": "broken-1", "text": "cut\n', *records[3:]]
    jsonl = write_jsonl(tmp_path / "in.jsonl", lines)
    rows = [{"id": f"p{i}", "url": f"https://pq.example/{i}", "text": t} for i, t in enumerate(news_docs[8:14])]
    parquet = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet, row_group_size=2)
    run = tmp_path / "run"
    curate([jsonl, parquet], run)

    cols, got = query(run, "SELECT id, source, source_path, position, source_id, url, filter_reason FROM lineage")
    got = [dict(zip(cols, r, strict=True)) for r in got]
    jsonl_lines = jsonl.read_bytes().split(b"\n")
    table = pq.read_table(parquet).to_pylist()
    reader = CrawlReader(str(tmp_path), files=["in.jsonl", "in.parquet"])
    before = {
        (d.metadata["source"], d.metadata["position"]): d
        for f in ("in.jsonl", "in.parquet")
        for d in reader.read_file(f)
    }
    seen = 0
    for r in got:
        assert r["source_path"] == str({"in.jsonl": jsonl, "in.parquet": parquet}[r["source"]])
        if r["source"].endswith("in.jsonl"):
            line = jsonl_lines[r["position"] - 1]
            if r["filter_reason"] == "reader:malformed_json":
                assert r["id"].endswith("in.jsonl:5") and r["source_id"] == "broken-1"
                continue
            record = json.loads(line)
        else:
            record = table[r["position"]]
        assert (record["id"], record["url"]) == (r["source_id"], r["url"])
        assert before[(r["source"], r["position"])].text == record["text"]
        seen += 1
    assert seen == 14


def test_salvage_id() -> None:
    assert salvage_id(b'{"id": "doc-7", "text": "cut', "id") == "doc-7"
    assert salvage_id(b'{"text": "x", "doc_id": 42,', "doc_id") == "42"
    assert salvage_id(b"not json at all", "id") is None
