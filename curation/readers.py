"""One datatrove reader for WARC, JSONL and Parquet input that never loses a record.

A record that cannot become a document (a malformed JSON line, bytes that are not UTF-8, a record
without text, an oversized document, the rest of a truncated file) is still yielded, as a document
marked with `metadata["filter_reason"] = "reader:<rule>"`; `DropRejected` right after the reader sends
it to the exclusion writer. So every input record ends up either curated or excluded, with a reason.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.readers.base import BaseDiskReader
from loguru import logger

WARC_SUFFIXES = (".warc", ".warc.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
INPUT_SUFFIXES = WARC_SUFFIXES + JSONL_SUFFIXES + PARQUET_SUFFIXES
HTML_TYPES = ("text/html", "application/xhtml+xml")
EXCERPT_CHARS = 65_536  # how much of a rejected record's text is kept in `excluded`

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
_TRUNCATION_ERRORS = (EOFError, zlib.error, OSError, ValueError)


def input_format(path: str) -> str | None:
    name = path.lower()
    for fmt, suffixes in (("warc", WARC_SUFFIXES), ("jsonl", JSONL_SUFFIXES), ("parquet", PARQUET_SUFFIXES)):
        if name.endswith(suffixes):
            return fmt
    return None


def declared_charset(content_type: str | None, payload: bytes) -> str | None:
    """The charset the server declared: HTTP Content-Type first, then a <meta> tag near the top."""
    if content_type:
        m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", content_type, re.IGNORECASE)
        if m:
            return m.group(1).lower()
    m = _META_CHARSET.search(payload[:4096])
    return m.group(1).decode("ascii").lower() if m else None


def decode_html(payload: bytes, charset: str | None) -> tuple[str, str] | None:
    """Decode with the declared charset, then UTF-8; None when neither decodes the bytes cleanly."""
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return payload.decode(candidate), candidate
        except (UnicodeDecodeError, LookupError):
            continue
    return None


class CrawlReader(BaseDiskReader):
    """Reads `.warc[.gz]`, `.jsonl[.gz]` and `.parquet` files; HTML from WARC, plain text from the others."""

    name = "📥 Crawl reader"

    def __init__(
        self,
        data_folder,
        paths_file=None,
        *,
        max_doc_bytes: int = 2_000_000,
        text_key: str = "text",
        id_key: str = "id",
        doc_progress: bool = False,
    ):
        super().__init__(data_folder, paths_file, text_key=text_key, id_key=id_key, doc_progress=doc_progress)
        self.max_doc_bytes = max_doc_bytes

    # -- helpers -----------------------------------------------------------------------------------
    def _doc(self, text: str, id_: str, path: str, fmt: str, **meta) -> Document:
        return Document(text=text, id=id_, metadata={"source": path, "format": fmt, **meta})

    def _reject(self, path: str, id_: str, reason: str, text: str = "", **meta) -> Document:
        self.stat_update(f"rejected_{reason}")
        return self._doc(text[:EXCERPT_CHARS], id_, path, "rejected", filter_reason=f"reader:{reason}", **meta)

    def _oversized(self, n_bytes: int) -> bool:
        return self.max_doc_bytes > 0 and n_bytes > self.max_doc_bytes

    # -- formats -----------------------------------------------------------------------------------
    def read_file(self, filepath: str) -> Iterator[Document]:
        fmt = input_format(filepath)
        if fmt == "warc":
            yield from self._read_warc(filepath)
        elif fmt == "jsonl":
            yield from self._read_jsonl(filepath)
        elif fmt == "parquet":
            yield from self._read_parquet(filepath)
        else:
            logger.error(f"{filepath}: not a WARC, JSONL or Parquet file; skipped")
            yield self._reject(filepath, f"{filepath}#0", "unsupported_format")

    def _read_warc(self, path: str) -> Iterator[Document]:
        from warcio.archiveiterator import ArchiveIterator

        n_records, error = 0, None
        with self.data_folder.open(path, "rb", compression=None) as f:
            it = ArchiveIterator(f)
            try:
                for record in it:
                    if record.rec_type not in ("response", "resource", "conversion"):
                        continue
                    doc = self._warc_record(path, record, n_records + 1)
                    # warcio ends quietly inside a cut gzip member: a record shorter than its
                    # Content-Length, or bytes left after the last whole record, mean truncation
                    if getattr(record.raw_stream, "limit", 0) > 0:
                        error = f"record {n_records + 1} ends {record.raw_stream.limit:,} bytes early"
                        break
                    n_records += 1
                    if doc is not None:
                        yield doc
            except _TRUNCATION_ERRORS as e:
                error = str(e)
        size = self.data_folder.size(path)
        if error is None and it.offset < size:
            error = f"{size - it.offset:,} bytes of an incomplete record follow"
        if error is not None:
            logger.error(
                f"{path}: truncated or corrupt WARC at byte offset {it.offset:,} after {n_records} "
                f"whole records ({error})"
            )
            yield self._reject(path, f"{path}@{it.offset}:truncated", "truncated_warc", offset=it.offset)

    def _warc_record(self, path: str, record, number: int) -> Document | None:
        rid = record.rec_headers.get_header("WARC-Record-ID") or f"{path}#{number}"
        url = record.rec_headers.get_header("WARC-Target-URI")
        content_type = record.http_headers.get_header("Content-Type") if record.http_headers else None
        content_type = content_type or record.rec_headers.get_header("Content-Type") or ""
        payload = record.content_stream().read()
        if record.rec_type == "conversion":  # WET: already text
            decoded = decode_html(payload, "utf-8")
            if decoded is None:
                return self._reject(path, rid, "invalid_utf8", payload.decode("utf-8", "replace"), url=url)
            return self._doc(decoded[0], rid, path, "text", url=url)
        mime = content_type.split(";")[0].strip().lower()
        if mime and mime not in HTML_TYPES:
            return self._reject(path, rid, "not_html", url=url)
        if self._oversized(len(payload)):
            return self._reject(path, rid, "too_large", payload[:EXCERPT_CHARS].decode("utf-8", "replace"), url=url)
        charset = declared_charset(content_type, payload)
        decoded = decode_html(payload, charset)
        if decoded is None:
            return self._reject(path, rid, "undecodable", payload.decode("utf-8", "replace"), url=url)
        html, used = decoded
        return self._doc(html, rid, path, "html", url=url, charset=used)

    def _read_jsonl(self, path: str) -> Iterator[Document]:
        line_no = 0
        try:
            with self.data_folder.open(path, "rb", compression="infer") as f:
                for line_no, raw in enumerate(f, start=1):
                    if raw.strip():
                        yield self._jsonl_record(path, line_no, raw)
        except _TRUNCATION_ERRORS as e:
            logger.error(f"{path}: truncated or corrupt after line {line_no}: {e}")
            yield self._reject(path, f"{path}:{line_no + 1}:truncated", "truncated_file")

    def _jsonl_record(self, path: str, line_no: int, raw: bytes) -> Document:
        fallback_id = f"{path}:{line_no}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            logger.warning(f"{path}:{line_no}: bytes that are not UTF-8 at position {e.start}; record excluded")
            return self._reject(path, fallback_id, "invalid_utf8", raw.decode("utf-8", "replace"))
        if self._oversized(len(raw)):
            logger.warning(f"{path}:{line_no}: {len(raw):,} bytes > max_doc_bytes; record excluded")
            return self._reject(path, fallback_id, "too_large", line)
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            logger.warning(f"{path}:{line_no}: malformed JSON ({e.msg}); record excluded")
            return self._reject(path, fallback_id, "malformed_json", line)
        if not isinstance(data, dict):
            return self._reject(path, fallback_id, "malformed_json", line)
        return self._record_from_dict(path, fallback_id, data)

    def _record_from_dict(self, path: str, fallback_id: str, data: dict) -> Document:
        id_ = data.get(self.id_key)
        id_ = fallback_id if id_ is None or id_ == "" else str(id_)
        url = data.get("url")
        url = str(url) if url is not None else None
        text = data.get(self.text_key)
        if not isinstance(text, str):
            return self._reject(path, id_, "no_text", url=url)
        if not text.strip():
            return self._reject(path, id_, "empty_text", url=url)
        if self._oversized(len(text.encode("utf-8", "surrogatepass"))):
            return self._reject(path, id_, "too_large", text, url=url)
        return self._doc(text, id_, path, "text", url=url)

    def _read_parquet(self, path: str) -> Iterator[Document]:
        import pyarrow.parquet as pq

        with self.data_folder.open(path, "rb") as f:
            pf = pq.ParquetFile(f)
            if self.text_key not in pf.schema_arrow.names:
                logger.error(
                    f"{path}: no '{self.text_key}' column (columns: {pf.schema_arrow.names}); "
                    f"its {pf.metadata.num_rows} rows are excluded"
                )
            row = 0
            for batch in pf.iter_batches(batch_size=1024):
                for data in batch.to_pylist():
                    yield self._record_from_dict(path, f"{path}:{row}", data)
                    row += 1


class DropRejected(BaseFilter):
    """Sends the records the reader could not turn into documents to the exclusion writer."""

    name = "🚮 Drop rejected records"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        reason = doc.metadata.get("filter_reason")
        return (False, reason) if reason else True
