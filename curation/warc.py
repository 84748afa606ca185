"""WARC records read so that one damaged record never costs the rest of the file.

warcio parses the records; this module checks each record's framing before handing it on (its
Content-Length matches the bytes that follow, its gzip member ends where the record ends) and, where the
framing is broken, reports the damage and resynchronizes: at the next gzip member that holds a WARC record,
or at the next `WARC/1.0` / `WARC/1.1` header line. Only damage with no record after it ends the file.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader

CONTENT_RECORDS = ("response", "resource", "conversion")
GZIP_MAGIC = b"\x1f\x8b\x08"
# where a record can start: a WARC version line (damage can end mid-line), or a gzip member holding one
_RECORD_START = re.compile(rb"WARC/1\.[01]\r?\n|" + re.escape(GZIP_MAGIC))
_SCAN_BYTES = 1 << 20


@dataclass(slots=True)
class WarcRecord:
    """A record whose framing is intact, of any type (request, metadata, warcinfo and revisit records too).
    `payload` is its decoded body (content records only, up to the read limit; else None); `payload_error`
    what decoding it raised, if anything."""

    record: object
    offset: int
    payload: bytes | None
    payload_error: Exception | None


@dataclass(slots=True)
class WarcDamage:
    """Bytes from `offset` that hold no intact record; reading goes on at `resumes_at` (None: end of file)."""

    offset: int
    reason: str  # not_warc, corrupt_warc, bad_content_length, truncated_warc
    error: str
    resumes_at: int | None
    record_id: str | None = None


class _Iterator(ArchiveIterator):
    INC_RECORD = ""  # warcio's stderr warning for a wrong Content-Length: reported as damage instead
    blank_bytes = 0  # the bytes of blank lines after the last record read (CRLF CRLF: 4)

    def _consume_blanklines(self):
        line, self.blank_bytes = super()._consume_blanklines()
        return line, self.blank_bytes


def read_payload(record, limit: int | None = None) -> bytes:
    """The record's body with its Content-Encoding and chunking undone, at most `limit` bytes."""
    headers = record.http_headers
    encoding = (headers.get_header("Content-Encoding") or "").strip().lower() if headers else ""
    if encoding != "br":
        return record.content_stream().read(limit)
    import brotli  # warcio's own brotli decoder does not work with brotli >= 1.1

    chunked = headers.get_header("Transfer-Encoding") == "chunked"
    raw = (ChunkedDataReader(record.raw_stream) if chunked else record.raw_stream).read()
    decoder = brotli.Decompressor()
    body = decoder.process(raw, output_buffer_limit=limit) if limit else decoder.process(raw)
    if not decoder.is_finished() and not (limit and len(body) >= limit):
        raise ValueError("brotli stream ends early")
    return body[:limit] if limit else body


def warc_records(
    f: BinaryIO, size: int, read_limit: int | None = None, *, start: int = 0, end: int | None = None
) -> Iterator[WarcRecord | WarcDamage]:
    """Every record of a seekable WARC file (gzip-per-record or plain) in order, and the damage between them.
    Only content records (`CONTENT_RECORDS`) become documents; the others are yielded to be counted.
    With START/END, the records (and damage) starting in [START, END): a part of the file, START a record start."""
    end = size if end is None else end
    at: int | None = start
    while at is not None and at < end:
        at = yield from _records_from(f, size, at, read_limit, end)


def _records_from(f: BinaryIO, size: int, start: int, read_limit: int | None, stop: int):
    """Records from byte `start` until STOP, the end or the first damage; returns where to go on (None: done)."""
    f.seek(start)
    it = _Iterator(f)
    while True:
        offset = it.offset
        if offset >= stop:
            return None
        try:
            record = next(it)
        except StopIteration:
            break
        except Exception as e:  # noqa: BLE001 - whatever warcio raises on bytes that are not a record
            resume = next_record_start(f, offset + 1)
            reason = "not_warc" if offset == 0 and resume is None else "corrupt_warc"
            yield WarcDamage(offset, reason, _one_line(e), resume)
            return resume
        rid = record.rec_headers.get_header("WARC-Record-ID") or None
        warnings = it.err_count
        payload, payload_error = None, None
        if record.rec_type in CONTENT_RECORDS:
            try:
                payload = read_payload(record, read_limit)
            except Exception as e:  # noqa: BLE001 - a body that does not decode is this record's problem only
                payload_error = e
        try:
            it.read_to_end()
        except Exception as e:  # noqa: BLE001
            resume = next_record_start(f, offset + 1)
            yield WarcDamage(offset, "corrupt_warc", _one_line(e), resume, rid)
            return resume
        damage = _framing_damage(it, record, warnings)
        if damage is not None and damage[0] == "not_followed_by_record":
            # either this record's Content-Length runs on into the next record (whose start then lies inside
            # this one), or an intact record is followed by bytes that are not a record
            following, resume = it.offset, next_record_start(f, offset + 1)
            compressed = it.reader is not None and it.reader.decompressor is not None
            if not compressed and (resume is None or resume >= following):
                yield WarcRecord(record, offset, payload, payload_error)
                error = f"{_one_line_bytes(it.next_line)} where a record should start"
                yield WarcDamage(following, "corrupt_warc" if resume else "truncated_warc", error, resume)
                return resume
            damage = ("bad_content_length", damage[1])
        if damage is not None:
            reason, error = damage
            resume = next_record_start(f, offset + 1)
            if reason == "short":
                clean_member = it.reader is not None and getattr(it.reader.decompressor, "eof", False)
                compressed = it.reader is not None and it.reader.decompressor is not None
                if clean_member or (not compressed and resume is not None):
                    reason = "bad_content_length"
                else:
                    reason = "truncated_warc" if resume is None else "corrupt_warc"
            yield WarcDamage(offset, reason, error, resume, rid)
            return resume
        yield WarcRecord(record, offset, payload, payload_error)
    end = it.offset
    if end < min(size, stop):
        f.seek(end)
        if size - end > 4096 or f.read(4096).strip():
            resume = next_record_start(f, end + 1)
            reason = "truncated_warc" if resume is None else "corrupt_warc"
            yield WarcDamage(end, reason, f"{size - end:,} bytes after the last whole record", resume)
            return resume
    return None


def _framing_damage(it: ArchiveIterator, record, warnings: int) -> tuple[str, str] | None:
    version = record.rec_headers.protocol or ""
    if not version.startswith("WARC/"):  # warcio parses some junk leniently
        return "corrupt_warc", f"{version[:40]!r} where a WARC version line should be"
    length = record.rec_headers.get_header("Content-Length")
    if length is None or not length.strip().isdigit():
        return "bad_content_length", f"Content-Length {length!r} is not a length"
    missing = getattr(record.raw_stream, "limit", 0)
    if missing > 0:
        return "short", f"record ends {missing:,} bytes before its Content-Length {int(length):,}"
    if it.err_count > warnings:  # no blank line after the record: it ends where its Content-Length says not
        return "bad_content_length", f"bytes other than a record follow its Content-Length {int(length):,}"
    if it.blank_bytes < 4:  # the record runs on into the CRLF CRLF that ends it, or the file ends first
        at_end = it.next_line is None and it.reader.decompressor is None
        return "short" if at_end else "bad_content_length", f"no CRLF CRLF after its Content-Length {int(length):,}"
    if it.next_line and not it.next_line.startswith(b"WARC/"):
        return "not_followed_by_record", f"a blank line, then no record after its Content-Length {int(length):,}"
    return None


def next_record_start(f: BinaryIO, pos: int, *, members_only: bool = False) -> int | None:
    """The first offset at or after `pos` where a record starts, or None. MEMBERS_ONLY: only gzip members that
    hold a record (a `WARC/1.0` line inside compressed bytes is no record start)."""
    at = pos
    pattern = re.compile(re.escape(GZIP_MAGIC)) if members_only else _RECORD_START
    while True:
        f.seek(at)
        buf = f.read(_SCAN_BYTES)
        for m in pattern.finditer(buf):
            candidate = at + m.start()
            if candidate >= pos and (m.group() != GZIP_MAGIC or _gzip_warc_at(f, candidate)):
                return candidate
        if len(buf) < _SCAN_BYTES:
            return None
        at += len(buf) - 16  # overlap, for a header line across the boundary


def _gzip_warc_at(f: BinaryIO, offset: int) -> bool:
    f.seek(offset)
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(f.read(65_536), 16).startswith(b"WARC/")
    except zlib.error:
        return False


def _one_line_bytes(data: bytes) -> str:
    return repr(data[:40])


def _one_line(e: Exception) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())}"[:160]
