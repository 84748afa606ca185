"""The perplexity scorer as a datatrove pipeline step.

``PerplexityScorer`` is a ``BaseFilter``: a document it can score is kept with ``doc.metadata["perplexity"]``
(and ``perplexity_tokens``, the token weight used for percentile cut-offs); a document it cannot score is
dropped with a named reason — ``perplexity:empty``, ``perplexity:no_pieces``, ``perplexity:too_long`` — which
datatrove counts (``dropped_perplexity:empty``) and hands to the exclusion writer, if one is given.

    pipeline = [
        ParquetReader("RUN/curated"),
        PerplexityScorer(lm_dir, exclusion_writer=ParquetWriter("RUN/excluded", "ppl-${rank}.parquet")),
        ParquetWriter("RUN/scored"),
    ]
"""

from __future__ import annotations

from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from difficulty.scorer import DEFAULT_MAX_CHARS, DocumentScorer, KenLMScorer, UnscorableDocument

__all__ = ["DROP_PREFIX", "PerplexityScorer", "drop_reason"]

DROP_PREFIX = "perplexity"


def drop_reason(err: UnscorableDocument) -> str:
    """The ``filter_reason`` recorded for a document that could not be scored, e.g. ``perplexity:empty``."""
    return f"{DROP_PREFIX}:{err.reason}"


class PerplexityScorer(BaseFilter):
    """Annotate each document with its reference-LM perplexity; drop (with a reason) what cannot be scored.

    Args:
        lm_dir: reference-LM directory (ours or CCNet's layout); ``None`` = the default HTB model, built once.
        scorer: any ``DocumentScorer`` instead of a KenLM model in ``lm_dir``.
        max_chars: longer documents are dropped as ``perplexity:too_long``.
        exclusion_writer: where dropped documents go (their ``metadata["filter_reason"]`` says why).
    """

    name = "📉 Reference-LM perplexity"
    _requires_dependencies = ["sentencepiece"]

    def __init__(
        self,
        lm_dir: Path | str | None = None,
        *,
        scorer: DocumentScorer | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        exclusion_writer: DiskWriter | None = None,
    ) -> None:
        super().__init__(exclusion_writer=exclusion_writer)
        if scorer is None:
            if lm_dir is None:
                from difficulty.lm import default_reference_lm

                lm_dir = default_reference_lm()
            scorer = KenLMScorer(lm_dir, max_chars=max_chars)
        self.scorer = scorer

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        try:
            score = self.scorer.score(doc.text)
        except UnscorableDocument as err:
            return False, drop_reason(err)
        doc.metadata["perplexity"] = score.perplexity
        doc.metadata["perplexity_tokens"] = score.tokens
        self.stat_update("perplexity_tokens", value=score.tokens, unit="doc")
        return True
