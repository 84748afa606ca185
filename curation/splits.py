"""Splitting one large input file into parts that tasks read in parallel.

A part is an entry of the reader's input list: a plain path (the whole file), or

    {"path": P, "bytes": [START, END], "line": N}       uncompressed JSONL: the lines starting in [START, END),
                                                         the first of them line N of the file
    {"path": P, "row_groups": [G0, G1], "row": R}       Parquet: row groups G0..G1-1, the first row row R
    {"path": P, "bytes": [START, END]}                   gzip-per-record WARC: the records starting in [START, END)

Boundaries fall on line starts (a JSONL part never cuts a record) and row-group edges, and every part knows the
line or row it starts at, so the records' positions, ids and order are those of reading the file whole: the
output of a split run equals that of the one-task run. A `.warc.gz` whose records are gzip members each (as
crawlers write them) is cut at the first member holding a WARC record at or after each multiple of the split
size; a record's position is its byte offset either way. Other compressed files are read whole (a gzip or zstd
stream cannot be entered in the middle); so are plain WARC files (a `WARC/1.0` line inside a payload could pass
for a record start) and files no larger than the split size.
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

from common.compression import MAGIC_BYTES, magic_compression
from curation.warc import GZIP_MAGIC, next_record_start

SPLITTABLE_JSONL = (".jsonl", ".ndjson")
SPLITTABLE_WARC = (".warc.gz",)
MIN_PART_BYTES = 1 << 20  # the smallest part made to give every task (or worker) one
_BLOCK = 8 << 20

Part = str | dict[str, Any]


def part_path(part: Part) -> str:
    """The file a part belongs to."""
    return part if isinstance(part, str) else part["path"]


def _jsonl_parts(path: Path, rel: str, size: int, split_bytes: int) -> list[Part]:
    """Cuts at the first line start at or after each multiple of SPLIT_BYTES, counting lines on the way
    (one sequential read of the file, at memory speed)."""
    with open(path, "rb") as f:
        if magic_compression(f.read(MAGIC_BYTES)):  # a compressed stream cannot be entered in the middle
            return [rel]
        f.seek(0)
        cuts, lines, offset = [(0, 1)], 0, 0
        target = split_bytes
        while block := f.read(_BLOCK):
            while target < offset + len(block):
                newline = block.find(b"\n", max(target - offset - 1, 0))
                if newline < 0:
                    break  # the line goes on in the next block
                cut = offset + newline + 1
                if cut < size:
                    cuts.append((cut, lines + block.count(b"\n", 0, newline + 1) + 1))
                target = max(target + split_bytes, cut + 1)
            lines += block.count(b"\n")
            offset += len(block)
    ends = [start for start, _ in cuts[1:]] + [size]
    return [{"path": rel, "bytes": [start, end], "line": line} for (start, line), end in zip(cuts, ends, strict=True)]


def _warc_parts(path: Path, rel: str, size: int, split_bytes: int) -> list[Part]:
    """Cuts at the first gzip member holding a WARC record at or after each multiple of SPLIT_BYTES (a whole-file
    gzip stream has none after its start: read whole)."""
    with open(path, "rb") as f:
        if f.read(len(GZIP_MAGIC)) != GZIP_MAGIC:
            return [rel]
        cuts, target = [0], split_bytes
        while target < size and (cut := next_record_start(f, target, members_only=True)) is not None:
            cuts.append(cut)
            target = cut + split_bytes
    if len(cuts) == 1:
        return [rel]
    return [{"path": rel, "bytes": [start, end]} for start, end in zip(cuts, [*cuts[1:], size], strict=True)]


def _parquet_parts(path: Path, rel: str, split_bytes: int) -> list[Part]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except (pa.ArrowException, OSError):
        return [rel]  # unreadable: the reader reports it, whole
    parts, first, row, size, rows = [], 0, 0, 0, 0
    for group in range(meta.num_row_groups):
        rg = meta.row_group(group)
        if size and size + rg.total_byte_size > split_bytes:
            parts.append({"path": rel, "row_groups": [first, group], "row": row})
            first, row, size = group, rows, 0
        size += rg.total_byte_size
        rows += rg.num_rows
    parts.append({"path": rel, "row_groups": [first, meta.num_row_groups], "row": row})
    return parts if len(parts) > 1 else [rel]


def split_inputs(root: Path, rel_paths: list[str], split_bytes: int, min_parts: int = 1) -> list[Part]:
    """The parts of the local files ROOT/REL_PATHS, in order: a file larger than SPLIT_BYTES (uncompressed JSONL,
    gzip-per-record WARC, or Parquet with several row groups) becomes several parts; 0 disables splitting.
    Fewer parts than MIN_PARTS (the tasks or workers asked for): the files are cut smaller, to about 1/MIN_PARTS
    of their total size each (at least MIN_PART_BYTES), so that each task has a part to read where they allow."""
    parts = _split(root, rel_paths, split_bytes)
    if split_bytes > 0 and len(parts) < min_parts:
        total = sum((root / rel).stat().st_size for rel in rel_paths)
        smaller = max(-(-total // min_parts), MIN_PART_BYTES)
        if smaller < split_bytes:
            parts = _split(root, rel_paths, smaller)
    return parts


def _split(root: Path, rel_paths: list[str], split_bytes: int) -> list[Part]:
    parts: list[Part] = []
    for rel in rel_paths:
        path = root / rel
        size = path.stat().st_size
        if split_bytes <= 0 or size <= split_bytes:
            parts.append(rel)
        elif rel.lower().endswith(SPLITTABLE_JSONL):
            parts += _jsonl_parts(path, rel, size, split_bytes)
        elif rel.lower().endswith(".parquet"):
            parts += _parquet_parts(path, rel, split_bytes)
        elif rel.lower().endswith(SPLITTABLE_WARC):
            parts += _warc_parts(path, rel, size, split_bytes)
        else:
            parts.append(rel)
    return parts


class InputOrder:
    """Exact dedup's document priority: earlier parts of the input first, so that of exact copies the one first
    in input order is kept, however the input is split into tasks (datatrove keeps the highest priority, then the
    lowest index within a task; priorities are 16-bit, so parts beyond the 65,534th share the lowest)."""

    def __init__(self, parts: list[Part]):
        self.starts: dict[str, list[tuple[int, int]]] = {}
        for k, part in enumerate(parts):
            start = 0 if isinstance(part, str) else part.get("line", part.get("row", part.get("bytes", [0])[0]))
            self.starts.setdefault(part_path(part), []).append((start, k))

    def __call__(self, doc) -> int:
        starts = self.starts.get(doc.metadata.get("source"), [(0, 65534)])
        position = doc.metadata.get("position") or 0
        k = starts[max(bisect.bisect_right(starts, (position, float("inf"))) - 1, 0)][1]
        return 65535 - min(k, 65534)
