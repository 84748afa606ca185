"""``DecontFilter``: datatrove's ``NGramsDecontFilter`` with the Hebrew-aware index (``curation.decont.index``).

A document holding any n-gram of an indexed task is dropped with ``filter_reason`` ``decontamination:<task>``
(the first task in name order when it overlaps several) and the n-gram, in canonical words, as
``metadata["contaminated_ngram"]`` (the ``matched_ngram`` column of ``excluded``). The index is loaded once per
task of the executor, from index folders or benchmark files (``open_indexes``), so the same step runs on the
Local, Ray and Slurm executors.
"""

from __future__ import annotations

from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.decont import NGramsDecontFilter
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from curation.decont.canon import CanonicalTokenizer
from curation.decont.index import DecontIndex, decont_config, open_indexes

REASON = "decontamination"


class DecontFilter(NGramsDecontFilter):
    name = "💥 N-grams decontaminate (Hebrew)"

    def __init__(self, specs: list[str | Path], exclusion_writer: DiskWriter | None = None):
        BaseFilter.__init__(self, exclusion_writer)
        self.specs = [str(s) for s in specs]
        self.config = decont_config()
        self.tokenizer = CanonicalTokenizer()
        self._index: DecontIndex | None = None

    def load_index_hashes(self) -> None:
        self._index = open_indexes(self.specs)
        self.stat_update("index_ngrams", value=len(self._index))

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._index is None:
            self.load_index_hashes()
        found = self._index.matches(doc.text)
        if not found:
            return True
        task = min(found)
        doc.metadata["contaminated_ngram"] = found[task]
        doc.metadata["contaminated_task"] = task
        self.stat_update(f"contaminated_{task}")
        return False, f"{REASON}:{task}"
