"""The reader turns every bad record and every damaged file into counted rejections, never an exception, and
keeps every intact record: each input record ends as exactly one document."""

from __future__ import annotations

import gzip
import io
import json

import brotli
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datatrove.data import Document
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curation.readers import CrawlReader
from tests.reliability.damage import Corpus, write_corpus


def read(folder, *names, **kw) -> list[Document]:
    return list(CrawlReader(str(folder), files=list(names), **kw).run())


def reasons(docs) -> list[str | None]:
    return [d.metadata.get("filter_reason") for d in docs]


def warc_record(i: int, *, charset="utf-8", headers=(), body: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    html = f"<html><body><p>ידיעה מספר {i}</p></body></html>"
    http = StatusAndHeaders("200 OK", [("Content-Type", f"text/html; charset={charset}"), *headers], "HTTP/1.1")
    payload = body if body is not None else html.encode("utf-8")
    rec = writer.create_warc_record(
        f"http://a.co.il/{i}", "response", payload=io.BytesIO(payload), http_headers=http,
        warc_headers_dict={"WARC-Record-ID": f"<urn:uuid:r{i}>"},
    )  # fmt: skip
    writer.write_record(rec)
    return buf.getvalue()


def write_warc(path, records: list[bytes]) -> list[int]:
    """Writes the records (one gzip member each for .gz); returns their byte offsets."""
    gz = path.name.endswith(".gz")
    parts = [gzip.compress(r, mtime=0) if gz else r for r in records]
    path.write_bytes(b"".join(parts))
    return [sum(map(len, parts[:i])) for i in range(len(parts))]


def wrong_length(record: bytes, delta: int) -> bytes:
    s = record.index(b"Content-Length: ") + 16
    e = record.index(b"\r\n", s)
    return record[:s] + str(int(record[s:e]) + delta).encode() + record[e:]


# -- JSONL -------------------------------------------------------------------------------------------------------
def test_lone_surrogate_is_rejected_and_language_id_cannot_be_crashed_by_it(tmp_path):
    from curation.language import LanguageID

    (tmp_path / "a.jsonl").write_bytes(b'{"id": "s", "text": "abc \\ud800 def"}\n{"id": "ok", "text": "shalom"}\n')
    docs = read(tmp_path, "a.jsonl")
    assert reasons(docs) == ["reader:invalid_unicode", None]
    assert docs[0].metadata["source_id"] == "s"
    # a step further on never sees it, and would drop it rather than fail if it did
    assert LanguageID().filter(Document(text="שלום עולם \ud800", id="x")) == (False, "language:unscorable")


def test_deep_nesting_and_overlong_integers_are_malformed_json(tmp_path):
    deep = b'{"id": "d", "text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    long_int = b'{"id": "n", "text": "x", "n": ' + b"9" * 5000 + b"}\n"
    (tmp_path / "a.jsonl").write_bytes(deep + long_int + b'{"id": "ok", "text": "x"}\n')
    docs = read(tmp_path, "a.jsonl")
    assert reasons(docs) == ["reader:malformed_json", "reader:malformed_json", None]
    assert [d.metadata["position"] for d in docs] == [1, 2, 3]


def test_byte_order_mark_is_accepted(tmp_path):
    bom = b"\xef\xbb\xbf"
    (tmp_path / "a.jsonl").write_bytes(bom + b'{"id": "a", "text": "x"}\n' + bom + b'{"id": "b", "text": "y"}\n')
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(bom + b'{"id": "c", "text": "z"}\n'))
    docs = read(tmp_path, "a.jsonl", "b.jsonl.gz")
    assert [(d.id, d.metadata.get("filter_reason")) for d in docs] == [("a", None), ("b", None), ("c", None)]


def test_records_without_usable_text_are_counted_and_findable(tmp_path):
    values = [3, 2.5, ["a"], {"a": 1}, None, "", "   "]
    lines = [json.dumps({"id": f"v{i}", "text": v}) for i, v in enumerate(values)]
    lines += ['{"id": "missing"}', "[1, 2]", '"text"', "null", '{"text": "no id here"}']
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    reader = CrawlReader(str(tmp_path), files=["a.jsonl"])
    docs = list(reader.run())
    assert reasons(docs) == [
        *["reader:no_text"] * 5,
        *["reader:empty_text"] * 2,
        "reader:no_text",
        *["reader:not_an_object"] * 3,
        None,
    ]
    assert [d.metadata["position"] for d in docs] == list(range(1, 13))
    assert [d.metadata["source_id"] for d in docs] == [f"v{i}" for i in range(7)] + ["missing"] + [None] * 4
    assert docs[-1].id == "a.jsonl:12"  # no id of its own: file:line
    assert reader.stats["rejected_no_text"].total == 6 and reader.stats["rejected_not_an_object"].total == 3


def test_cut_or_corrupt_gzip_jsonl_keeps_the_lines_before_the_damage(tmp_path):
    lines = b"".join(f'{{"id": "{i}", "text": "שורה {i}"}}\n'.encode() for i in range(2000))
    data = gzip.compress(lines)
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.jsonl.gz").write_bytes(data + b"not gzip at all")
    cut = read(tmp_path, "cut.jsonl.gz")
    assert 0 < len(cut) - 1 < 2000 and reasons(cut)[-1] == "reader:truncated_file"
    assert cut[-1].metadata["position"] == len(cut)  # the first line lost
    junk = read(tmp_path, "junk.jsonl.gz")
    assert len(junk) == 2001 and reasons(junk)[-1] == "reader:corrupt_file" and junk[-1].metadata["position"] == 2001


# -- WARC --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["x.warc", "x.warc.gz"])
@pytest.mark.parametrize("junk", [b"plain text\n" * 30, "random", "gzip"])
def test_bytes_that_are_not_warc_are_one_rejection_and_the_run_goes_on(tmp_path, name, junk):
    import random

    rng = random.Random(0)
    data = rng.randbytes(4000) if junk == "random" else gzip.compress(rng.randbytes(4000)) if junk == "gzip" else junk
    (tmp_path / name).write_bytes(data)
    write_warc(tmp_path / "good.warc.gz", [warc_record(1)])
    docs = read(tmp_path, name, "good.warc.gz")
    assert reasons(docs) == ["reader:not_warc", None]
    assert docs[0].metadata["source"] == name and docs[0].metadata["position"] == 0


@pytest.mark.parametrize("name", ["x.warc", "x.warc.gz"])
@pytest.mark.parametrize("delta", [1, 50, 10_000, -20])
def test_a_wrong_content_length_rejects_that_record_and_reading_resumes(tmp_path, name, delta):
    records = [warc_record(i) for i in range(20)]
    records[8] = wrong_length(records[8], delta)
    offsets = write_warc(tmp_path / name, records)
    docs = read(tmp_path, name)
    assert reasons(docs) == [None] * 8 + ["reader:bad_content_length"] + [None] * 11
    assert [d.metadata["position"] for d in docs] == offsets
    assert [d.metadata["source_id"] for d in docs] == [f"<urn:uuid:r{i}>" for i in range(20)]


@pytest.mark.parametrize("name", ["x.warc", "x.warc.gz"])
def test_garbage_between_records_is_skipped_and_reported(tmp_path, name):
    records = [warc_record(i) for i in range(6)]
    junk = b"\n\r\nthis is not a record\n" + bytes(range(256)) * 3
    gz = name.endswith(".gz")
    parts = [gzip.compress(r, mtime=0) if gz else r for r in records]
    (tmp_path / name).write_bytes(b"".join(parts[:3]) + junk + b"".join(parts[3:]))
    docs = read(tmp_path, name)
    assert reasons(docs) == [None] * 3 + ["reader:corrupt_warc"] + [None] * 3
    start = sum(map(len, parts[:3]))
    assert start <= docs[3].metadata["position"] < start + len(junk)


def test_only_a_cut_at_the_end_is_truncated_warc(tmp_path):
    offsets = write_warc(tmp_path / "x.warc", [warc_record(i) for i in range(5)])
    data = (tmp_path / "x.warc").read_bytes()
    (tmp_path / "x.warc").write_bytes(data[: offsets[4] + 200])
    docs = read(tmp_path, "x.warc")
    assert reasons(docs) == [None] * 4 + ["reader:truncated_warc"] and docs[-1].metadata["position"] == offsets[4]


def test_content_encodings_that_do_not_decode_reject_that_record_only(tmp_path):
    html = b"<html><body><p>\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d</p></body></html>"
    records = [
        warc_record(0, headers=[("Content-Encoding", "br")], body=b"\x8b\x02\x80not brotli at all"),
        warc_record(1, headers=[("Content-Encoding", "br")], body=brotli.compress(html)),
        warc_record(2, headers=[("Content-Encoding", "gzip")], body=b"\x1f\x8b\x08 not gzip"),
        warc_record(3, headers=[("Content-Encoding", "deflate")], body=b"not deflate"),
        warc_record(4),
    ]
    write_warc(tmp_path / "x.warc.gz", records)
    docs = read(tmp_path, "x.warc.gz")
    assert reasons(docs)[:2] == ["reader:bad_content_encoding", None]
    assert docs[1].text == html.decode()  # brotli that decodes is read
    assert len(docs) == 5 and reasons(docs)[4] is None


def test_a_failure_inside_one_record_rejects_that_record_only(tmp_path, monkeypatch):
    import curation.readers as readers

    write_warc(tmp_path / "x.warc.gz", [warc_record(i, charset="undefined" if i == 1 else "utf-8") for i in range(4)])
    docs = read(tmp_path, "x.warc.gz")
    assert reasons(docs) == [None] * 4 and docs[1].metadata["charset"] == "utf-8"  # `undefined`: UTF-8 instead

    real = readers.declared_charset

    def failing(content_type, payload):
        if b"\xd7\x9e\xd7\xa1\xd7\xa4\xd7\xa8 2" in payload:
            raise RuntimeError("anything at all")
        return real(content_type, payload)

    monkeypatch.setattr(readers, "declared_charset", failing)
    docs = read(tmp_path, "x.warc.gz")
    assert reasons(docs) == [None, None, "reader:unreadable_record", None]
    assert docs[2].metadata["source_id"] == "<urn:uuid:r2>"


# -- Parquet -----------------------------------------------------------------------------------------------------
def test_a_corrupt_parquet_file_is_one_rejection_naming_it_and_the_run_goes_on(tmp_path):
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["x", "y"]}), tmp_path / "good.parquet")
    data = (tmp_path / "good.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    docs = read(tmp_path, "cut.parquet", "good.parquet")
    assert reasons(docs) == ["reader:corrupt_parquet", None, None]
    assert docs[0].metadata["source"] == "cut.parquet"


def test_a_damaged_row_group_costs_only_its_rows(tmp_path):
    n = 40
    table = pa.table({"id": [f"r{i}" for i in range(n)], "text": [f"שורה {i}" for i in range(n)]})
    path = tmp_path / "x.parquet"
    pq.write_table(table, path, row_group_size=10, compression="zstd")
    column = pq.ParquetFile(path).metadata.row_group(1).column(1)
    start = column.dictionary_page_offset or column.data_page_offset
    data = bytearray(path.read_bytes())
    data[start : start + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    docs = read(tmp_path, "x.parquet")
    assert [d.metadata["position"] for d in docs] == list(range(n))
    assert reasons(docs) == [None] * 10 + ["reader:corrupt_parquet"] * 10 + [None] * 20
    assert [d.metadata["source_id"] for d in docs[20:]] == [f"r{i}" for i in range(20, n)]


def test_oversized_and_non_string_parquet_rows_are_counted(tmp_path):
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["x", "א" * 200, None]}), tmp_path / "s.parquet")
    pq.write_table(pa.table({"id": ["d"], "text": [7]}), tmp_path / "n.parquet")
    docs = read(tmp_path, "s.parquet", "n.parquet", max_doc_bytes=100)
    assert reasons(docs) == [None, "reader:too_large", "reader:no_text", "reader:no_text"]
    assert [(d.metadata["source"], d.metadata["position"]) for d in docs] == [
        ("s.parquet", 0), ("s.parquet", 1), ("s.parquet", 2), ("n.parquet", 0),
    ]  # fmt: skip


# -- file names --------------------------------------------------------------------------------------------------
def test_file_names_with_newlines_and_spaces_are_read_whole(tmp_path):
    names = ["new\nline.jsonl", " leading space.jsonl", "trailing space .jsonl", "plain.jsonl"]
    for i, name in enumerate(names):
        (tmp_path / name).write_text(f'{{"id": "{i}", "text": "x"}}\n{{"id": "{i}b", "text": "y"}}\n')
    paths_file = tmp_path / "inputs.json"
    paths_file.write_text(json.dumps(names))
    docs = [d for rank in range(2) for d in CrawlReader(str(tmp_path), str(paths_file)).run(rank=rank, world_size=2)]
    assert sorted(d.id for d in docs) == sorted(f"{i}{s}" for i in range(4) for s in ("", "b"))
    assert {d.metadata["source"] for d in docs} == set(names)


def test_curate_reads_file_names_with_newlines(tmp_path, news_docs):
    from curation.run import curate

    folder = tmp_path / "in"
    folder.mkdir()
    names = ["new\nline.jsonl", " lead.jsonl"]
    for i, name in enumerate(names):
        (folder / name).write_text(json.dumps({"id": f"d{i}", "text": news_docs[i]}, ensure_ascii=False) + "\n")
    curate([folder], tmp_path / "run")
    assert json.loads((tmp_path / "run" / ".work" / "inputs.json").read_text()) == sorted(names)
    out = sorted((tmp_path / "run").glob("*/*.parquet"))
    ids = [i for path in out for i in pq.read_table(path, columns=["id"]).column("id").to_pylist()]
    assert sorted(ids) == ["d0", "d1"]


# -- fuzz --------------------------------------------------------------------------------------------------------
def check_reader_output(corpus: Corpus, docs: list[Document]) -> None:
    """Every written record comes out exactly once, as its fate says; every other document is a rejection
    inside a span of damage; every damage that ends a file is reported."""
    at = {}
    for d in docs:
        key = (d.metadata["source"], d.metadata["position"])
        assert key not in at, f"two documents at {key}"
        at[key] = d
    spans = {}
    for s in corpus.damage:
        spans.setdefault(s.file, []).append(s)

    def in_damage(file, position):
        return any(s.start <= position and (s.end is None or position < s.end) for s in spans.get(file, []))

    for r in corpus.records:
        d = at.pop((r.file, r.position), None)
        where = f"{r.file} at {r.position} ({r.fate}, {r.source_id})"
        if d is None:
            assert r.fate == "either" and in_damage(r.file, r.position), f"{where}: lost"
            continue
        rejected = "filter_reason" in d.metadata
        if r.fate == "kept" or (r.fate == "either" and not rejected):
            assert not rejected, f"{where}: rejected as {d.metadata['filter_reason']}"
            assert d.text == r.text and d.metadata["source_id"] == r.source_id, where
        elif r.fate == "rejected":
            assert rejected, f"{where}: kept"
            assert d.metadata["source_id"] == r.source_id, where
    for (file, position), d in at.items():
        assert "filter_reason" in d.metadata and in_damage(file, position), f"{file} at {position}: unexplained"
    for s in corpus.damage:
        if s.end is None:
            assert any(
                d.metadata["source"] == s.file and d.metadata["position"] >= s.start and "filter_reason" in d.metadata
                for d in docs
            ), f"{s.file}: damage from {s.start} not reported"


@pytest.mark.parametrize("seed", range(12))
def test_fuzz_every_record_comes_out_exactly_once(tmp_path, seed):
    corpus = write_corpus(tmp_path, seed, files=10, records=30, large_bytes=30_000)
    files = sorted(p.name for p in tmp_path.iterdir())
    docs = list(CrawlReader(str(tmp_path), files=files, max_doc_bytes=20_000).run())
    check_reader_output(corpus, docs)
    assert corpus.source_ids("kept")  # the mixture holds intact records, and damage
    assert any(d.metadata.get("filter_reason") for d in docs)
