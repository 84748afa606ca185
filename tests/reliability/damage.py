"""Seeded inputs with known records, some of them damaged: JSONL, JSONL.gz, WARC, WARC.gz and Parquet files.

`write_corpus(folder, seed)` writes a random mixture of files and returns a `Corpus` naming every record that
was written: where it is (file and position, as the reader reports it), its own id and text, and what the
reader must make of it:

    kept      an intact record: it comes out once, as a document with this text
    rejected  a bad record (no text, malformed JSON, a wrong Content-Length, ...): it comes out once, rejected
    either    a record the damage may have cut: kept (with this text) or rejected, or lost to a `Damage`

A `Damage` is a span of positions in one file where damage starts (garbage bytes, a cut): the reader must
report at least one rejection inside it, and may report rejections there that name no record.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

WORDS = "שלום עולם ירושלים ממשלה כנסת חדשות ספר מדינה עיר ילדים בית ספר מחקר אוניברסיטה שמש ים".split()
Fate = Literal["kept", "rejected", "either"]


@dataclass(frozen=True, slots=True)
class Record:
    file: str  # relative to the folder
    position: int  # JSONL: 1-based line; Parquet: 0-based row; WARC: byte offset
    source_id: str | None
    text: str | None  # what a kept document holds (HTML for WARC pages)
    fate: Fate


@dataclass(frozen=True, slots=True)
class Damage:
    file: str
    start: int
    end: int | None  # None: to the end of the file


@dataclass(slots=True)
class Corpus:
    records: list[Record] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)

    def source_ids(self, fate: Fate | None = None) -> list[str]:
        return [r.source_id for r in self.records if r.source_id and (fate is None or r.fate == fate)]


class _Ids:
    def __init__(self, tag: str):
        self.tag, self.n = tag, 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.tag}-{self.n}"


def hebrew_text(rng: random.Random, words: int = 40) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


# -- JSONL -----------------------------------------------------------------------------------------------------
def _json_line(rng: random.Random, new_id, large_bytes: int) -> tuple[bytes, str | None, str | None, Fate]:
    """One line: (bytes, source id, text, fate)."""
    kind = rng.choices(
        ["good", "int_id", "no_id", "crlf", "bad"],
        weights=[10, 1, 1, 1, 5],
    )[0]
    if kind != "bad":
        sid, text = new_id(), hebrew_text(rng)
        if kind == "int_id":
            sid = str(rng.randrange(10**12, 10**13))
            rec = {"id": int(sid), "text": text}
        elif kind == "no_id":
            sid, rec = None, {"text": text, "url": "http://x.co.il/a"}
        else:
            rec = {"id": sid, "text": text}
        end = "\r\n" if kind == "crlf" else "\n"
        return (json.dumps(rec, ensure_ascii=rng.random() < 0.3) + end).encode(), sid, text, "kept"
    sid = new_id()
    bad = rng.choice(
        [
            b"{not json\n",
            b'{"id": "x", "text": "caf\xe9"}\n',  # not UTF-8
            b"[1, 2]\n",
            b'"just a string"\n',
            b"42\n",
            b"null\n",
            b"[" * 100_000 + b"]" * 100_000 + b"\n",  # nesting deeper than the recursion limit
            b'{"id": "x", "n": ' + b"7" * 5000 + b"}\n",  # an integer longer than Python parses
            b'{"id": "x", "text": "\x00"}\n',  # a raw control character
        ]
    )
    if rng.random() < 0.5:  # a well-formed record without usable text: its id is known
        value = rng.choice([None, 3, 2.5, ["a"], {"a": 1}, "", "   ", "\ud800 lone surrogate", "א" * large_bytes])
        rec = {"id": sid, "text": value} if value is not None or rng.random() < 0.5 else {"id": sid}
        # refused before it is parsed (oversized) or not: its id is read off the line either way
        return (json.dumps(rec) + "\n").encode(), sid, None, "rejected"
    # a line that does not parse keeps the id that can be read off it
    return bad, "x" if bad.startswith(b'{"id": "x"') else None, None, "rejected"


def write_jsonl(path: Path, rng: random.Random, new_id, *, n: int, large_bytes: int) -> Corpus:
    """A `.jsonl` or `.jsonl.gz` file (by suffix); gzip as one member per few lines, which a cut may end."""
    corpus, name = Corpus(), path.name
    lines: list[tuple[bytes, str | None, str | None, Fate]] = []
    for _ in range(n):
        if rng.random() < 0.05:
            lines.append((b"\n", None, None, "kept"))  # a blank line: no record
        lines.append(_json_line(rng, new_id, large_bytes))
    if rng.random() < 0.3:  # a byte-order mark before the first record
        first = lines[0]
        lines[0] = (b"\xef\xbb\xbf" + first[0], *first[1:])
    records = [
        Record(name, i, sid, text, fate)
        for i, (raw, sid, text, fate) in enumerate(lines, start=1)
        if raw.removeprefix(b"\xef\xbb\xbf").strip()
    ]
    raw_lines = [raw for raw, *_ in lines]
    if not path.name.endswith(".gz"):
        data = b"".join(raw_lines)
        if rng.random() < 0.3:  # cut inside the last kept line
            last = rng.randrange(len(raw_lines))
            while not raw_lines[last].strip():  # a blank line is always followed by a record
                last += 1
            start = sum(map(len, raw_lines[:last]))
            data = data[: rng.randint(start + 1, start + len(raw_lines[last].rstrip(b"\r\n")))]
            records = [r for r in records if r.position < last + 1] + [
                _either(r) for r in records if r.position == last + 1
            ]
        path.write_bytes(data)
        corpus.records += records
        return corpus
    members, spans, line = [], [], 1
    for i in range(0, len(raw_lines), 5):
        chunk = raw_lines[i : i + 5]
        members.append(gzip.compress(b"".join(chunk), mtime=0))
        spans.append((line, line + len(chunk)))
        line += len(chunk)
    data = b"".join(members)
    damage = rng.random()
    if damage < 0.3:  # cut inside one member: its lines may be lost, the later ones are
        m = rng.randrange(len(members))
        start = sum(map(len, members[:m]))
        data = data[: rng.randint(start + 1, start + len(members[m]) - 1)]
        first, end = spans[m]
        records = [r for r in records if r.position < first] + [
            _either(r) for r in records if first <= r.position < end
        ]
        corpus.damage.append(Damage(name, first, None))
    elif damage < 0.45:  # bytes that are not gzip after the last member
        data += b"\x00garbage" + rng.randbytes(rng.randint(1, 200))
        corpus.damage.append(Damage(name, line, None))
    path.write_bytes(data)
    corpus.records += records
    return corpus


def _either(r: Record) -> Record:
    return Record(r.file, r.position, r.source_id, r.text, "either")


# -- WARC ------------------------------------------------------------------------------------------------------
def _warc_record(rng: random.Random, new_id, kind: str) -> tuple[bytes, str | None, str | None]:
    """One uncompressed WARC record: (bytes, WARC-Record-ID, HTML)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    if kind == "warcinfo":
        writer.write_record(writer.create_warcinfo_record("x.warc", {"software": "damage"}))
        return buf.getvalue(), None, None
    rid = f"<urn:uuid:{new_id()}>"
    text = hebrew_text(rng)
    html = f'<html lang="he"><head><title>כותרת</title></head><body><p>{text}</p></body></html>'
    charset = rng.choice(["utf-8", "utf-8", "windows-1255", "undefined"])  # `undefined` decodes as UTF-8
    body = html.encode("utf-8" if charset == "undefined" else charset)
    headers = [("Content-Type", f"text/html; charset={charset}")]
    if kind == "png":
        headers, body = [("Content-Type", "image/png")], rng.randbytes(300)
    elif kind == "bad_br":
        headers.append(("Content-Encoding", "br"))
        body = rng.randbytes(200)
    http = StatusAndHeaders("200 OK", headers, protocol="HTTP/1.1")
    url = f"http://x.co.il/{rid[10:-1]}"
    record = writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), http_headers=http, warc_headers_dict={"WARC-Record-ID": rid}
    )
    writer.write_record(record)
    data = buf.getvalue()
    if kind in ("long", "short"):  # a Content-Length that is wrong
        s = data.index(b"Content-Length: ") + 16
        e = data.index(b"\r\n", s)
        length = int(data[s:e]) + (rng.randint(1, 400) if kind == "long" else -rng.randint(1, 40))
        data = data[:s] + str(length).encode() + data[e:]
    return data, rid, html if kind == "good" else None


def _garbage(rng: random.Random) -> bytes:
    kind = rng.choice(["random", "gzip", "text"])
    if kind == "random":
        return rng.randbytes(rng.randint(1, 3000))
    if kind == "gzip":
        return gzip.compress(rng.randbytes(rng.randint(1, 3000)))
    return b"this is not a WARC record\n" * rng.randint(1, 50)


def write_warc(path: Path, rng: random.Random, new_id, *, n: int) -> Corpus:
    """A `.warc` or `.warc.gz` file (by suffix, gzip one member per record), or, now and then, one that is not
    a WARC file at all."""
    corpus, name, gz = Corpus(), path.name, path.name.endswith(".gz")
    if rng.random() < 0.08:
        data = _garbage(rng)
        path.write_bytes(gzip.compress(data) if gz and rng.random() < 0.5 else data)
        corpus.damage.append(Damage(name, 0, None))
        return corpus
    out, offset = [], 0
    kinds = ["warcinfo"] + rng.choices(["good", "png", "bad_br", "long", "short"], weights=[12, 1, 1, 1, 1], k=n)
    for kind in kinds:
        if offset and rng.random() < 0.06:  # garbage between two records
            junk = _garbage(rng)
            out.append(junk)
            corpus.damage.append(Damage(name, offset, offset + len(junk)))
            offset += len(junk)
        data, rid, html = _warc_record(rng, new_id, kind)
        data = gzip.compress(data, mtime=0) if gz else data
        if kind != "warcinfo":
            fate = "kept" if kind == "good" else "rejected"
            corpus.records.append(Record(name, offset, rid, html, fate))
        out.append(data)
        offset += len(data)
    data = b"".join(out)
    if rng.random() < 0.3:  # cut inside the last record
        last = corpus.records[-1]
        data = data[: rng.randint(last.position + 1, len(data) - 1)]
        corpus.records[-1] = _either(last)
        corpus.damage.append(Damage(name, last.position, None))
    path.write_bytes(data)
    return corpus


# -- Parquet ---------------------------------------------------------------------------------------------------
def write_parquet(path: Path, rng: random.Random, new_id, *, n: int, large_bytes: int) -> Corpus:
    """A Parquet file in several row groups; now and then one row group's pages or the footer are damaged."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    corpus, name = Corpus(), path.name
    ids, texts, fates = [], [], []
    for _ in range(n):
        ids.append(new_id() if rng.random() < 0.9 else None)
        roll = rng.random()
        text = hebrew_text(rng) if roll < 0.8 else rng.choice([None, "", "  ", "א" * large_bytes])
        texts.append(text)
        fates.append("kept" if roll < 0.8 else "rejected")
    table = pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})
    if rng.random() < 0.1:  # text that is not a string: every row is rejected
        table = pa.table({"id": pa.array(ids, pa.string()), "text": pa.array(range(n), pa.int64())})
        fates = ["rejected"] * n
    group_rows = max(1, n // 4)
    pq.write_table(table, path, row_group_size=group_rows, compression="zstd")
    corpus.records += [Record(name, i, ids[i], texts[i] if fates[i] == "kept" else None, fates[i]) for i in range(n)]
    damage = rng.random()
    data = bytearray(path.read_bytes())
    if damage < 0.15:  # cut: the footer is gone, nothing can be read
        path.write_bytes(bytes(data[: rng.randint(0, len(data) - 1)]))
        corpus.records = [_either(r) for r in corpus.records]
        corpus.damage.append(Damage(name, 0, None))
    elif damage < 0.3:  # one row group's text pages overwritten
        meta = pq.ParquetFile(path).metadata
        g = rng.randrange(meta.num_row_groups)
        column = meta.row_group(g).column(1)
        start = column.dictionary_page_offset or column.data_page_offset
        data[start : start + 8] = rng.randbytes(8)
        path.write_bytes(bytes(data))
        first = g * group_rows
        end = first + meta.row_group(g).num_rows
        corpus.records = [_either(r) if first <= r.position < end else r for r in corpus.records]
        corpus.damage.append(Damage(name, first, end))
    return corpus


# -- a mixture -------------------------------------------------------------------------------------------------
SUFFIXES = (".jsonl", ".jsonl.gz", ".warc", ".warc.gz", ".parquet")


def write_corpus(
    folder: Path, seed: int, *, files: int = 10, records: int = 30, large_bytes: int = 2_100_000
) -> Corpus:
    """`files` random files of about `records` records each under `folder` (created); ids are unique across
    seeds. `large_bytes`: the size of the oversized records (above the reader's `max_doc_bytes`)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    new_id = _Ids(f"s{seed}")
    corpus = Corpus()
    for i in range(files):
        suffix = SUFFIXES[i % len(SUFFIXES)] if i < len(SUFFIXES) else rng.choice(SUFFIXES)
        path = folder / f"f{i:03d}{suffix}"
        n = rng.randint(1, 2 * records)
        if suffix.startswith(".jsonl"):
            part = write_jsonl(path, rng, new_id, n=n, large_bytes=large_bytes)
        elif suffix.startswith(".warc"):
            part = write_warc(path, rng, new_id, n=n)
        else:
            part = write_parquet(path, rng, new_id, n=n, large_bytes=large_bytes)
        corpus.records += part.records
        corpus.damage += part.damage
    return corpus
