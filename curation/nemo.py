"""NeMo-Curator heuristic filters, run as datatrove steps.

NeMo-Curator's filters are plain objects with `score_document(text)` and `keep_document(score)`; its own
executors start Ray for every run and its dedup needs a GPU, so only the filters are used, through
`NemoFilter`, their modules imported without the package's Ray and pandas (`curation.nemo_modules`). Its
`NonAlphaNumericFilter` counts only ASCII letters as alphanumeric and drops every
Hebrew document; `HebrewNonAlphaNumericFilter` counts letters and marks of any script.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from curation.config import NEMO_FILTERS as NEMO_FILTER_PATHS
from curation.config import check_nemo_arguments, nemo_filter_class
from curation.nemo_modules import import_module

# the modules alone: NeMo-Curator's package initializers import Ray and pandas (see curation/nemo_modules.py)
DocumentFilter = import_module("nemo_curator.stages.text.filters.doc_filter").DocumentFilter
nemo_string = import_module("nemo_curator.stages.text.filters.heuristic.string")

_ALNUM_EXTRA = frozenset("\n?!,.")  # NeMo-Curator's own set: these count as "alphanumeric"


class HebrewNonAlphaNumericFilter(nemo_string.NonAlphaNumericFilter):
    """NeMo-Curator's rule (share of non-alphanumeric characters ≤ cutoff) with Unicode letters."""

    def score_document(self, text: str) -> float:
        if not text:
            return 1.0
        alnum = sum(1 for c in text if c.isalnum() or c in _ALNUM_EXTRA or unicodedata.category(c) == "Mn")
        return (len(text) - alnum) / len(text)


# name in recipes -> filter class (the names and class paths live in curation.config); thresholds are passed
# through as keyword arguments
NEMO_FILTERS: dict[str, type[DocumentFilter]] = {name: nemo_filter_class(name) for name in NEMO_FILTER_PATHS}


def build_nemo_filter(name: str, params: dict[str, Any] | None = None) -> DocumentFilter:
    """The filter `name` with `params` (NeMo-Curator's own defaults where none are given)."""
    params = params or {}
    check_nemo_arguments(name, params)
    return NEMO_FILTERS[name](**params)


class NemoFilter(BaseFilter):
    """Runs the NeMo-Curator `DocumentFilter` NAME with PARAMS (see `build_nemo_filter`); drops as
    `nemo:<filter name>`. Pickled as its name and parameters: unpickling a NeMo-Curator object would import its
    package, and with it Ray and pandas, in every worker."""

    name = "🟩 NeMo-Curator filter"

    def __init__(
        self, nemo_name: str, params: dict[str, Any] | None = None, *, exclusion_writer: DiskWriter | None = None
    ):
        self.nemo_name, self.params = nemo_name, dict(params or {})
        self.nemo_filter = build_nemo_filter(nemo_name, self.params)
        self.name = f"🟩 NeMo {type(self.nemo_filter).__name__}"  # before super().__init__, which names the stats
        super().__init__(exclusion_writer)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "nemo_filter": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.nemo_filter = build_nemo_filter(self.nemo_name, self.params)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if not doc.text.strip():
            return False, "nemo:empty"
        score = self.nemo_filter.score_document(doc.text)
        return True if self.nemo_filter.keep_document(score) else (False, f"nemo:{self.nemo_filter.name}")
