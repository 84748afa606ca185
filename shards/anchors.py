"""English anchor text: the files ``--anchor`` names, read in batches, with errors that name the file.

An ANCHOR is a ``.jsonl``, ``.jsonl.gz`` or ``.parquet`` file, or a folder searched recursively for them.
Every record needs a ``text`` field (a string); records whose text is null, empty or only whitespace are
skipped. Each record keeps its position in its file (``record``), which makes anchor ids stable:
``anchor:<source>:<record>`` where ``source`` is the file name without its suffixes (made unique).

``check_anchors(anchors, hebrew_texts)`` reads every anchor file once and decides which documents stay out of
the pool, each with a counted reason: ``hebrew_duplicate`` (the same text as a curated Hebrew document, compared
after whitespace normalisation, so no document is both an anchor and a Hebrew row) and ``language:<label>``
(fastText lid.176, the model curation uses, does not rank English first). A file in which more than half of the
documents are not English is refused (``AnchorError``): it is not an English anchor file.

``write_sample_anchors(out)`` writes an English anchor set from text every Python installs: the standard
library's ``pydoc_data.topics`` (the language reference behind ``help()``), ~65k words in paragraph documents.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from common.errors import HebatronError
from common.files import InputError, expand_files, expand_urls, is_url, write_bytes_atomic
from common.layout import BATCH_ROWS
from common.records import RecordError, iter_text_batches

__all__ = [
    "ANCHOR_SUFFIXES",
    "AnchorError",
    "AnchorFile",
    "check_anchors",
    "discover_anchors",
    "iter_anchor_batches",
    "language_model",
    "write_sample_anchors",
]

ANCHOR_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet")
MAX_NOT_ENGLISH = 0.5
"""A file in which more than this share of the documents is not English is refused, not filtered."""


class AnchorError(HebatronError, ValueError):
    """An anchor file that is missing, empty, unreadable or without text: the message names it."""


@dataclass(frozen=True, slots=True)
class AnchorFile:
    path: Path | str
    """A local path, or an fsspec URL (``s3://...``)."""
    source: str
    """Short unique name used in anchor ids."""
    format: Literal["jsonl", "parquet"]
    excluded: frozenset[int] = field(default=frozenset(), compare=False)
    """Record numbers kept out of the pool (``check_anchors``)."""


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
            if anchor.excluded:
                kept = [j for j, r in enumerate(records) if r not in anchor.excluded]
                if not kept:
                    continue
                records, texts = [records[j] for j in kept], [texts[j] for j in kept]
            yield records, texts
    except RecordError as e:
        raise AnchorError(str(e)) from None
    if not any_text:
        raise AnchorError(f"{anchor.path}: anchor file holds no text (every 'text' is null or blank)")


def text_digest(text: str) -> int:
    """A 64-bit hash of ``text`` with its whitespace normalised (runs collapsed to one space, ends stripped)."""
    data = " ".join(text.split()).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def _digests(texts: Iterable[str]) -> np.ndarray:
    return np.fromiter((text_digest(t) for t in texts), dtype=np.uint64)


def language_model() -> Path:
    """The lid.176 model curation uses (``$HEBATRON_LID_MODEL`` or the virtualenv's copy)."""
    from curation.language import lid_model_path

    try:
        return lid_model_path()
    except FileNotFoundError as e:
        raise AnchorError(f"cannot check the anchor files' language: {e}") from None


def _english_predictor() -> Callable[[str], str]:
    """``label(text)``: lid.176's first label for ``text`` (``unscorable`` for text fastText cannot take)."""
    from datatrove.data import Document

    from curation.language import LocalFT176, scorable

    predictor = LocalFT176(language_model(), k=1)

    def label(text: str) -> str:
        if not scorable(text):
            return "unscorable"
        (lang, _), _ = predictor.predict(Document(text=text, id=""))
        return lang

    return label


def check_anchors(
    anchors: list[AnchorFile], hebrew_texts: Iterable[list[str]], advance: Callable[[int], None] | None = None
) -> tuple[list[AnchorFile], dict[str, int]]:
    """The anchor files with the documents that must stay out of the pool marked (``AnchorFile.excluded``), and
    the count per reason. ``hebrew_texts``: batches of the curated Hebrew texts (read only when an anchor file
    passed the language check). Raises ``AnchorError`` for a file that is mostly not English, and for the
    errors ``iter_anchor_batches`` raises."""
    label = _english_predictor()
    reasons: list[dict[int, str]] = []
    records: list[np.ndarray] = []
    digests: list[np.ndarray] = []
    for anchor in anchors:
        found: dict[int, str] = {}
        seen, file_records, file_digests = 0, [], []
        for batch_records, texts in iter_anchor_batches(anchor):
            seen += len(texts)
            for record, text in zip(batch_records, texts, strict=True):
                if (lang := label(text)) != "en":
                    found[record] = f"language:{lang}"
            file_records.append(np.asarray(batch_records, dtype=np.int64))
            file_digests.append(_digests(texts))
        if len(found) > MAX_NOT_ENGLISH * seen:
            top = ", ".join(f"{k.split(':', 1)[1]}: {n}" for k, n in Counter(found.values()).most_common(3))
            raise AnchorError(
                f"{anchor.path}: {len(found)} of {seen} anchor documents are not English ({top}); anchors must be "
                "English text (a Hebrew corpus is an input of `hebatron curate`, not an anchor)"
            )
        reasons.append(found)
        records.append(np.concatenate(file_records))
        digests.append(np.concatenate(file_digests))
        if advance is not None:
            advance(1)
    pool = np.unique(np.concatenate(digests)) if digests else np.zeros(0, np.uint64)
    shared: set[int] = set()
    for texts in hebrew_texts:
        batch = _digests(t for t in texts if t)
        shared.update(batch[np.isin(batch, pool)].tolist())
    out: list[AnchorFile] = []
    counts: Counter[str] = Counter()
    for anchor, found, file_records, file_digests in zip(anchors, reasons, records, digests, strict=True):
        if shared:
            dup = np.isin(file_digests, np.fromiter(shared, dtype=np.uint64))
            found.update(dict.fromkeys(file_records[dup].tolist(), "hebrew_duplicate"))
        counts.update(found.values())
        out.append(replace(anchor, excluded=frozenset(found)))
    return out, dict(sorted(counts.items()))


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
