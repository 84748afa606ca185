"""A strict reader of text records: the texts of a JSONL, Parquet or plain-text file, in batches.

For inputs that must be well-formed as a whole (English anchors, a reference-LM corpus): the first bad
record stops the read with a ``RecordError`` naming the file and line. (Crawl input is read by curation's
datatrove reader instead, which counts a bad record under a drop reason and goes on.)

Records whose text is null, empty or blank are skipped but keep their number, so record numbers are stable
positions in the file: the line's index among non-blank lines for JSONL and text, the row for Parquet.
"""

from __future__ import annotations

import io
import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from common.compression import MAGIC_BYTES, SUFFIXES, decompressed, magic_compression
from common.errors import HebatronError
from common.files import is_url, open_url
from common.layout import BATCH_ROWS

_COMPRESSED = tuple(SUFFIXES)
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json") + tuple(b + c for b in (".jsonl", ".json") for c in _COMPRESSED)
PARQUET_SUFFIXES = (".parquet",)
TEXT_SUFFIXES = (".txt", ".text") + tuple(".txt" + c for c in _COMPRESSED)
Batch = tuple[list[int], list[str]]


class RecordError(HebatronError, ValueError):
    """A file or record that cannot be read as text; the message names the file (and line)."""


def text_format(path: Path | str) -> Literal["jsonl", "parquet", "text"]:
    """``parquet`` or ``jsonl`` by suffix; anything else is read as text, one record per line."""
    name = Path(path).name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return "text"


def _open(path: Path | str) -> io.TextIOBase:
    """PATH (a file or an fsspec URL) as text; gzip, zstd, bzip2 and xz recognized by their first bytes. A cut or
    corrupt stream raises where it ends (zstandard's own reader would end a cut frame in silence)."""
    raw = open_url(str(path), "rb") if is_url(path) else open(path, "rb")
    head = raw.read(MAGIC_BYTES)
    raw.seek(0)
    kind = magic_compression(head)
    return io.TextIOWrapper(decompressed(raw, kind) if kind else raw, encoding="utf-8", newline="\n")


def _usable(text: str | None) -> bool:
    return bool(text) and not text.isspace()


def _lines(path: Path, what: str) -> Iterator[tuple[int, str]]:
    try:
        with _open(path) as fh:
            yield from enumerate(fh, 1)
    except UnicodeDecodeError as err:
        raise RecordError(f"{path}: not UTF-8 text ({err})") from None
    except (OSError, EOFError, zlib.error) as err:
        raise RecordError(f"{path}: cannot read {what} ({err})") from None


def _batched(texts: Iterable[str | None], batch_rows: int) -> Iterator[Batch]:
    """Number the records (every one counts), keep the usable ones, cut them into batches."""
    records, batch = [], []
    for record, text in enumerate(texts):
        if _usable(text):
            records.append(record)
            batch.append(text)
            if len(batch) >= batch_rows:
                yield records, batch
                records, batch = [], []
    if batch:
        yield records, batch


def _not_empty(texts: Iterable[str | None], path: Path, what: str, allow_empty: bool) -> Iterator[str | None]:
    seen = False
    for text in texts:
        seen = True
        yield text
    if not seen and not allow_empty:
        raise RecordError(f"{path}: {what} is empty (no records)")


def _jsonl(path: Path, text_key: str, what: str) -> Iterator[str | None]:
    for lineno, line in _lines(path, what):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as err:
            raise RecordError(f"{path}:{lineno}: not a JSON object ({getattr(err, 'msg', err)})") from None
        if not isinstance(obj, dict):
            raise RecordError(f"{path}:{lineno}: expected a JSON object with a '{text_key}' field")
        if text_key not in obj:
            raise RecordError(
                f"{path}:{lineno}: record has no '{text_key}' field (fields: {', '.join(sorted(obj)) or 'none'})"
            )
        text = obj[text_key]
        if text is not None and not isinstance(text, str):
            raise RecordError(f"{path}:{lineno}: '{text_key}' must be a string, got {type(text).__name__}")
        yield text


def _text(path: Path, what: str) -> Iterator[str]:
    for _, line in _lines(path, what):
        if line.strip():
            yield line.rstrip("\n")


def _parquet(path: Path, text_key: str, batch_rows: int, what: str, allow_empty: bool) -> Iterator[str | None]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(open_url(path) if is_url(path) else path)
    except Exception as err:  # pyarrow raises ArrowInvalid / OSError for non-Parquet bytes
        raise RecordError(f"{path}: not a readable Parquet file ({err})") from None
    names = pf.schema_arrow.names
    if text_key not in names:
        raise RecordError(f"{path}: {what} has no '{text_key}' column (columns: {', '.join(names)})")
    if pf.metadata.num_rows == 0 and not allow_empty:
        raise RecordError(f"{path}: {what} is empty (no rows)")
    for batch in pf.iter_batches(batch_size=batch_rows, columns=[text_key]):
        for text in batch.column(0).to_pylist():
            if text is not None and not isinstance(text, str):
                raise RecordError(f"{path}: '{text_key}' column must hold strings, got {type(text).__name__}")
            yield text


def iter_text_batches(
    path: Path | str,
    *,
    text_key: str = "text",
    batch_rows: int = BATCH_ROWS,
    what: str = "file",
    allow_empty: bool = True,
) -> Iterator[Batch]:
    """``(record numbers, texts)`` batches of PATH's usable records (see the module docstring). WHAT names
    the file in messages (``"anchor file"``); without ``allow_empty`` a file with no record is an error.
    PATH may be an fsspec URL (``s3://bucket/key.jsonl.gz``)."""
    path = path if is_url(path) else Path(path)
    fmt = text_format(path)
    if fmt == "parquet":
        texts = _parquet(path, text_key, batch_rows, what, allow_empty)
    else:
        lines = _jsonl(path, text_key, what) if fmt == "jsonl" else _text(path, what)
        texts = _not_empty(lines, path, what, allow_empty)
    yield from _batched(texts, batch_rows)
