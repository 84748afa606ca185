"""The ``sft.data`` recipe section (how pairs become the SFT set) and reading ``RUN/sft/sft.json``.

Pure Python with no stage imports: the trainer reads the set through this module, never through the
builder (``shards.sft_data``), which uses curation's visual-order check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DIRECTIONS", "SftDataConfig", "read_sft_summary"]

DIRECTIONS = ("he2en", "en2he")


@dataclass(kw_only=True, slots=True)
class SftDataConfig:
    """How pairs become prompts and samples (the ``sft.data`` recipe section)."""

    templates: dict[str, str] = field(
        default_factory=lambda: {
            "he2en": "Translate from Hebrew to English.\nHebrew: {he}\nEnglish:",
            "en2he": "Translate from English to Hebrew.\nEnglish: {en}\nHebrew:",
        }
    )
    """The prompt of each direction (he2en fills ``{he}``, en2he ``{en}``); the response follows after a space."""
    eval_pairs: int = 64
    """Pairs held out for evaluation (both directions of each)."""
    min_words: int = 4
    """Catalog entries with fewer English words are labels, not sentences: not read as pairs."""
    near_dup_threshold: float = 0.8
    """Character 5-gram Jaccard (MinHash estimate) at which two pairs are near-duplicates."""
    seed: int = 0
    """Seeds the held-out choice and the packing order."""

    def __post_init__(self) -> None:
        if set(self.templates) != set(DIRECTIONS):
            raise ValueError(f"sft.data.templates must have exactly the keys {', '.join(DIRECTIONS)}")
        for direction, side in (("he2en", "{he}"), ("en2he", "{en}")):
            if side not in self.templates[direction]:
                raise ValueError(f"sft.data.templates.{direction} must contain {side}")
        if self.eval_pairs < 0 or self.min_words < 1:
            raise ValueError("sft.data.eval_pairs must be >= 0 and sft.data.min_words >= 1")
        if not 0.0 < self.near_dup_threshold <= 1.0:
            raise ValueError(f"sft.data.near_dup_threshold must be in (0, 1], got {self.near_dup_threshold}")


def read_sft_summary(run_dir: Path) -> dict | None:
    """``RUN/sft/sft.json``, or None when the run has no (complete) SFT set."""
    try:
        return json.loads((Path(run_dir) / "sft" / "sft.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
