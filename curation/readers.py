"""One datatrove reader for WARC, JSONL and Parquet input that never loses a record.

A record that cannot become a document (a malformed JSON line, bytes that are not UTF-8, a record
without text, an oversized document, a WARC record whose Content-Length is wrong) is still yielded, as a
document marked with `metadata["filter_reason"] = "reader:<rule>"`; `DropRejected` right after the reader
sends it to the exclusion writer. Damage that ends a file early (a cut gzip stream, a cut WARC) is one such
document, placed where the damage starts. So every input record ends up either curated or excluded, with a
reason, and no bad record or file ever ends the step.

Every document carries `metadata["source_id"]` (the input's own id: the id key's value, the WARC-Record-ID;
None when it had none) and `metadata["position"]` (JSONL: 1-based line; Parquet: 0-based row; WARC: byte
offset of the record, in the decompressed stream for a whole-file `.warc.zst/.bz2/.xz`).

Files may be compressed with gzip, zstd, bzip2 or xz (`.gz`, `.zst`, `.bz2`, `.xz` after the format's
suffix); the first bytes decide how a file is read, so a `.jsonl` that is really compressed is read too. A
JSONL file whose name promises a compression its bytes do not have is one `reader:corrupt_file` document; a
WARC file is read as what its bytes are (plain or gzip, as warcio does), else it is `reader:not_warc`. A cut
or corrupt compressed stream keeps the records before the damage; after it, a gzip-per-record WARC resumes
at the next intact record, any other stream ends there.
"""

from __future__ import annotations

import json
import re
import tempfile
import zlib
from collections.abc import Callable, Iterator
from functools import partial

from datatrove.data import Document, DocumentsPipeline
from datatrove.io import open_file
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.readers.base import BaseDiskReader
from loguru import logger

from common.compression import (
    MAGIC_BYTES,
    SUFFIXES,
    decompressed,
    magic_compression,
    suffix_compression,
)
from curation.arrow_files import ARROW_SUFFIXES, arrow_batches
from curation.charsets import python_codec
from curation.layouts import FileFields
from curation.splits import Part, part_path
from curation.warc import CONTENT_RECORDS, WarcDamage, WarcRecord, warc_records

_COMPRESSED = tuple(SUFFIXES)
WARC_SUFFIXES = (".warc",) + tuple(".warc" + c for c in _COMPRESSED)
JSONL_SUFFIXES = (".jsonl", ".ndjson") + tuple(b + c for b in (".jsonl", ".json", ".ndjson") for c in _COMPRESSED)
PARQUET_SUFFIXES = (".parquet",)
INPUT_SUFFIXES = WARC_SUFFIXES + JSONL_SUFFIXES + PARQUET_SUFFIXES + ARROW_SUFFIXES
INPUT_KINDS = f"WARC, JSONL, Parquet or Arrow; WARC and JSONL also compressed: {', '.join(_COMPRESSED)}"
HTML_TYPES = ("text/html", "application/xhtml+xml")
EXCERPT_CHARS = 65_536  # how much of a rejected record's text is kept in `excluded`
BOM = b"\xef\xbb\xbf"

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
# what a compressed stream raises where it is cut (EOFError) or corrupt (CorruptStream, zlib.error: OSError)
_STREAM_ERRORS = (EOFError, zlib.error, OSError)


def _json_array(first_line: bytes) -> str | None:
    """Whether a JSONL file's first line opens a JSON array of records: "one_line" (the whole array, of
    objects), "multi_line" (an array spread over lines, so not JSON on its own), else None."""
    opening = first_line.strip()
    if not opening.startswith(b"["):
        return None
    try:
        value = json.loads(opening)
    except (ValueError, RecursionError):  # pretty-printed (`[` alone), or one object per line after `[`
        return "multi_line" if opening == b"[" or opening[1:].lstrip().startswith(b"{") else None
    return "one_line" if value and all(isinstance(v, dict) for v in value) else None


class _WrongCompression(Exception):
    """A file whose name promises a compression that its first bytes do not show."""


def input_format(path: str) -> str | None:
    name = path.lower()
    formats = (("warc", WARC_SUFFIXES), ("jsonl", JSONL_SUFFIXES), ("parquet", PARQUET_SUFFIXES))
    for fmt, suffixes in (*formats, ("arrow", ARROW_SUFFIXES)):
        if name.endswith(suffixes):
            return fmt
    return None


def stream_compression(path: str, f, *, strict: bool = True) -> str | None:
    """How the open binary file F (at its start; left there) is compressed, from its first bytes. With
    STRICT, raises `_WrongCompression` when PATH's suffix names a compression and the bytes show none."""
    head = f.read(MAGIC_BYTES)
    f.seek(0)
    found, named = magic_compression(head), suffix_compression(path)
    if strict and named and found is None:
        suffix = path.rsplit(".", 1)[-1]
        raise _WrongCompression(f"named .{suffix} but not {named}-compressed (it starts with {head[:8]!r})")
    if found and found != named:
        logger.debug(f"{path}: {found}-compressed, read as such")
    return found


def declared_charset(content_type: str | None, payload: bytes) -> str | None:
    """The charset the server declared: HTTP Content-Type first, then a <meta> tag near the top."""
    if content_type:
        m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:\-]+)", content_type, re.IGNORECASE)
        if m:
            return m.group(1).lower()
    m = _META_CHARSET.search(payload[:4096])
    return m.group(1).decode("ascii").lower() if m else None


def decode_html(payload: bytes, charset: str | None) -> tuple[str, str] | None:
    """Decode with the declared charset (browsers' labels included: `iso-8859-8-i` is ISO-8859-8, see
    charsets.py), then UTF-8; None when neither decodes the bytes cleanly. Returns (text, label used)."""
    for candidate in (charset, "utf-8"):
        codec = python_codec(candidate)
        if codec is None:
            continue
        try:
            return payload.decode(codec), candidate
        except (UnicodeError, LookupError):  # bytes the codec refuses, a codec that refuses all
            continue
    return None


def salvage_id(raw: bytes, key: str) -> str | None:
    """The value of KEY (a string or a number) read off a JSON line that does not parse as a whole, if it is
    there intact; None otherwise."""
    m = re.search(rb'"' + re.escape(key.encode()) + rb'"\s*:\s*("(?:[^"\\\n]|\\.){0,500}"|-?[0-9]{1,30})', raw)
    if not m:
        return None
    try:
        value = json.loads(m.group(1).decode("utf-8", "replace"))
    except ValueError:
        return None
    return printable(str(value))


def utf8_size(text: str) -> int | None:
    """Bytes of `text` in UTF-8; None when it holds a lone surrogate (a `\\ud800` escape) that UTF-8 cannot hold."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def printable(text: str) -> str:
    """`text` with lone surrogates replaced, so that Parquet can hold it (file names, excerpts)."""
    if utf8_size(text) is not None:
        return text
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


class CrawlReader(BaseDiskReader):
    """Reads `.warc[.gz]`, `.jsonl[.gz]` and `.parquet` files; HTML from WARC, plain text from the others.

    The files to read are `files` (paths relative to `data_folder`, or parts of large files: see
    `curation/splits.py`), else the JSON list of such entries in `paths_file`, else every file under
    `data_folder`; task `rank` of `world_size` reads every `world_size`-th of them. A list, unlike datatrove's
    newline-separated paths file, holds any file name.
    """

    name = "📥 Crawl reader"

    def __init__(
        self,
        data_folder,
        paths_file=None,
        *,
        files: list[str] | None = None,
        max_doc_bytes: int = 2_000_000,
        text_key: str | None = None,
        id_key: str | None = None,
        url_key: str | None = None,
        doc_progress: bool = False,
    ):
        super().__init__(
            data_folder, paths_file, text_key=text_key or "text", id_key=id_key or "id", doc_progress=doc_progress
        )
        self.files = list(files) if files is not None else None
        self.max_doc_bytes = max_doc_bytes
        # explicit field paths; None: the file's layout decides (curation/layouts.py)
        self.keys = {"text_key": text_key, "id_key": id_key, "url_key": url_key}
        self._fields: FileFields | None = None

    def input_files(self) -> list[Part]:
        if self.files is not None:
            return self.files
        if self.paths_file:
            with open_file(self.paths_file, "rt") as f:
                paths = json.load(f)
            if not isinstance(paths, list) or not all(isinstance(p, str | dict) for p in paths):
                raise ValueError(f"{self.paths_file}: expected a JSON list of file paths and parts")
            return paths
        return self.data_folder.list_files(recursive=self.recursive, glob_pattern=self.glob_pattern)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        shard = self.input_files()[rank::world_size]
        if not shard:
            logger.warning(f"no input files for task {rank} of {world_size}")
        for doc in self.read_files_shard(shard):
            self.update_doc_stats(doc)
            yield doc

    # -- helpers -----------------------------------------------------------------------------------
    def _doc(self, text: str, id_: str, path: str, fmt: str, position: int, source_id: str | None, **meta) -> Document:
        metadata = {"source": printable(path), "format": fmt, "position": position, "source_id": source_id, **meta}
        return Document(text=text, id=id_, metadata=metadata)

    def _reject(self, path: str, id_: str, position: int, reason: str, text: str = "", **meta) -> Document:
        self.stat_update(f"rejected_{reason}")
        meta.setdefault("source_id", None)
        excerpt = printable(text[:EXCERPT_CHARS])
        return self._doc(excerpt, printable(id_), path, "rejected", position, filter_reason=f"reader:{reason}", **meta)

    def _oversized(self, n_bytes: int) -> bool:
        return self.max_doc_bytes > 0 and n_bytes > self.max_doc_bytes

    def _isolated(
        self, build: Callable[[], Document], path: str, id_: str, position: int, source_id: str | None = None
    ) -> Document:
        """`build()`, or a `reader:unreadable_record` rejection when it fails: one record never ends a file."""
        try:
            return build()
        except Exception as e:  # noqa: BLE001 - whatever a record holds, it is that record's problem only
            logger.debug(f"{path}: record at {position}: {type(e).__name__}: {e}")
            return self._reject(path, id_, position, "unreadable_record", source_id=source_id)

    def _readable(self, path: str) -> bool:
        """Whether PATH can still be opened (an object deleted since the plan, a key without read access)."""
        try:
            with self.data_folder.open(path, "rb", compression=None) as f:
                f.read(1)
            return True
        except Exception as e:  # noqa: BLE001 - whatever the storage raises, the file is excluded, not the run
            logger.error(f"{self.data_folder.unstrip_protocol(path)}: unreadable ({type(e).__name__}: {e}); excluded")
            return False

    # -- formats -----------------------------------------------------------------------------------
    def read_file(self, filepath: Part) -> Iterator[Document]:
        path = part_path(filepath)
        if not self._readable(path):
            yield self._reject(path, f"{path}#0", 0, "unreadable_file")
            return
        if isinstance(filepath, dict):  # a part of a large file (see curation/splits.py)
            if "bytes" in filepath and input_format(path) == "warc":
                yield from self._read_warc(path, *filepath["bytes"])
            elif "bytes" in filepath:
                start, end = filepath["bytes"]
                yield from self._read_jsonl(path, start=start, end=end, first_line=filepath["line"])
            else:
                groups = range(*filepath["row_groups"])
                yield from self._read_parquet(path, row_groups=groups, first_row=filepath["row"])
            return
        fmt = input_format(filepath)
        if fmt == "warc":
            yield from self._read_warc(filepath)
        elif fmt == "jsonl":
            yield from self._read_jsonl(filepath)
        elif fmt == "parquet":
            yield from self._read_parquet(filepath)
        elif fmt == "arrow":
            yield from self._read_arrow(filepath)
        else:
            logger.error(f"{filepath}: not a WARC, JSONL or Parquet file; skipped")
            yield self._reject(filepath, f"{filepath}#0", 0, "unsupported_format")

    def _wrong_compression(self, path: str, e: _WrongCompression) -> Document:
        logger.error(f"{path}: {e}; excluded")
        return self._reject(path, f"{path}:0:corrupt_file", 0, "corrupt_file")

    def _stream_damage(self, path: str, e: Exception, position: int, where: str) -> Document:
        reason = "truncated_file" if isinstance(e, EOFError) else "corrupt_file"
        logger.error(f"{path}: truncated or corrupt {where} ({e}); the rest of the file is excluded")
        return self._reject(path, f"{path}:{position}:{reason}", position, reason)

    def _read_warc(self, path: str, start: int = 0, end: int | None = None) -> Iterator[Document]:
        """The WARC file PATH, or its records starting in [START, END) (a gzip-per-record file's part)."""
        with self.data_folder.open(path, "rb", compression=None) as f:
            kind = stream_compression(path, f, strict=False)
            if kind in (None, "gzip"):  # warcio reads these itself; a damaged gzip member is skipped
                yield from self._warc_items(path, f, self.data_folder.size(path), start=start, end=end)
                return
            with tempfile.TemporaryFile() as plain:  # seekable, for resynchronizing after a damaged record
                error = None
                try:
                    with decompressed(f, kind) as stream:
                        while chunk := stream.read1(1 << 20):  # read() would lose what precedes the damage
                            plain.write(chunk)
                except _STREAM_ERRORS as e:
                    error = e
                size = plain.tell()
                yield from self._warc_items(path, plain, size, error)

    def _warc_items(
        self, path: str, f, size: int, stream_error: Exception | None = None, start: int = 0, end: int | None = None
    ) -> Iterator[Document]:
        """The documents of the WARC records in F (those starting in [START, END)); where STREAM_ERROR (the
        decompression's) cut the file, the damage at its end is reported as that."""
        limit = self.max_doc_bytes + 1 if self.max_doc_bytes > 0 else None
        for item in warc_records(f, size, read_limit=limit, start=start, end=end):
            if isinstance(item, WarcDamage):
                if stream_error is not None and item.resumes_at is None:
                    break  # the cut record: the stream's damage, reported below
                yield self._warc_damage(path, item)
                continue
            rec_type = item.record.rec_type
            if rec_type not in CONTENT_RECORDS:  # request, metadata, warcinfo, revisit: not documents
                self.stat_update(f"skipped_{rec_type or 'untyped'}")
                continue
            rid = item.record.rec_headers.get_header("WARC-Record-ID") or None
            id_ = rid or f"{path}@{item.offset}"
            yield self._isolated(partial(self._warc_record, path, item, id_, rid), path, id_, item.offset, rid)
        else:
            item = None
        if stream_error is not None:
            at = item.offset if item is not None else size
            yield self._stream_damage(path, stream_error, at, f"at byte {at:,} of the decompressed WARC")

    def _warc_damage(self, path: str, damage: WarcDamage) -> Document:
        if damage.reason == "bad_content_length":
            logger.debug(f"{path}: record at byte offset {damage.offset:,}: {damage.error}")
        elif damage.reason == "not_warc":
            logger.error(f"{path}: not a WARC file ({damage.error}); excluded")
        elif damage.resumes_at is None:  # the rest of the file is lost
            logger.error(
                f"{path}: truncated or corrupt WARC at byte offset {damage.offset:,} ({damage.error}); "
                "the rest of the file is excluded"
            )
        else:
            logger.warning(
                f"{path}: corrupt WARC at byte offset {damage.offset:,} ({damage.error}); "
                f"{damage.resumes_at - damage.offset:,} bytes skipped"
            )
        id_ = damage.record_id or f"{path}@{damage.offset}:{damage.reason}"
        return self._reject(path, id_, damage.offset, damage.reason, source_id=damage.record_id)

    def _warc_record(self, path: str, item: WarcRecord, id_: str, rid: str | None) -> Document:
        record, position = item.record, item.offset
        meta = {"url": record.rec_headers.get_header("WARC-Target-URI"), "source_id": rid}
        content_type = record.http_headers.get_header("Content-Type") if record.http_headers else None
        content_type = content_type or record.rec_headers.get_header("Content-Type") or ""
        mime = content_type.split(";")[0].strip().lower()
        if record.rec_type != "conversion" and mime and mime not in HTML_TYPES:
            return self._reject(path, id_, position, "not_html", **meta)
        if item.payload_error is not None:
            e = item.payload_error
            logger.debug(f"{path}@{position}: body does not decode ({type(e).__name__}: {e})")
            return self._reject(path, id_, position, "bad_content_encoding", **meta)
        payload = item.payload
        if self._oversized(len(payload)):
            return self._reject(path, id_, position, "too_large", payload.decode("utf-8", "replace"), **meta)
        if record.rec_type == "conversion":  # WET: already text
            decoded = decode_html(payload, "utf-8")
            if decoded is None:
                return self._reject(path, id_, position, "invalid_utf8", payload.decode("utf-8", "replace"), **meta)
            return self._doc(decoded[0], id_, path, "text", position, **meta)
        decoded = decode_html(payload, declared_charset(content_type, payload))
        if decoded is None:
            return self._reject(path, id_, position, "undecodable", payload.decode("utf-8", "replace"), **meta)
        html, used = decoded
        return self._doc(html, id_, path, "html", position, charset=used, **meta)

    def _read_jsonl(
        self, path: str, *, start: int = 0, end: int | None = None, first_line: int = 1
    ) -> Iterator[Document]:
        """The lines of PATH, or of its part [START, END) (uncompressed; START a line start, line FIRST_LINE)."""
        line_no, offset = first_line - 1, start
        try:
            with self.data_folder.open(path, "rb", compression=None) as raw_file:
                if end is None:
                    kind = stream_compression(path, raw_file)
                    f = decompressed(raw_file, kind) if kind else raw_file
                else:  # a part of an uncompressed file (curation/splits.py)
                    f = raw_file
                    f.seek(start)
                for line_no, raw in enumerate(f, start=first_line):  # noqa: B007 - also names where a cut file ends
                    if end is not None and offset >= end:
                        break
                    offset += len(raw)
                    raw = raw.removeprefix(BOM)  # a byte-order mark: at the start of a file, or of one appended
                    if line_no == 1 and (array := _json_array(raw)):
                        logger.error(
                            f"{path}: a JSON array, not JSON Lines (one object per line); excluded. "
                            "Convert it with: jq -c '.[]' FILE > FILE.jsonl"
                        )
                        yield self._reject(path, f"{path}:1:json_array", 1, "json_array")
                        if array == "multi_line":  # the rest of the file is the array's body
                            return
                        continue
                    if raw.strip():
                        fallback = f"{path}:{line_no}"
                        yield self._isolated(
                            partial(self._jsonl_record, path, line_no, fallback, raw), path, fallback, line_no
                        )
        except _WrongCompression as e:
            yield self._wrong_compression(path, e)
        except _STREAM_ERRORS as e:
            yield self._stream_damage(path, e, line_no + 1, f"after line {line_no}")

    def _jsonl_record(self, path: str, line_no: int, fallback: str, raw: bytes) -> Document:
        # a line rejected before it parses keeps its own id where one can be read off it (id = `file:line`)
        salvaged = partial(salvage_id, raw, (self.keys["id_key"] or "id").rsplit(".", 1)[-1])
        if self._oversized(len(raw)):
            return self._reject(
                path, fallback, line_no, "too_large", raw.decode("utf-8", "replace"), source_id=salvaged()
            )
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            logger.debug(f"{path}:{line_no}: bytes that are not UTF-8 at position {e.start}")
            return self._reject(
                path, fallback, line_no, "invalid_utf8", raw.decode("utf-8", "replace"), source_id=salvaged()
            )
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as e:  # also nesting too deep, integers too long
            logger.debug(f"{path}:{line_no}: malformed JSON ({e})")
            return self._reject(path, fallback, line_no, "malformed_json", line, source_id=salvaged())
        if not isinstance(data, dict):
            return self._reject(path, fallback, line_no, "not_an_object", line)
        return self._record_from_dict(path, fallback, line_no, data)

    def _file_fields(self, path: str, keys) -> FileFields:
        """The fields of PATH's records, chosen from KEYS (its first record's, or its columns) once per file."""
        if self._fields is None or self._fields.path != path:
            self._fields = FileFields(path, keys, **self.keys)
        return self._fields

    def _record_from_dict(self, path: str, fallback_id: str, position: int, data: dict) -> Document:
        fields = self._file_fields(path, data.keys())
        source_id, url = fields.scalar(data, "id"), fields.scalar(data, "url")
        text = fields.text(data)
        if not all(utf8_size(s) is not None for s in (source_id or "", url or "")):
            return self._reject(path, fallback_id, position, "invalid_unicode", text or "")
        id_ = source_id or fallback_id
        meta = {"url": url, "source_id": source_id, **fields.metadata(data)}
        if text is None:
            return self._reject(path, id_, position, "no_text", **meta)
        if not text.strip():
            return self._reject(path, id_, position, "empty_text", **meta)
        n_bytes = utf8_size(text)
        if n_bytes is None:
            return self._reject(path, id_, position, "invalid_unicode", text, **meta)
        if self._oversized(n_bytes):
            return self._reject(path, id_, position, "too_large", text, **meta)
        return self._doc(text, id_, path, "text", position, **meta)

    def _table_columns(self, path: str, names: list[str]) -> list[str]:
        """The columns of a Parquet or Arrow file to load; a file without its text column is logged once (its
        rows then become `reader:no_text`)."""
        fields = self._file_fields(path, names)
        text_paths = fields.paths["text"]
        if not any(p == n or p.startswith(f"{n}.") for p in text_paths for n in names):
            fields.report_missing_text(names)
        return fields.columns() or names[:1]

    def _read_arrow(self, path: str) -> Iterator[Document]:
        import pyarrow as pa

        row = 0
        with self.data_folder.open(path, "rb") as f:
            try:
                schema, batches = arrow_batches(f)
                columns = self._table_columns(path, schema.names)
                for batch in batches:
                    for data in batch.select(columns).to_pylist():
                        fallback = f"{path}:{row}"
                        yield self._isolated(
                            partial(self._record_from_dict, path, fallback, row, data), path, fallback, row
                        )
                        row += 1
            except (pa.ArrowException, OSError, EOFError) as e:
                logger.error(f"{path}: not a readable Arrow file from row {row} ({e}); the rest is excluded")
                yield self._reject(path, f"{path}:{row}:corrupt_arrow", row, "corrupt_arrow")

    def _read_parquet(self, path: str, *, row_groups: range | None = None, first_row: int = 0) -> Iterator[Document]:
        """The rows of PATH, or of its ROW_GROUPS (the first of them row FIRST_ROW)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        errors = (pa.ArrowException, OSError, EOFError)
        with self.data_folder.open(path, "rb") as f:
            try:
                pf = pq.ParquetFile(f)
            except errors as e:
                logger.error(f"{path}: not a readable Parquet file ({e}); excluded")
                yield self._reject(path, f"{path}:0:corrupt_parquet", 0, "corrupt_parquet")
                return
            columns = self._table_columns(path, pf.schema_arrow.names)
            start = first_row
            for group in row_groups if row_groups is not None else range(pf.metadata.num_row_groups):
                end = start + pf.metadata.row_group(group).num_rows
                row = start
                try:
                    for batch in pf.iter_batches(batch_size=1024, row_groups=[group], columns=columns):
                        for data in batch.to_pylist():
                            fallback = f"{path}:{row}"
                            yield self._isolated(
                                partial(self._record_from_dict, path, fallback, row, data), path, fallback, row
                            )
                            row += 1
                except errors as e:
                    logger.error(
                        f"{path}: row group {group} unreadable from row {row} ({e}); rows {row}-{end - 1} excluded"
                    )
                for lost in range(row, end):
                    yield self._reject(path, f"{path}:{lost}", lost, "corrupt_parquet")
                start = end


class DropRejected(BaseFilter):
    """Sends the records the reader could not turn into documents to the exclusion writer."""

    name = "🚮 Drop rejected records"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        reason = doc.metadata.get("filter_reason")
        return (False, reason) if reason else True
