"""Main-text extraction from HTML with trafilatura, through datatrove's sandboxed extractor.

datatrove's extractors drop a page silently when extraction fails or comes back empty; this step sends
such pages to the exclusion writer with a reason (`extraction:empty`, `extraction:timeout`,
`extraction:error`). Documents that are already plain text (JSONL, Parquet, WET) pass through untouched.
"""

from __future__ import annotations

import contextlib

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.extractors.base import ExtractorSandbox
from datatrove.pipeline.extractors.trafilatura import Trafilatura
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.typeshelper import StatHints

from curation.config import ExtractConfig
from curation.readers import EXCERPT_CHARS


class HtmlExtractor(Trafilatura):
    """trafilatura `extract` (precision mode, no comments, no tables' markup) with counted failures; the time
    limit and the precision mode come from the config."""

    name = "⛏ HTML extraction"

    def __init__(self, config: ExtractConfig | None = None, *, exclusion_writer: DiskWriter | None = None):
        config = config or ExtractConfig()
        super().__init__(favour_precision=config.favour_precision, timeout=config.timeout_s, deduplicate=True)
        self.exclusion_writer = exclusion_writer

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        writer_ctx = self.exclusion_writer if self.exclusion_writer else contextlib.nullcontext()
        with writer_ctx as writer, ExtractorSandbox(timeout=self.timeout, warmup_text="") as sandbox:
            for doc in data:
                if doc.metadata.get("format") != "html":
                    yield doc
                    continue
                self.stat_update(StatHints.total)
                reason = None
                with self.track_time():
                    try:
                        text = sandbox.process_document(doc.text, self.extract) or ""
                    except TimeoutError:
                        reason, text = "timeout", ""
                    except EOFError:
                        reason, text = "crashed", ""
                    except Exception:  # noqa: BLE001 - trafilatura raises many types on broken HTML
                        reason, text = "error", ""
                if reason is None and not text.strip():
                    reason = "empty"
                if reason is None:
                    doc.text = text
                    doc.metadata["format"] = "text"
                    self.stat_update(StatHints.forwarded)
                    self.update_doc_stats(doc)
                    yield doc
                    continue
                self.stat_update(StatHints.dropped, f"dropped_{reason}")
                if writer:
                    doc.text = doc.text[:EXCERPT_CHARS]  # the page's HTML, to see why
                    doc.metadata["filter_reason"] = f"extraction:{reason}"
                    writer.write(doc, rank)
