"""Random mixtures of good and damaged input files, curated end to end: every record written is found exactly once
in `curated` ∪ `excluded` (by file and position, and by the input's own id where the record had a readable one),
ids are unique, and the command exits 0 without a traceback.

The generator here is written independently of the reader's own unit tests: its damage is chosen by a seeded
random mix per record and per file, so each seed is a new combination.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.curation.helpers import html_page
from tests.reliability.helpers import hebatron

ENGLISH = "The committee met on Tuesday to discuss the new budget for the city's public schools and parks."


@dataclass
class Written:
    """What one input file holds: its records' positions (and ids where readable), and whether its tail is cut."""

    name: str
    units: dict[int, str | None] = field(default_factory=dict)  # position -> input id (None: not readable)
    cut: bool = False  # the file is truncated: a prefix of its records is kept, the rest counted as one
    unreadable: bool = False  # not a file of its kind at all: one record stands for it


def _text(rng: random.Random, docs: list[str]) -> str:
    return rng.choice(docs) if rng.random() < 0.8 else ENGLISH * rng.randint(1, 6)


def _jsonl_line(rng: random.Random, rid: str, docs: list[str]) -> tuple[bytes, bool]:
    """One JSONL line; the flag says whether its id can be read back."""
    good = json.dumps({"id": rid, "text": _text(rng, docs), "url": f"https://x.co.il/{rid}"}, ensure_ascii=False)
    kind = rng.choices(
        ["good", "cut", "bytes", "surrogate", "nested", "scalar", "no_text", "null", "number", "list", "blank"],
        weights=[10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    )[0]
    if kind == "good":
        return good.encode(), True
    if kind == "cut":
        return good.encode()[: rng.randint(1, len(good) // 2)].replace(b"\n", b" "), False
    if kind == "bytes":
        return json.dumps({"id": rid, "text": "__"}).encode().replace(b"__", b"\xff\xfe\xfa"), False
    if kind == "surrogate":
        return ('{"id": "' + rid + '", "text": "\\ud800 ' + "שלום עולם " * 5 + '"}').encode(), True
    if kind == "nested":
        return b"[" * 100_000 + b"]" * 100_000, False
    if kind == "scalar":
        return rng.choice([b"42", b'"just a string"', b"null", b"[1, 2]", b"true"]), False
    values = {"no_text": None, "null": "null", "number": "7", "list": '["a"]', "blank": '"   "'}
    if values[kind] is None:
        return json.dumps({"id": rid, "body": "x"}).encode(), True
    return ('{"id": "' + rid + '", "text": ' + values[kind] + "}").encode(), True


def write_jsonl(folder: Path, name: str, rng: random.Random, ids: list[str], docs: list[str]) -> Written:
    out = Written(name)
    eol = b"\r\n" if rng.random() < 0.2 else b"\n"
    data = b"\xef\xbb\xbf" if rng.random() < 0.3 else b""
    for line_no, rid in enumerate(ids, start=1):
        line, readable = _jsonl_line(rng, rid, docs)
        data += line + eol
        out.units[line_no] = rid if readable else None
    if name.endswith(".gz"):
        data = gzip.compress(data)
        if rng.random() < 0.3:
            data, out.cut = data[: rng.randint(len(data) // 3, len(data) - 8)], True
    (folder / name).write_bytes(data)
    return out


def _warc_chunk(rng: random.Random, rid: str, docs: list[str], gz: bool) -> tuple[bytes, str]:
    """One WARC record as bytes (one gzip member when GZ), and its kind."""
    kind = rng.choices(
        ["good", "cp1255", "undefined", "br", "gzip", "png", "long", "request"], weights=[8, 1, 1, 1, 1, 1, 1, 1]
    )[0]
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    url = f"https://news.co.il/{rid}"
    if kind == "request":
        rec = writer.create_warc_record(url, "request", payload=io.BytesIO(b"GET / HTTP/1.1\r\n\r\n"))
        writer.write_record(rec)
    else:
        charset = {"cp1255": "windows-1255", "undefined": "undefined"}.get(kind, "utf-8")
        body = html_page(_text(rng, docs)).encode("windows-1255" if kind == "cp1255" else "utf-8", "replace")
        headers = [("Content-Type", "image/png" if kind == "png" else f"text/html; charset={charset}")]
        if kind in ("br", "gzip"):
            headers.append(("Content-Encoding", kind))
            body = bytes(rng.randrange(256) for _ in range(200))
        http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
        rec = writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=http, warc_headers_dict={"WARC-Record-ID": rid}
        )
        writer.write_record(rec)
    chunk = buf.getvalue()
    if kind == "long":  # a Content-Length that overstates the block
        head, _, rest = chunk.partition(b"\r\n\r\n")
        lines = [
            b"Content-Length: %d" % (int(h.split(b":")[1]) + rng.randint(20, 400))
            if h.lower().startswith(b"content-length:")
            else h
            for h in head.split(b"\r\n")
        ]
        chunk = b"\r\n".join(lines) + b"\r\n\r\n" + rest
    return (gzip.compress(chunk) if gz else chunk), kind


def write_warc(folder: Path, name: str, rng: random.Random, ids: list[str], docs: list[str]) -> Written:
    out = Written(name)
    gz = name.endswith(".gz")
    data = b""
    for rid in ids:
        chunk, kind = _warc_chunk(rng, f"<urn:uuid:{rid}>", docs, gz)
        if kind != "request":
            out.units[len(data)] = f"<urn:uuid:{rid}>"
        data += chunk
    # a last record whose Content-Length runs past the end of the file cannot be told from a cut file
    out.cut = kind == "long"
    if rng.random() < 0.15:  # not a WARC at all
        data, out.units, out.unreadable = bytes(rng.randrange(256) for _ in range(3000)), {}, True
        if gz:
            data = gzip.compress(data)
    (folder / name).write_bytes(data)
    return out


def write_parquet(folder: Path, name: str, rng: random.Random, ids: list[str], docs: list[str]) -> Written:
    out = Written(name)
    texts = [rng.choice([_text(rng, docs)] * 6 + [None, "", "  "]) for _ in ids]
    table = pa.table({"id": ids, "text": pa.array(texts, pa.string())})
    pq.write_table(table, folder / name, row_group_size=max(1, len(ids) // 3))
    out.units = dict(enumerate(ids))
    if rng.random() < 0.25:
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: rng.randint(10, len(data) - 10)])
        out.cut = True
    return out


WRITERS = {
    ".jsonl": write_jsonl,
    ".jsonl.gz": write_jsonl,
    ".warc": write_warc,
    ".warc.gz": write_warc,
    ".parquet": write_parquet,
}
ODD_NAMES = ["plain", " leading space", "new\nline", "קובץ עברי", "with 'quote'", "brackets[1]"]


def write_mixture(folder: Path, seed: int, docs: list[str]) -> list[Written]:
    rng = random.Random(seed)
    written, used_ids = [], []
    for k in range(rng.randint(3, 6)):
        suffix = rng.choice(list(WRITERS))
        name = f"{rng.choice(ODD_NAMES)}-{k}{suffix}"
        ids = []
        for j in range(rng.randint(3, 12)):
            reuse = used_ids and rng.random() < 0.1  # the same id again, in this file or another
            ids.append(rng.choice(used_ids) if reuse else f"s{seed}-f{k}-r{j}")
        used_ids += ids
        written.append(WRITERS[suffix](folder, name, rng, ids, docs))
    return written


def read_outcome(run: Path) -> list[dict]:
    rows = []
    for part in ("curated", "excluded"):
        for f in sorted((run / part).glob("*.parquet")):
            cols = ["id", "source", "source_id", "position"] + (["filter_reason"] if part == "excluded" else [])
            rows += pq.read_table(f, columns=cols).to_pylist()
    return rows


#: reasons that stand for a span of a file (its damaged rest, or bytes that are no record), not for one record
SPAN_REASONS = {
    "reader:truncated_file",
    "reader:corrupt_file",
    "reader:corrupt_parquet",
    "reader:not_warc",
    "reader:truncated_warc",
    "reader:corrupt_warc",
}


def _is_reader_drop(row: dict) -> bool:
    return (row.get("filter_reason") or "").startswith("reader:")


def check_accounting(written: list[Written], rows: list[dict]) -> None:
    ids = Counter(r["id"] for r in rows)
    assert not [i for i, n in ids.items() if n > 1], "ids in curated ∪ excluded are not unique"
    by_file: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_file[Path(r["source"]).name].append(r)
    assert set(by_file) <= {w.name for w in written}, f"rows from unknown sources: {set(by_file)}"
    for w in written:
        found = by_file.get(w.name, [])
        if w.unreadable:
            assert len(found) == 1 and _is_reader_drop(found[0]), f"{w.name!r}: not one excluded record: {found}"
            continue
        damage = [r for r in found if r.get("filter_reason") in SPAN_REASONS]
        records = [r for r in found if r not in damage]
        positions = Counter(r["position"] for r in records)
        assert all(n == 1 for n in positions.values()), f"{w.name!r}: a record counted twice: {positions}"
        assert set(positions) <= set(w.units), f"{w.name!r}: positions never written: {set(positions) - set(w.units)}"
        for r in records:
            if w.units[r["position"]] is not None:
                assert r["source_id"] == w.units[r["position"]], f"{w.name!r}:{r['position']}: source_id {r}"
        if w.cut:
            kept = sorted(positions)
            assert kept == sorted(w.units)[: len(kept)], f"{w.name!r}: records before the cut must all be kept"
            assert len(damage) == 1 or (len(damage) == 0 and len(kept) == len(w.units)), (w.name, damage)
        else:
            assert set(positions) == set(w.units), f"{w.name!r}: lost {sorted(set(w.units) - set(positions))}"
            assert not damage, f"{w.name!r}: intact file reported damaged: {damage}"


@pytest.mark.parametrize(
    "seed", [0, 1, 2, *[pytest.param(s, marks=pytest.mark.slow) for s in range(3, 12)]], ids=lambda s: f"seed{s}"
)
def test_every_record_written_is_accounted_for_once(seed, news_docs, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    written = write_mixture(inputs, seed, news_docs)
    run = tmp_path / "run"
    proc = hebatron("curate", inputs, "-o", run, check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    rows = read_outcome(run)
    check_accounting(written, rows)
    stats = json.loads((run / "stats.json").read_text())
    assert stats["input_documents"] == len(rows)
