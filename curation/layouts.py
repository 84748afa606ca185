"""Where the text, id, URL and metadata of a JSONL, Parquet or Arrow record are, for the layouts corpora ship in.

A layout is chosen per file, from the first record's keys (JSONL) or the schema (Parquet, Arrow): the first
entry of `LAYOUTS` whose `requires` keys are all there, else `GENERIC`. Each field is a list of dotted paths
into the record, tried in order (`warc_headers.warc-target-uri`); a key that itself holds a dot is found too.
The reader's explicit `text_key`, `id_key` and `url_key` replace the layout's paths for those fields.

The metadata kept become the nullable columns `date`, `dump` (the upstream crawl or collection),
`source_language_score` and `source_cluster_size` of `curated` and `excluded`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from loguru import logger

#: the metadata columns a layout may fill, in `curated` order
METADATA_FIELDS = ("date", "dump", "source_language_score", "source_cluster_size")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Layout:
    name: str
    """What the layout is called in log lines."""
    requires: frozenset[str]
    """Top-level keys (columns) that identify it."""
    paths: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """text, id, url and metadata field -> dotted paths to try, in order."""


GENERIC = Layout("generic", frozenset(), {"text": ("text",), "id": ("id",), "url": ("url",)})

LAYOUTS: tuple[Layout, ...] = (
    Layout(
        "oscar",
        frozenset({"content", "warc_headers"}),
        {
            "text": ("content",),
            "id": ("warc_headers.warc-record-id",),
            "url": ("warc_headers.warc-target-uri",),
            "date": ("warc_headers.warc-date",),
            "source_language_score": ("metadata.identification.prob",),
        },
    ),
    Layout(
        "hplt",
        frozenset({"text", "u"}),
        {
            "text": ("text",),
            "id": ("id",),
            "url": ("u",),
            "date": ("ts",),
            "dump": ("collection", "c"),
        },
    ),
    Layout(  # FineWeb and FineWeb-2 (FineWeb-2 adds `language` and `minhash_cluster_size`)
        "fineweb",
        frozenset({"text", "id", "url", "dump"}),
        {
            "text": ("text",),
            "id": ("id",),
            "url": ("url",),
            "date": ("date",),
            "dump": ("dump",),
            "source_language_score": ("language_score",),
            "source_cluster_size": ("minhash_cluster_size",),
        },
    ),
    Layout(
        "culturax",
        frozenset({"text", "url", "timestamp", "source"}),
        {"text": ("text",), "url": ("url",), "date": ("timestamp",), "dump": ("source",)},
    ),
    Layout(
        "dolma",
        frozenset({"id", "text", "source"}),
        {
            "text": ("text",),
            "id": ("id",),
            "url": ("metadata.url", "url"),
            "date": ("created", "added"),
            "dump": ("source",),
        },
    ),
)


def lookup(record: Mapping, path: str):
    """The value at dotted PATH in RECORD (`a.b.c`, where any run of parts may be one key), or `_MISSING`."""
    if path in record:
        return record[path]
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        node = record.get(".".join(parts[:i]))
        if isinstance(node, Mapping):
            value = lookup(node, ".".join(parts[i:]))
            if value is not _MISSING:
                return value
    return _MISSING


def detect(keys: Iterable[str]) -> Layout:
    present = set(keys)
    return next((layout for layout in LAYOUTS if layout.requires <= present), GENERIC)


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _float(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value) -> int | None:
    number = _float(value)
    return int(number) if number is not None and number.is_integer() else None


_CONVERT = {"date": _text, "dump": _text, "source_language_score": _float, "source_cluster_size": _int}


class FileFields:
    """The fields of one file's records: its layout's paths, with the explicit keys first."""

    def __init__(
        self,
        path: str,
        keys: Iterable[str],
        *,
        text_key: str | None = None,
        id_key: str | None = None,
        url_key: str | None = None,
    ):
        self.path = path
        self.keys = list(keys)
        self.layout = detect(self.keys)
        self.explicit = {"text": text_key, "id": id_key, "url": url_key}
        self.paths = {
            name: (explicit,) if explicit else self.layout.paths.get(name, ())
            for name, explicit in (*self.explicit.items(), *((m, None) for m in METADATA_FIELDS))
        }
        self.reported = False
        if self.layout is not GENERIC:
            logger.debug(f"{path}: {self.layout.name} layout")

    def columns(self) -> list[str]:
        """The top-level keys among `keys` that some path reads (a Parquet file's columns to load)."""
        paths = [p for options in self.paths.values() for p in options]
        return [k for k in self.keys if any(p == k or p.startswith(f"{k}.") for p in paths)]

    def get(self, record: Mapping, name: str):
        for path in self.paths[name]:
            value = lookup(record, path)
            if value is not _MISSING:
                return value
        return _MISSING

    def text(self, record: Mapping) -> str | None:
        """The record's text (None when it is missing or not a string); logs once per file when it is missing."""
        value = self.get(record, "text")
        if value is _MISSING:
            self.report_missing_text(record.keys())
            return None
        return value if isinstance(value, str) else None

    def report_missing_text(self, fields: Iterable[str]) -> None:
        if self.reported:
            return
        self.reported = True
        wanted = " or ".join(repr(p) for p in self.paths["text"]) or "'text'"
        names = ", ".join(fields) or "none"
        logger.error(f"{self.path}: no text field {wanted} (fields: {names}); pass --text-key")

    def scalar(self, record: Mapping, name: str) -> str | None:
        """The record's id or URL as a string; None when missing or empty."""
        value = self.get(record, name)
        return None if value is _MISSING or value is None or value == "" else str(value)

    def metadata(self, record: Mapping) -> dict:
        """The metadata columns the record has a value for, converted to their column types."""
        out = {}
        for name in METADATA_FIELDS:
            value = self.get(record, name)
            if value is not _MISSING and (converted := _CONVERT[name](value)) is not None:
                out[name] = converted
        return out
