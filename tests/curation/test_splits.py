"""One large file read by several tasks: the parts cover it exactly, and the output equals reading it whole."""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import replace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation import splits
from curation.config import CurationConfig, ReaderConfig
from curation.readers import CrawlReader
from curation.run import curate
from curation.splits import split_inputs
from tests.curation.helpers import html_page, write_warc


def _records(path, parts) -> list[tuple]:
    reader = CrawlReader(str(path.parent), files=parts)
    return [
        (d.metadata["position"], d.id, d.text, d.metadata.get("filter_reason"))
        for part in parts
        for d in reader.read_file(part)
    ]


def rows(run, name) -> list[tuple]:
    """A run's curated or excluded rows (id, text, position[, reason]), sorted."""
    cols = ["id", "text", "position"] + (["filter_reason"] if name == "excluded" else [])
    tables = [pq.read_table(f, columns=cols) for f in sorted((run / name).glob("*.parquet"))]
    return sorted(tuple(r.values()) for t in tables for r in t.to_pylist())


def _jsonl(path, rng: random.Random, n: int, docs: list[str]) -> None:
    lines = []
    for i in range(n):
        kind = rng.random()
        if kind < 0.05:
            lines.append(b'{"id": "bad' + str(i).encode() + b'", "text": ')  # cut JSON
        elif kind < 0.08:
            lines.append(b"")  # a blank line: no record
        else:
            text = rng.choice(docs) * rng.choice([1, 1, 1, 30])  # now and then a line longer than a part
            lines.append(json.dumps({"id": f"d{i}", "text": text}, ensure_ascii=False).encode())
    eol = rng.choice([b"\n", b"\r\n"])
    path.write_bytes(b"\xef\xbb\xbf" + eol.join(lines) + (eol if rng.random() < 0.5 else b""))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jsonl_parts_read_exactly_the_whole_file(tmp_path, news_docs, seed):
    rng = random.Random(seed)
    path = tmp_path / "big.jsonl"
    _jsonl(path, rng, 400, news_docs)
    split = rng.randint(20_000, 60_000)
    parts = split_inputs(tmp_path, ["big.jsonl"], split)
    assert len(parts) >= path.stat().st_size // split // 2 > 2
    starts = [p["bytes"][0] for p in parts]
    assert starts[0] == 0 and all(path.read_bytes()[s - 1 : s] == b"\n" for s in starts[1:])
    assert [p["bytes"][1] for p in parts[:-1]] == starts[1:] and parts[-1]["bytes"][1] == path.stat().st_size
    assert _records(path, parts) == _records(path, ["big.jsonl"])


def test_parquet_parts_are_row_groups_with_their_first_row(tmp_path, news_docs):
    texts = [news_docs[i % len(news_docs)] for i in range(600)]
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"id": [f"p{i}" for i in range(600)], "text": texts}), path, row_group_size=50)
    parts = split_inputs(tmp_path, ["big.parquet"], path.stat().st_size // 4)
    assert len(parts) >= 3
    assert [p["row"] for p in parts] == [p["row_groups"][0] * 50 for p in parts]
    assert _records(path, parts) == _records(path, ["big.parquet"])


def test_compressed_or_small_files_are_read_whole(tmp_path):
    (tmp_path / "small.jsonl").write_text('{"text": "שלום"}\n')
    (tmp_path / "packed.jsonl").write_bytes(gzip.compress(b'{"text": "x"}\n' * 10_000))
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(b'{"text": "x"}\n' * 10_000))
    names = ["small.jsonl", "packed.jsonl", "a.jsonl.gz"]
    assert split_inputs(tmp_path, names, 100) == names
    assert split_inputs(tmp_path, names, 0) == names


def test_a_split_run_equals_the_one_task_run(tmp_path, news_docs):
    rng = random.Random(7)
    inputs = tmp_path / "in"
    inputs.mkdir()
    records = []
    for i in range(240):
        text = rng.choice(news_docs[:150])  # copies: exact duplicates across parts
        if rng.random() < 0.1:
            text = "The weather report for the coming week says rain. " * 12
        records.append(json.dumps({"id": f"r{i}", "text": text}, ensure_ascii=False))
    (inputs / "one.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    size = (inputs / "one.jsonl").stat().st_size
    whole = replace(CurationConfig(), reader=ReaderConfig(split_bytes=0))
    split = replace(CurationConfig(), reader=ReaderConfig(split_bytes=size // 5))
    a = curate([inputs], tmp_path / "whole", whole)
    b = curate([inputs], tmp_path / "split", split, workers=2)
    assert json.loads((tmp_path / "split" / ".work" / "plan.json").read_text())["tasks"] >= 5

    for name in ("curated", "excluded"):
        assert rows(tmp_path / "split", name) == rows(tmp_path / "whole", name)
    assert a["drop_reasons"] == b["drop_reasons"] and a["curated_documents"] == b["curated_documents"] >= 50


def test_of_exact_copies_the_first_in_input_order_is_kept(tmp_path, news_docs):
    inputs = tmp_path / "in"
    inputs.mkdir()
    a = [{"id": f"a{i}", "text": news_docs[i]} for i in range(3)]
    b = [{"id": "b0", "text": news_docs[2]}, {"id": "b1", "text": news_docs[5]}]  # b0 copies a2
    for name, records in (("a.jsonl", a), ("b.jsonl", b)):
        (inputs / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    run = tmp_path / "run"
    curate([inputs], run)
    excluded = pq.read_table(run / "excluded", columns=["id", "filter_reason"]).to_pylist()
    assert {"id": "b0", "filter_reason": "exact_duplicate"} in excluded  # not a2, though b0 comes first in its task


def _gz_warc(path, rng: random.Random, docs: list[str], n: int) -> None:
    """A gzip-per-record WARC of N pages, with a damaged member and a stray non-gzip chunk now and then."""
    pages = [(f"https://news.co.il/{i}", html_page(rng.choice(docs)), "utf-8") for i in range(n)]
    write_warc(path, pages)
    data = path.read_bytes()
    members, at = [], 0
    while at < len(data):  # cut the file into its members: each is one record
        nxt = data.find(b"\x1f\x8b\x08", at + 1)
        nxt = len(data) if nxt < 0 else nxt
        members.append(data[at:nxt])
        at = nxt
    for k in sorted(rng.sample(range(1, len(members) - 1), 3), reverse=True):
        if rng.random() < 0.5:
            members[k] = members[k][: len(members[k]) // 2]  # a cut member
        else:
            members.insert(k, b"junk between records\r\n" * 3)
    path.write_bytes(b"".join(members))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gzip_warc_parts_read_exactly_the_whole_file(tmp_path, news_docs, seed):
    rng = random.Random(seed)
    path = tmp_path / "crawl.warc.gz"
    _gz_warc(path, rng, news_docs, 120)
    split = path.stat().st_size // rng.randint(4, 9)
    parts = split_inputs(tmp_path, ["crawl.warc.gz"], split)
    assert len(parts) >= 3
    data = path.read_bytes()
    starts = [p["bytes"][0] for p in parts]
    assert starts[0] == 0 and all(data[s : s + 3] == b"\x1f\x8b\x08" for s in starts)
    assert [p["bytes"][1] for p in parts[:-1]] == starts[1:] and parts[-1]["bytes"][1] == len(data)
    whole = _records(path, ["crawl.warc.gz"])
    assert _records(path, parts) == whole
    assert sum(r[3] is None for r in whole) >= 100 and any(r[3] for r in whole)  # pages read, damage reported


def test_warc_files_without_member_boundaries_are_read_whole(tmp_path, news_docs):
    pages = [(f"https://news.co.il/{i}", html_page(news_docs[i]), "utf-8") for i in range(60)]
    plain = gzip.decompress(write_warc(tmp_path / "members.warc.gz", pages).read_bytes())
    (tmp_path / "plain.warc").write_bytes(plain)
    (tmp_path / "stream.warc.gz").write_bytes(gzip.compress(plain))  # one gzip stream for the whole file
    names = ["plain.warc", "stream.warc.gz"]
    assert split_inputs(tmp_path, names, 1000) == names
    assert len(split_inputs(tmp_path, ["members.warc.gz"], 1000)) > 10


def test_one_warc_is_cut_into_a_part_per_worker(tmp_path, news_docs, monkeypatch):
    monkeypatch.setattr(splits, "MIN_PART_BYTES", 1)
    rng = random.Random(5)
    inputs = tmp_path / "in"
    inputs.mkdir()
    _gz_warc(inputs / "crawl.warc.gz", rng, news_docs[:40], 90)  # exact copies across the parts
    a = curate([inputs], tmp_path / "whole")
    b = curate([inputs], tmp_path / "split", workers=2)
    assert json.loads((tmp_path / "split" / ".work" / "plan.json").read_text())["tasks"] == 2
    parts = json.loads((tmp_path / "split" / ".work" / "inputs.json").read_text())
    assert [p["path"] for p in parts] == ["crawl.warc.gz"] * 2

    for name in ("curated", "excluded"):
        assert rows(tmp_path / "split", name) == rows(tmp_path / "whole", name)
    assert a["drop_reasons"] == b["drop_reasons"] and a["curated_documents"] == b["curated_documents"] >= 30
    again = curate([inputs], tmp_path / "split", workers=1)  # resumed with other workers: the same run
    assert again["resumed"] == "already complete"
