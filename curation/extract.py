"""Main-text extraction from HTML: Resiliparse by default, or trafilatura through datatrove's sandboxed extractor.

Resiliparse (C++, linear-time parser) runs in the worker process itself; trafilatura runs in datatrove's
sandbox process with a per-page time limit (a page is pickled across a pipe each way). Pages whose extraction
fails or comes back empty go to the exclusion writer with a reason (`extraction:empty`, `extraction:timeout`,
`extraction:error`) instead of vanishing. Documents that are already plain text (JSONL, Parquet, WET) pass
through untouched.
"""

from __future__ import annotations

import contextlib
import re
from html import unescape

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.extractors.base import ExtractorSandbox
from datatrove.pipeline.extractors.trafilatura import Trafilatura
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.typeshelper import StatHints
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from curation.config import ExtractConfig
from curation.readers import EXCERPT_CHARS


class HtmlExtractor(Trafilatura):
    """The config's extractor with counted failures: `resiliparse_text`, or trafilatura `extract` (precision
    mode, no comments, no tables' markup) with the config's time limit."""

    name = "⛏ HTML extraction"

    def __init__(self, config: ExtractConfig | None = None, *, exclusion_writer: DiskWriter | None = None):
        config = config or ExtractConfig()
        super().__init__(favour_precision=config.favour_precision, timeout=config.timeout_s, deduplicate=True)
        self.extractor = config.extractor
        self.exclusion_writer = exclusion_writer

    def _sandbox(self):
        if self.extractor == "resiliparse":
            return contextlib.nullcontext()
        return ExtractorSandbox(timeout=self.timeout, warmup_text="")

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        writer_ctx = self.exclusion_writer if self.exclusion_writer else contextlib.nullcontext()
        with writer_ctx as writer, self._sandbox() as sandbox:
            for doc in data:
                if doc.metadata.get("format") != "html":
                    yield doc
                    continue
                self.stat_update(StatHints.total)
                reason = None
                with self.track_time():
                    try:
                        if sandbox is None:
                            text = resiliparse_text(doc.text)
                        else:
                            text = sandbox.process_document(doc.text, self.extract) or ""
                    except TimeoutError:
                        reason, text = "timeout", ""
                    except EOFError:
                        reason, text = "crashed", ""
                    except Exception:  # noqa: BLE001 - the extractors raise many types on broken HTML
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


_SEPARATORS = r"(?:[^\w<&]|&\w+;|&#\d+;)*"
_LINK_ONLY = re.compile(rf"{_SEPARATORS}(?:<a\b[^>]*>[^<]*</a>{_SEPARATORS})+")
_TAG = re.compile(r"<[^>]*>")
_HEADING = re.compile(r"\s*<h[1-6]>")
_TERMINAL = frozenset(".!?:;\"'׃")
SHORT_LINE_WORDS = 4


def _kept(line: str) -> bool:
    """A line of the marked-up extract that is text: not only links, and not a short label (`פרסומת`, a date,
    `תגובות (57)`, a list's heading) unless it is a heading or ends a sentence."""
    if _LINK_ONLY.fullmatch(line):
        return False
    if _HEADING.match(line):
        return True
    text = _TAG.sub("", line).strip()
    return bool(text) and (len(text.split()) >= SHORT_LINE_WORDS or text[-1] in _TERMINAL)


def resiliparse_text(html: str) -> str:
    """Resiliparse's main-content extraction, without the lines made only of links (menus, "most read" lists,
    breadcrumbs, which it keeps in table layouts) or short labels: extracted as minimal HTML with links, those
    lines dropped (`_kept`), then the markup removed. No alt texts, no bullets."""
    marked = extract_plain_text(
        HTMLTree.parse(html),
        main_content=True,
        preserve_formatting="minimal_html",
        alt_texts=False,
        links=True,
        list_bullets=False,
        comments=False,
    )
    lines = (line for line in marked.replace("<br>", "\n").split("\n") if _kept(line))
    return unescape("\n".join(_TAG.sub("", line).strip() for line in lines))
