"""Input formats as corpora ship them: compressed JSONL and WARC, mixed folders, Common Crawl's record types."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import zlib

import pytest
import zstandard
from loguru import logger
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from curation.readers import CrawlReader
from curation.run import discover_inputs
from tests.curation.helpers import html_page, write_jsonl

COMPRESS = {
    "gz": gzip.compress,
    "zst": lambda data: zstandard.ZstdCompressor().compress(data),
    "bz2": lambda data: bz2.compress(data, 1),  # 100 kB blocks: a cut loses at most one
    "xz": lzma.compress,
}


@pytest.fixture(scope="module")
def many_docs(htb_train) -> list[str]:
    """~1,200 short documents of distinct train sentences (~800 kB): several compression blocks, so a cut
    file still holds whole blocks before the cut."""
    return [" ".join(htb_train[i : i + 4]) for i in range(0, len(htb_train) - 3, 4)]


def read_all(folder, name, **kw):
    reader = CrawlReader(str(folder), **kw)
    return reader, list(reader.read_file(name))


def kept(docs):
    return [d for d in docs if "filter_reason" not in d.metadata]


def reasons(docs):
    return [d.metadata["filter_reason"] for d in docs if "filter_reason" in d.metadata]


def jsonl_bytes(texts) -> bytes:
    lines = (json.dumps({"id": f"d{i}", "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts))
    return "".join(lines).encode()


def plain_warc(pages: list[tuple[str, str]], extra=None, version: str = "WARC/1.1") -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False, warc_version=version)
    for url, html in pages:
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(url, "response", payload=io.BytesIO(html.encode()), http_headers=headers)
        )
    for record in (extra or (lambda w: []))(writer):
        writer.write_record(record)
    return buf.getvalue()


# -- compressed JSONL --------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", list(COMPRESS))
def test_compressed_jsonl_is_read_by_suffix_and_by_magic(tmp_path, news_docs, suffix):
    data = COMPRESS[suffix](jsonl_bytes(news_docs[:20]))
    (tmp_path / f"a.jsonl.{suffix}").write_bytes(data)
    (tmp_path / "disguised.jsonl").write_bytes(data)  # compressed, but named as plain JSONL
    (tmp_path / "concat.jsonl").write_bytes(data + COMPRESS[suffix](jsonl_bytes(news_docs[20:25])))
    for name, n in ((f"a.jsonl.{suffix}", 20), ("disguised.jsonl", 20), ("concat.jsonl", 25)):
        _, docs = read_all(tmp_path, name)
        assert [d.text for d in docs] == news_docs[:20] + news_docs[20:n], name
        assert [d.metadata["position"] for d in docs] == list(range(1, n + 1))


@pytest.mark.parametrize("suffix", list(COMPRESS))
def test_cut_compressed_jsonl_keeps_records_before_the_cut(tmp_path, many_docs, suffix):
    data = COMPRESS[suffix](jsonl_bytes(many_docs))
    (tmp_path / f"cut.jsonl.{suffix}").write_bytes(data[: len(data) // 2])
    _, docs = read_all(tmp_path, f"cut.jsonl.{suffix}")
    good = kept(docs)
    assert len(many_docs) * 0.3 < len(good) < len(many_docs)
    assert [d.text for d in good] == many_docs[: len(good)]
    assert reasons(docs) == ["reader:truncated_file"]


@pytest.mark.parametrize("suffix", list(COMPRESS))
def test_corrupt_compressed_jsonl_keeps_records_before_the_damage(tmp_path, many_docs, suffix):
    data = bytearray(COMPRESS[suffix](jsonl_bytes(many_docs)))
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * 64
    (tmp_path / f"bad.jsonl.{suffix}").write_bytes(bytes(data))
    _, docs = read_all(tmp_path, f"bad.jsonl.{suffix}")
    good = kept(docs)
    assert len(good) > len(many_docs) * 0.2
    assert [d.text for d in good] == many_docs[: len(good)]
    assert reasons(docs)[-1] in ("reader:corrupt_file", "reader:truncated_file")
    assert "reader:truncated_file" not in reasons(docs)[:-1]


def _logged(level: str, fn, *args):
    """``(fn(*args), the messages logged at LEVEL or above meanwhile)``."""
    messages = []
    sink = logger.add(messages.append, level=level, format="{message}")
    try:
        return fn(*args), messages
    finally:
        logger.remove(sink)


@pytest.mark.parametrize("suffix", list(COMPRESS))
def test_file_named_compressed_but_plain_is_one_counted_reason(tmp_path, news_docs, suffix):
    (tmp_path / f"plain.jsonl.{suffix}").write_bytes(jsonl_bytes(news_docs[:5]))
    (_, docs), messages = _logged("ERROR", read_all, tmp_path, f"plain.jsonl.{suffix}")
    assert reasons(docs) == ["reader:corrupt_file"] and len(docs) == 1
    assert any(f"plain.jsonl.{suffix}" in m and "not" in m and "compressed" in m for m in messages)


def test_json_array_saved_as_jsonl_is_a_counted_reason(tmp_path, news_docs):
    (tmp_path / "array.jsonl").write_text(json.dumps([{"text": t} for t in news_docs[:3]], indent=2))
    (tmp_path / "one_line.jsonl").write_text(json.dumps([{"text": t} for t in news_docs[:3]]))
    for name in ("array.jsonl", "one_line.jsonl"):
        _, docs = read_all(tmp_path, name)
        assert reasons(docs) == ["reader:json_array"] and len(docs) == 1
    write_jsonl(tmp_path / "mixed.jsonl", [[1, 2], {"text": news_docs[0]}])  # a stray array line is one record
    _, docs = read_all(tmp_path, "mixed.jsonl")
    assert [d.metadata.get("filter_reason") for d in docs] == ["reader:not_an_object", None]


# -- compressed WARC ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["zst", "bz2", "xz"])
def test_whole_file_compressed_warc(tmp_path, many_docs, suffix):
    pages = [(f"http://a.co.il/{i}", html_page(t)) for i, t in enumerate(many_docs)]
    data = COMPRESS[suffix](plain_warc(pages))
    (tmp_path / f"c.warc.{suffix}").write_bytes(data)
    (tmp_path / "disguised.warc").write_bytes(data)
    for name in (f"c.warc.{suffix}", "disguised.warc"):
        _, docs = read_all(tmp_path, name)
        assert [d.metadata["url"] for d in docs] == [u for u, _ in pages], name
        assert all(d.metadata["format"] == "html" for d in docs)

    (tmp_path / f"cut.warc.{suffix}").write_bytes(data[: len(data) // 2])
    _, docs = read_all(tmp_path, f"cut.warc.{suffix}")
    good = kept(docs)
    assert len(pages) * 0.3 < len(good) < len(pages)
    assert [d.metadata["url"] for d in good] == [u for u, _ in pages[: len(good)]]
    assert reasons(docs) == ["reader:truncated_file"]


@pytest.mark.parametrize("suffix", list(COMPRESS))
def test_warc_named_compressed_is_read_as_what_its_bytes_are(tmp_path, news_docs, suffix):
    (tmp_path / f"plain.warc.{suffix}").write_bytes(plain_warc([("http://a.co.il/", html_page(news_docs[0]))]))
    _, docs = read_all(tmp_path, f"plain.warc.{suffix}")
    assert [d.metadata["url"] for d in docs] == ["http://a.co.il/"] and not reasons(docs)
    (tmp_path / f"junk.warc.{suffix}").write_bytes(b"plain text\n" * 30)
    _, docs = read_all(tmp_path, f"junk.warc.{suffix}")
    assert reasons(docs) == ["reader:not_warc"]


# -- Common Crawl record types ----------------------------------------------------------------------------
def _cc_records(writer):
    def http(content_type):
        return StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")

    url = "http://a.co.il/x"
    yield writer.create_warcinfo_record("crawl.warc", {"software": "test"})
    req = StatusAndHeaders("GET /x HTTP/1.1", [("Host", "a.co.il")], is_http_request=True)
    yield writer.create_warc_record(url, "request", payload=io.BytesIO(b""), http_headers=req)
    yield writer.create_warc_record(url, "metadata", payload=io.BytesIO(b"fetchTimeMs: 12\r\n"))
    yield writer.create_revisit_record(url, "sha1:AAAA", "http://a.co.il/x", "20240101000000")
    pdf = http("application/pdf")
    yield writer.create_warc_record(url + ".pdf", "response", payload=io.BytesIO(b"%PDF-1.4"), http_headers=pdf)
    quoted = http('TEXT/HTML; charset="UTF-8"; boundary=x')
    yield writer.create_warc_record(
        url + "q", "response", payload=io.BytesIO(html_page("שלום עולם").encode()), http_headers=quoted
    )


@pytest.mark.parametrize("version", ["WARC/1.0", "WARC/1.1"])
@pytest.mark.parametrize("suffix", ["", ".gz", ".zst"])
def test_common_crawl_record_types_are_skipped_and_counted(tmp_path, news_docs, version, suffix):
    pages = [(f"http://a.co.il/{i}", html_page(t)) for i, t in enumerate(news_docs[:3])]
    data = plain_warc(pages, extra=_cc_records, version=version)
    assert data.startswith(version.encode())
    if suffix == ".gz":  # one gzip member per record, as Common Crawl ships it
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True, warc_version=version)
        from warcio.archiveiterator import ArchiveIterator

        for record in ArchiveIterator(io.BytesIO(data)):
            record.length = None
            writer.write_record(record)
        data = buf.getvalue()
        assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data).startswith(version.encode())
    elif suffix:
        data = COMPRESS[suffix[1:]](data)
    (tmp_path / f"cc.warc{suffix}").write_bytes(data)
    reader, docs = read_all(tmp_path, f"cc.warc{suffix}")
    urls = {d.metadata["url"]: d.metadata.get("filter_reason") for d in docs}
    assert urls == {
        **{u: None for u, _ in pages},
        "http://a.co.il/x.pdf": "reader:not_html",
        "http://a.co.il/xq": None,
    }
    assert "שלום עולם" in next(d.text for d in docs if d.metadata["url"] == "http://a.co.il/xq")
    counts = {k: v.total for k, v in reader.stats.stats.items() if k.startswith("skipped_")}
    assert counts == {"skipped_warcinfo": 1, "skipped_request": 1, "skipped_metadata": 1, "skipped_revisit": 1}


# -- folders -----------------------------------------------------------------------------------------------
def test_folder_reads_every_compression_and_names_the_files_it_skips(tmp_path, news_docs):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for suffix, compress in COMPRESS.items():
        (folder / f"part.jsonl.{suffix}").write_bytes(compress(jsonl_bytes(news_docs[:5])))
    (folder / "a.txt").write_text("x")
    (folder / "b.csv").write_text("x")
    (folder / "sub" / "c.json").write_text("{}")
    found, messages = _logged("WARNING", discover_inputs, [folder])
    assert sorted(p.name for p in found) == sorted(f"part.jsonl.{s}" for s in COMPRESS)
    skipped = [m for m in messages if "skipped" in m]
    assert len(skipped) == 1
    assert f"skipped 3 files of other kinds in {folder}: a.txt, b.csv, sub/c.json" in skipped[0]


def test_folder_without_other_files_warns_nothing(tmp_path, news_docs):
    (tmp_path / "a.jsonl").write_bytes(jsonl_bytes(news_docs[:2]))
    _, messages = _logged("WARNING", discover_inputs, [tmp_path])
    assert not messages


def test_a_save_to_disk_folder_warns_nothing(tmp_path, news_docs):
    import datasets

    folder = tmp_path / "ds"
    datasets.Dataset.from_dict({"text": news_docs[:4], "id": [f"d{i}" for i in range(4)]}).save_to_disk(folder)
    (folder / "notes.txt").write_text("x")  # not part of the dataset: still named
    found, messages = _logged("WARNING", discover_inputs, [folder])
    assert [p.suffix for p in found] == [".arrow"]
    assert [m.strip() for m in messages] == [f"skipped 1 file of other kinds in {folder}: notes.txt"]
