"""The layouts corpora ship in are read without options: text, id, URL and metadata in their columns."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from loguru import logger

from curation.config import CurationConfig, ReaderConfig
from curation.layouts import METADATA_FIELDS, lookup
from curation.output import CURATED_SCHEMA, flat_record
from curation.readers import CrawlReader
from curation.run import curate
from tests.curation.helpers import write_jsonl

N = 20


def _url(i: int) -> str:
    return f"https://news.example.co.il/article/{i}"


def _date(i: int) -> str:
    return f"2024-02-{i + 1:02d}T10:00:00Z"


# layout -> (record i of text t, the metadata columns it should give)
LAYOUTS = {
    "fineweb": (
        lambda i, t: {
            "text": t,
            "id": f"<urn:uuid:fw-{i}>",
            "dump": "CC-MAIN-2024-10",
            "url": _url(i),
            "date": _date(i),
            "file_path": "s3://commoncrawl/x.warc.gz",
            "language": "he",
            "language_score": 0.9 + i / 1000,
            "token_count": 100,
        },
        lambda i: {"date": _date(i), "dump": "CC-MAIN-2024-10", "source_language_score": 0.9 + i / 1000},
    ),
    "fineweb2": (
        lambda i, t: {
            "text": t,
            "id": f"<urn:uuid:fw2-{i}>",
            "dump": "CC-MAIN-2023-50",
            "url": _url(i),
            "date": _date(i),
            "file_path": "s3://commoncrawl/y.warc.gz",
            "language": "heb",
            "language_score": 0.8 + i / 1000,
            "language_script": "Hebr",
            "minhash_cluster_size": i + 1,
            "top_langs": '{"heb_Hebr_score": 0.99}',
        },
        lambda i: {
            "date": _date(i),
            "dump": "CC-MAIN-2023-50",
            "source_language_score": 0.8 + i / 1000,
            "source_cluster_size": i + 1,
        },
    ),
    "hplt": (
        lambda i, t: {
            "id": f"hplt-{i}",
            "u": _url(i),
            "ts": _date(i),
            "collection": "wide16",
            "lang": ["heb_Hebr"],
            "prob": [0.97],
            "text": t,
        },
        lambda i: {"date": _date(i), "dump": "wide16"},
    ),
    "oscar": (
        lambda i, t: {
            "content": t,
            "warc_headers": {
                "warc-record-id": f"<urn:uuid:oscar-{i}>",
                "warc-target-uri": _url(i),
                "warc-date": _date(i),
                "warc-type": "conversion",
            },
            "metadata": {"identification": {"label": "he", "prob": 0.75 + i / 100}, "harmful_pp": 12.5},
        },
        lambda i: {"date": _date(i), "source_language_score": 0.75 + i / 100},
    ),
    "culturax": (
        lambda i, t: {"text": t, "timestamp": _date(i), "url": _url(i), "source": "mC4"},
        lambda i: {"date": _date(i), "dump": "mC4"},
    ),
    "dolma": (
        lambda i, t: {
            "id": f"dolma-{i}",
            "text": t,
            "source": "common-crawl",
            "added": "2024-05-01",
            "created": _date(i),
            "metadata": {"url": _url(i), "length": len(t)},
        },
        lambda i: {"date": _date(i), "dump": "common-crawl"},
    ),
}
# how each layout is stored: the formats its corpus ships in
STORED = [
    ("fineweb", "parquet"),
    ("fineweb2", "parquet"),
    ("fineweb2", "jsonl"),
    ("hplt", "jsonl"),
    ("oscar", "jsonl"),
    ("oscar", "parquet"),
    ("culturax", "parquet"),
    ("culturax", "jsonl"),
    ("dolma", "jsonl"),
    ("fineweb2", "save_to_disk"),
    ("culturax", "save_to_disk"),
]


def write_layout(folder: Path, layout: str, fmt: str, docs: list[str]) -> tuple[list[dict], list[str]]:
    """Writes N records of LAYOUT as FMT under FOLDER; returns the records and the files to read."""
    make = LAYOUTS[layout][0]
    records = [make(i, docs[i]) for i in range(N)]
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        write_jsonl(folder / f"{layout}.jsonl", records)
        return records, [f"{layout}.jsonl"]
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(records), folder / f"{layout}.parquet", row_group_size=7)
        return records, [f"{layout}.parquet"]
    import datasets

    datasets.Dataset.from_list(records).save_to_disk(str(folder / layout))
    return records, sorted(str(p.relative_to(folder)) for p in (folder / layout).glob("*.arrow"))


def read_rows(folder: Path, files: list[str], **keys) -> list[dict]:
    reader = CrawlReader(str(folder), files=files, **keys)
    rows = []
    for name in files:
        for doc in reader.read_file(name):
            row = flat_record(doc)
            row["filter_reason"] = doc.metadata.get("filter_reason")
            rows.append(row)
    return rows


@pytest.fixture
def errors():
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    yield lines
    logger.remove(sink)


@pytest.mark.parametrize(("layout", "fmt"), STORED, ids=[f"{a}-{b}" for a, b in STORED])
def test_every_layout_is_read_with_its_text_id_url_and_metadata(tmp_path, news_docs, layout, fmt, errors):
    records, files = write_layout(tmp_path, layout, fmt, news_docs)
    rows = read_rows(tmp_path, files)
    assert len(rows) == N
    assert [r["filter_reason"] for r in rows] == [None] * N
    assert [r["text"] for r in rows] == news_docs[:N]
    assert [r["url"] for r in rows] == [_url(i) for i in range(N)]
    expected_ids = [lookup(r, "id") if "id" in r else lookup(r, "warc_headers.warc-record-id") for r in records]
    if layout == "culturax":  # CulturaX has no id: the record's place in its file
        assert [r["source_id"] for r in rows] == [None] * N
        assert len({r["id"] for r in rows}) == N
    else:
        assert [r["source_id"] for r in rows] == expected_ids
        assert [r["id"] for r in rows] == expected_ids
    expected_meta = LAYOUTS[layout][1]
    for i, row in enumerate(rows):
        want = {name: None for name in METADATA_FIELDS} | expected_meta(i)
        got = {name: row[name] for name in METADATA_FIELDS}
        assert got == pytest.approx(want) if want["source_language_score"] is not None else got == want
    assert errors == []
    # the rows fit the contract's columns and types
    table = pa.Table.from_pylist([{k: r[k] for k in CURATED_SCHEMA.names} for r in rows], schema=CURATED_SCHEMA)
    assert table.num_rows == N


def test_explicit_keys_win_over_the_layout(tmp_path, news_docs):
    # FineWeb-shaped, but the text to curate is elsewhere and the URL is nested
    records = [
        {
            "text": "summary",
            "id": f"x{i}",
            "url": "https://wrong.example/",
            "dump": "d",
            "body": {"he": news_docs[i]},
            "links": {"canonical.url": _url(i)},  # a key that itself holds a dot
        }
        for i in range(N)
    ]
    write_jsonl(tmp_path / "in.jsonl", records)
    rows = read_rows(tmp_path, ["in.jsonl"], text_key="body.he", url_key="links.canonical.url")
    assert [r["text"] for r in rows] == news_docs[:N]
    assert [r["url"] for r in rows] == [_url(i) for i in range(N)]
    assert [r["id"] for r in rows] == [f"x{i}" for i in range(N)]
    assert {r["dump"] for r in rows} == {"d"}  # the layout's other fields still apply


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_file_without_its_text_field_is_one_error_line_and_counted(tmp_path, news_docs, fmt, errors):
    records = [{"body": news_docs[i], "headers": {"uri": _url(i)}, "lang": "he"} for i in range(N)]
    if fmt == "jsonl":
        write_jsonl(tmp_path / "in.jsonl", records)
    else:
        pq.write_table(pa.Table.from_pylist(records), tmp_path / "in.parquet")
    rows = read_rows(tmp_path, [f"in.{fmt}"])
    assert [r["filter_reason"] for r in rows] == ["reader:no_text"] * N
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"in.{fmt}: no text field 'text' (fields: body, headers, lang)")
    assert errors[0].endswith("pass --text-key")


def test_key_paths_are_checked_in_the_config():
    with pytest.raises(ValueError, match="reader.url_key"):
        ReaderConfig(url_key="warc_headers..uri")
    assert ReaderConfig(text_key="content").text_key == "content"


def test_curated_and_excluded_keep_the_inputs_metadata(tmp_path, news_docs):
    inp = tmp_path / "in"
    write_layout(inp, "fineweb2", "parquet", news_docs)
    write_layout(inp, "oscar", "jsonl", news_docs[N : 2 * N])
    run = tmp_path / "run"
    curate([inp], run, CurationConfig())
    con = duckdb.connect()
    rows = con.sql(
        f"SELECT url, date, dump, source_language_score, source_cluster_size, source FROM "
        f"(SELECT * FROM read_parquet('{run}/curated/*.parquet') UNION ALL BY NAME "
        f"SELECT * FROM read_parquet('{run}/excluded/*.parquet')) ORDER BY source, position"
    ).fetchall()
    assert len(rows) == 2 * N
    fw2 = [r for r in rows if r[5].endswith(".parquet")]
    oscar = [r for r in rows if r[5].endswith(".jsonl")]
    assert [r[:5] for r in fw2] == [
        (_url(i), _date(i), "CC-MAIN-2023-50", pytest.approx(0.8 + i / 1000), i + 1) for i in range(N)
    ]
    assert [r[:5] for r in oscar] == [(_url(i), _date(i), None, pytest.approx(0.75 + i / 100), None) for i in range(N)]
    curated = con.sql(f"SELECT count(*) FROM read_parquet('{run}/curated/*.parquet')").fetchall()[0][0]
    assert curated > 0


def test_cli_takes_dotted_keys(tmp_path, news_docs):
    records = [{"doc": {"body": news_docs[i]}, "meta": {"link": _url(i)}, "key": f"k{i}"} for i in range(N)]
    write_jsonl(tmp_path / "in.jsonl", records)
    run = tmp_path / "run"
    args = ["--text-key", "doc.body", "--url-key", "meta.link", "--id-key", "key"]
    cmd = [sys.executable, "-m", "hebatron", "curate", str(tmp_path / "in.jsonl"), "-o", str(run), *args]
    subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=Path(__file__).parents[2])
    stats = json.loads((run / "stats.json").read_text())
    reasons = duckdb.sql(f"SELECT DISTINCT filter_reason FROM read_parquet('{run}/excluded/*.parquet')").fetchall()
    assert ("reader:no_text",) not in reasons
    ids = duckdb.sql(
        f"SELECT id, url FROM (SELECT id, url FROM read_parquet('{run}/curated/*.parquet') UNION ALL "
        f"SELECT id, url FROM read_parquet('{run}/excluded/*.parquet')) ORDER BY url"
    ).fetchall()
    assert sorted(ids) == sorted((f"k{i}", _url(i)) for i in range(N))
    assert stats


def test_cli_refuses_an_empty_key_path(tmp_path, news_docs):
    write_jsonl(tmp_path / "in.jsonl", [{"text": news_docs[0]}])
    cmd = [sys.executable, "-m", "hebatron", "curate", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "run")]
    done = subprocess.run([*cmd, "--text-key", "a..b"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "--text-key" in done.stderr and "Traceback" not in done.stderr
