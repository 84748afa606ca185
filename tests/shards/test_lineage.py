"""Lineage: every shard row leads back to its input record (re-read by the stored position) and forward to its
token range in the phase's .bin."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from hebatron.catalog import query


@pytest.fixture(scope="module")
def lineage(tokenized) -> list[dict]:
    run, _, _ = tokenized
    cols, rows = query(run, "SELECT * FROM lineage WHERE row_id IS NOT NULL ORDER BY phase, shard, shard_row")
    return [dict(zip(cols, r, strict=True)) for r in rows]


def test_every_shard_row_has_one_lineage_row_with_its_token_range(tokenized, lineage) -> None:
    run, manifest, summary = tokenized
    assert len(lineage) == sum(f["rows"] for p in manifest["phases"].values() for f in p["files"])
    assert len({(r["shard"], r["shard_row"]) for r in lineage}) == len(lineage)
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    from shards.tokenizer import load_tokenizer

    tok = load_tokenizer(run / manifest["tokenizer"]["path"])
    rng = np.random.default_rng(0)
    datasets: dict[str, IndexedDataset] = {}
    for r in rng.choice(lineage, 40, replace=False):
        prefix = str(run / "tokens" / r["prefix"])
        ds = datasets.setdefault(prefix, IndexedDataset(prefix))
        text = pq.read_table(run / "shards" / r["shard"], columns=["text"]).column(0)[r["shard_row"]].as_py()
        want = [*tok.encode_batch([text])[0], tok.eod_id]
        assert ds[r["document"]].tolist() == want
        bin_tokens = np.memmap(prefix + ".bin", dtype=ds.index.dtype, mode="r")
        assert bin_tokens[r["first_token"] : r["first_token"] + r["tokens"]].tolist() == want


def test_hebrew_rows_lead_back_to_their_warc_record(tokenized, lineage, crawl) -> None:
    """Re-read by byte offset with warcio alone: the same record id and URL, and the HTML the reader read."""
    from warcio.archiveiterator import ArchiveIterator

    from curation.readers import CrawlReader, declared_charset, decode_html

    hebrew = [r for r in lineage if r["role"] == "hebrew"]
    assert hebrew and all(r["outcome"] == "curated" and r["source"] for r in hebrew)
    assert {r["source_path"] for r in hebrew} == {str(crawl.warc_path)}
    # what the reader read, in input order: the text before extraction, by position
    reader = CrawlReader(str(crawl.warc_path.parent), files=[crawl.warc_path.name])
    before = {d.metadata["position"]: d for d in reader.read_file(crawl.warc_path.name)}
    with open(hebrew[0]["source_path"], "rb") as f:
        for r in hebrew:
            f.seek(r["position"])
            record = next(iter(ArchiveIterator(f)))
            assert record.rec_headers.get_header("WARC-Target-URI") == r["url"]
            assert record.rec_headers.get_header("WARC-Record-ID") == r["source_id"]
            payload = record.content_stream().read()
            ctype = record.http_headers.get_header("Content-Type")
            html, _ = decode_html(payload, declared_charset(ctype, payload))
            assert before[r["position"]].text == html
            assert before[r["position"]].metadata["url"] == r["url"]


def test_anchor_rows_name_their_file_and_record(lineage, anchors) -> None:
    rows = [r for r in lineage if r["role"] == "anchor"]
    assert rows and all(r["outcome"] == "anchor" and r["source"] == anchors.stem for r in rows)
    assert all(isinstance(r["position"], int) for r in rows)


def test_trace_prints_the_path(tokenized, lineage) -> None:
    from hebatron.lineage import trace

    run, _, _ = tokenized
    r = next(r for r in lineage if r["role"] == "hebrew")
    got = trace(run, r["id"])
    assert [(g["phase"], g["shard"], g["first_token"]) for g in got if g["row_id"]] == [
        (r["phase"], r["shard"], r["first_token"])
    ]
    assert trace(run, r["source_id"]) == got  # the input's own id finds it too
