"""The reader never loses a record: bad ones become excluded documents with a reason."""

import gzip

from curation.readers import CrawlReader, declared_charset, decode_html
from tests.curation.helpers import html_page, write_jsonl, write_warc


def read_all(folder, name, **kw):
    reader = CrawlReader(str(folder), **kw)
    return list(reader.read_file(name))


def test_bad_jsonl_records_get_named_reasons(tmp_path):
    write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "ok", "text": "שלום עולם"},
            b"{not json\n",
            {"id": "none", "text": None},
            {"id": "missing"},
            b'{"id": "bytes", "text": "\xff\xfe"}\n',
            {"id": "blank", "text": "   "},
            {"id": "big", "text": "א" * 3_000_000},
            b"[1, 2]\n",
        ],
    )
    docs = read_all(tmp_path, "in.jsonl")
    reasons = {d.id: d.metadata.get("filter_reason") for d in docs}
    assert reasons == {
        "ok": None,
        "in.jsonl:2": "reader:malformed_json",
        "none": "reader:no_text",
        "missing": "reader:no_text",
        "in.jsonl:5": "reader:invalid_utf8",
        "blank": "reader:empty_text",
        "in.jsonl:7": "reader:too_large",
        "in.jsonl:8": "reader:not_an_object",
    }


def test_truncated_gzip_jsonl_keeps_records_before_the_cut(tmp_path):
    lines = b"".join(f'{{"id": "{i}", "text": "שורה {i}"}}\n'.encode() for i in range(2000))
    data = gzip.compress(lines)
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    docs = read_all(tmp_path, "cut.jsonl.gz")
    good = [d for d in docs if "filter_reason" not in d.metadata]
    assert 0 < len(good) < 2000
    assert docs[-1].metadata["filter_reason"] == "reader:truncated_file"


def test_warc_honours_declared_windows_1255(tmp_path):
    text = "ראש הממשלה אמר היום כי הממשלה תדון בהצעה"
    write_warc(
        tmp_path / "c.warc.gz",
        [("http://a.co.il/1", html_page(text), "windows-1255"), ("http://a.co.il/2", html_page(text), "utf-8")],
    )
    docs = read_all(tmp_path, "c.warc.gz")
    assert [d.metadata["charset"] for d in docs] == ["windows-1255", "utf-8"]
    assert all(text in d.text for d in docs)


def test_truncated_warc_reports_offset_and_keeps_earlier_records(tmp_path):
    pages = [(f"http://a.co.il/{i}", html_page(f"ידיעה מספר {i} " * 40), "utf-8") for i in range(30)]
    path = write_warc(tmp_path / "c.warc.gz", pages)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    docs = read_all(tmp_path, "c.warc.gz")
    good = [d for d in docs if "filter_reason" not in d.metadata]
    assert 10 < len(good) < 30
    last = docs[-1]
    assert last.metadata["filter_reason"] == "reader:truncated_warc"
    assert last.metadata["position"] > 0


def test_charset_detection_order():
    assert declared_charset("text/html; charset=Windows-1255", b"") == "windows-1255"
    assert declared_charset("text/html", b'<meta charset="utf-8">') == "utf-8"
    assert decode_html("שלום".encode("cp1255"), "windows-1255") == ("שלום", "windows-1255")
    assert decode_html(b"\xff\xfe\xfa", "utf-8") is None
