"""English anchor text: the files ``--anchor`` names, read in batches, with errors that name the file.

An ANCHOR is a ``.jsonl``, ``.jsonl.gz`` or ``.parquet`` file, or a folder searched recursively for them.
Every record needs a ``text`` field (a string); records whose text is null, empty or only whitespace are
skipped. Each record keeps its position in its file (``record``), which makes anchor ids stable:
``anchor:<source>:<record>`` where ``source`` is the file name without its suffixes (made unique).

``write_sample_anchors(out)`` writes an English anchor set from text every Python installs: the standard
library's ``pydoc_data.topics`` (the language reference behind ``help()``), ~65k words in paragraph documents.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from common.errors import HebatronError
from common.files import InputError, expand_files, expand_urls, is_url, write_bytes_atomic
from common.layout import BATCH_ROWS
from common.records import RecordError, iter_text_batches

__all__ = [
    "ANCHOR_SUFFIXES",
    "AnchorError",
    "AnchorFile",
    "discover_anchors",
    "iter_anchor_batches",
    "write_sample_anchors",
]

ANCHOR_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet")


class AnchorError(HebatronError, ValueError):
    """An anchor file that is missing, empty, unreadable or without text: the message names it."""


@dataclass(frozen=True, slots=True)
class AnchorFile:
    path: Path | str
    """A local path, or an fsspec URL (``s3://...``)."""
    source: str
    """Short unique name used in anchor ids."""
    format: Literal["jsonl", "parquet"]


def _suffix(name: str) -> str | None:
    return next((s for s in ANCHOR_SUFFIXES if name.lower().endswith(s)), None)


def _expand(paths: list[Path | str]) -> list[tuple[Path | str, int]]:
    """``(file, size in bytes)`` of each anchor file PATHS name, local or at an fsspec URL, in order."""
    out: list[tuple[Path | str, int]] = []
    for path in paths:
        if is_url(path):
            fs, objects = expand_urls([path], ANCHOR_SUFFIXES, what="anchor file")
            out += [(fs.unstrip_protocol(p), info.get("size") or 0) for p, info in objects.items()]
        else:
            found = expand_files([path], ANCHOR_SUFFIXES, what="anchor file", empty_folder="anchor folder")
            out += [(p, p.stat().st_size) for p in found]
    return out


def discover_anchors(paths: list[Path | str]) -> list[AnchorFile]:
    """The anchor files named or found in the folders named, in a stable order (as given; folders sorted)."""
    if not paths:
        raise AnchorError(
            f"no anchor files given: pass --anchor FILE_OR_FOLDER ({', '.join(ANCHOR_SUFFIXES)} with a 'text' field)"
        )
    try:
        files = _expand(paths)
    except InputError as e:
        raise AnchorError(str(e)) from None
    out: list[AnchorFile] = []
    seen_paths: set[Path | str] = set()
    used: set[str] = set()
    for path, size in files:
        key = path if is_url(path) else path.resolve()
        if key in seen_paths:
            continue
        seen_paths.add(key)
        name = Path(path).name
        suffix = _suffix(name)
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", name[: -len(suffix)]) or "anchor"
        source, n = base, 1
        while source in used:
            n += 1
            source = f"{base}-{n}"
        used.add(source)
        if size == 0:
            raise AnchorError(f"{path}: anchor file is empty")
        out.append(AnchorFile(path, source, "parquet" if suffix == ".parquet" else "jsonl"))
    return out


def iter_anchor_batches(anchor: AnchorFile, batch_rows: int = BATCH_ROWS) -> Iterator[tuple[list[int], list[str]]]:
    """``(record numbers, texts)`` batches of the file's usable records; raises ``AnchorError`` naming the
    file (and line) for a malformed file, and for one without any usable text."""
    any_text = False
    try:
        for records, texts in iter_text_batches(
            anchor.path, batch_rows=batch_rows, what="anchor file", allow_empty=False
        ):
            any_text = True
            yield records, texts
    except RecordError as e:
        raise AnchorError(str(e)) from None
    if not any_text:
        raise AnchorError(f"{anchor.path}: anchor file holds no text (every 'text' is null or blank)")


def sample_anchor_documents(min_words: int = 80) -> list[dict]:
    """``pydoc_data.topics`` as documents: each topic's paragraphs, joined until a document has at least
    ``min_words`` words (a topic's last document may be shorter)."""
    from pydoc_data.topics import topics

    docs = []
    for topic in sorted(topics):
        paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", topics[topic]) if p.strip()]
        current: list[str] = []
        for paragraph in paragraphs:
            current.append(paragraph)
            if sum(len(p.split()) for p in current) >= min_words:
                docs.append({"id": f"pydoc:{topic}:{len(docs)}", "topic": topic, "text": "\n\n".join(current)})
                current = []
        if current:
            docs.append({"id": f"pydoc:{topic}:{len(docs)}", "topic": topic, "text": "\n\n".join(current)})
    return docs


def write_sample_anchors(out_path: Path) -> Path:
    """Write the ``pydoc_data.topics`` anchor set as JSONL (gzipped when ``out_path`` ends in ``.gz``),
    atomically; returns ``out_path``. Same Python version, same bytes."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(d, ensure_ascii=False, sort_keys=True) + "\n" for d in sample_anchor_documents())
    data = lines.encode("utf-8")
    if out_path.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    write_bytes_atomic(out_path, data)
    return out_path
